package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// pidFile holds, in the run directory, the PID of the process that owns
// it; ReapStaleRuns leaves a directory alone while that process lives.
const pidFile = "harness.pid"

// cniBinDirs are where distributions put the CNI plugins.
var cniBinDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

// Options says where an Env lives and what it serves.
type Options struct {
	// Base is where the run directory is made: a disk filesystem, because
	// containerd's overlayfs snapshots live there (not overlayfs itself).
	Base string
	// Prefix starts the run directory's name, e.g. "funcd-e2e-". Setup
	// first cleans up base/Prefix* directories whose process is gone.
	Prefix string
	// Images are built and pushed to the registry by Setup.
	Images []Image
	// Log gets a line for each earlier run cleaned up; nil discards them.
	Log io.Writer
}

// Env is a run directory with a private containerd and registry in it, and
// the funcd processes started in it.
type Env struct {
	Dir        string // the run directory, removed by Close
	ModRoot    string // root of this module, where images and funcd are built from
	Containerd *Containerd
	Registry   *Registry

	opts   Options
	mu     sync.Mutex // held by Setup and Close, so Close waits for Setup
	closed bool

	funcdOnce sync.Once
	funcdBin  string
	funcdErr  error

	fmu    sync.Mutex
	nfuncd int      // funcds started or tried, for their directories' names
	funcds []*Funcd // every funcd started, killed by Close
}

// New returns an Env that Setup will create. It does no I/O.
func New(opts Options) *Env {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	return &Env{opts: opts}
}

// Setup cleans up after earlier runs with the same Base and Prefix, makes
// the run directory, records the iptables chains that exist, starts
// containerd and the registry and pushes the images. Cancelling ctx makes it
// return early. Whatever it returns, Close removes what it started.
func (e *Env) Setup(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || e.Dir != "" {
		return errors.New("testenv: Setup after Close or twice")
	}
	if err := checkOverlayCapable(e.opts.Base); err != nil {
		return err
	}
	if err := ReapStaleRuns(ctx, e.opts.Base, e.opts.Prefix, e.opts.Log); err != nil {
		fmt.Fprintf(e.opts.Log, "testenv: cleaning up earlier runs: %v\n", err)
	}
	dir, err := os.MkdirTemp(e.opts.Base, e.opts.Prefix)
	if err != nil {
		return fmt.Errorf("create run dir: %w", err)
	}
	e.Dir = dir
	if err := os.WriteFile(filepath.Join(dir, pidFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	if err := saveChains(ctx, filepath.Join(dir, chainsFile)); err != nil {
		return err
	}
	if e.ModRoot, err = moduleRoot(ctx); err != nil {
		return err
	}
	if e.Containerd, err = StartContainerd(ctx, dir); err != nil {
		return err
	}
	if e.Registry, err = StartRegistry(ctx, dir); err != nil {
		return err
	}
	return e.Registry.Push(ctx, e.ModRoot, e.BinDir(), e.opts.Images...)
}

// BinDir is where the images' binaries and funcd are built.
func (e *Env) BinDir() string { return filepath.Join(e.Dir, "bin") }

// Close kills the funcds still running, deletes everything in containerd,
// stops containerd and the registry, and removes every trace of the run
// (CleanRunDir). It waits for a running Setup to return, runs once, and is
// safe to call from a signal handler's goroutine.
func (e *Env) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errs []error
	e.fmu.Lock()
	for _, f := range e.funcds {
		f.Kill()
	}
	e.fmu.Unlock()
	if e.Containerd != nil {
		if err := e.Containerd.Reset(ctx); err != nil {
			errs = append(errs, fmt.Errorf("reset containerd: %w", err))
		}
		errs = append(errs, e.Containerd.Stop())
	}
	if e.Registry != nil {
		errs = append(errs, e.Registry.Stop())
	}
	if e.Dir != "" {
		errs = append(errs, CleanRunDir(ctx, e.Dir))
	}
	return errors.Join(errs...)
}

// StartFuncd builds funcd the first time, then runs it like StartFuncd
// against this Env's containerd and registry, in the run directory (in
// funcd-N unless o.Dir is set). The network is recorded first so that
// Close or a later run removes it.
func (e *Env) StartFuncd(ctx context.Context, o FuncdOptions) (*Funcd, error) {
	bin, err := e.FuncdBinary(ctx)
	if err != nil {
		return nil, err
	}
	net := Network{o.Bridge, o.Subnet}
	if err := recordNetwork(e.Dir, net); err != nil {
		return nil, err
	}
	e.fmu.Lock()
	e.nfuncd++
	n := e.nfuncd
	e.fmu.Unlock()
	o.Binary, o.Containerd, o.Registry = bin, e.Containerd.Socket, e.Registry.Host
	if o.Dir == "" {
		o.Dir = filepath.Join(e.Dir, "funcd-"+strconv.Itoa(n))
	}
	f, err := StartFuncd(ctx, o)
	if err != nil {
		return nil, errors.Join(err, e.cleanFuncd(ctx, o.Dir, net))
	}
	e.fmu.Lock()
	e.funcds = append(e.funcds, f)
	e.fmu.Unlock()
	return f, nil
}

// FuncdBinary returns the funcd executable, building it the first time.
func (e *Env) FuncdBinary(ctx context.Context) (string, error) {
	e.funcdOnce.Do(func() {
		e.funcdBin = filepath.Join(e.BinDir(), "funcd")
		e.funcdErr = BuildFuncd(ctx, e.ModRoot, e.funcdBin)
	})
	return e.funcdBin, e.funcdErr
}

// CleanFuncd kills f if it still runs, then deletes every container, task
// and image in containerd, unmounts what is mounted under f.Dir, forgets
// its CNI results and removes its bridge and iptables rules: what the next
// funcd on this Env should not see.
func (e *Env) CleanFuncd(ctx context.Context, f *Funcd) error {
	f.Kill()
	return e.cleanFuncd(ctx, f.Dir, Network{f.Bridge, f.Subnet})
}

func (e *Env) cleanFuncd(ctx context.Context, dir string, n Network) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	var errs []error
	if err := e.Containerd.Reset(ctx); err != nil {
		errs = append(errs, fmt.Errorf("clean up containerd: %w", err))
	}
	if err := UnmountUnder(dir); err != nil {
		errs = append(errs, fmt.Errorf("clean up mounts: %w", err))
	}
	RemoveCNICache(dir)
	if err := RemoveNetworks(ctx, []Network{n}); err != nil {
		errs = append(errs, fmt.Errorf("clean up network: %w", err))
	}
	return errors.Join(errs...)
}

// MissingPrerequisite says why an Env cannot run here (not root, a program
// or the CNI plugins missing), or returns "".
func MissingPrerequisite() string {
	if os.Geteuid() != 0 {
		return "needs root"
	}
	for _, bin := range []string{"containerd", "containerd-shim-runc-v2", "runc", "docker-registry", "ip", "iptables", "iptables-save", "go"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Sprintf("needs %s in PATH", bin)
		}
	}
	if cniBinDir() == "" {
		return fmt.Sprintf("needs the CNI plugins bridge, host-local, loopback and firewall in one of %v", cniBinDirs)
	}
	return ""
}

// cniBinDir returns the first directory holding the plugins funcd uses.
func cniBinDir() string {
	for _, d := range cniBinDirs {
		ok := true
		for _, p := range []string{"bridge", "host-local", "loopback", "firewall"} {
			if _, err := os.Stat(filepath.Join(d, p)); err != nil {
				ok = false
			}
		}
		if ok {
			return d
		}
	}
	return ""
}

// moduleRoot returns the directory holding go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("go env GOMOD: not inside the module")
	}
	return filepath.Dir(gomod), nil
}

// checkOverlayCapable rejects a base directory on overlayfs, where
// containerd's overlayfs snapshotter cannot mount.
func checkOverlayCapable(dir string) error {
	const overlayfsMagic = 0x794c7630
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", dir, err)
	}
	if st.Type == overlayfsMagic {
		return fmt.Errorf("%s is on overlayfs, which cannot hold overlayfs snapshots: use a directory on a disk filesystem", dir)
	}
	return nil
}

// CNIBinDir returns the directory holding the CNI plugins funcd uses, or ""
// (MissingPrerequisite reports that case).
func CNIBinDir() string { return cniBinDir() }
