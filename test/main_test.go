package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd"
)

// Names of files in the run directory that a later run needs to clean up
// after this one if it dies.
const (
	runDirPrefix   = "funcd-e2e-"
	pidFile        = "harness.pid"
	networksFile   = "networks"        // "bridge subnet" per line
	chainsFile     = "chains-before"   // "table chain" per line, before the run
	containerdSock = "containerd.sock" // in the run directory
)

// cniBinDirs are where distributions put the CNI plugins.
var cniBinDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

var (
	// skipReason, when set, is why every e2e test skips.
	skipReason string
	// h is the environment TestMain set up.
	h *harness
)

// harness is the environment shared by every test in the package.
type harness struct {
	dir          string // the run directory, removed at teardown
	modRoot      string // module root, for building binaries
	containerd   *daemon
	ctr          *containerd.Client
	registry     *daemon
	registryHost string // 127.0.0.1:PORT

	funcdOnce sync.Once
	funcdBin  string
	funcdErr  error

	mu          sync.Mutex
	funcds      map[*Funcd]bool // started and not yet cleaned up
	usedSubnets map[netip.Prefix]bool

	teardownOnce sync.Once
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if skipReason = missingPrerequisite(); skipReason != "" {
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	base := baseDir()
	if err := reapStaleRuns(ctx, base); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: cleaning up earlier runs: %v\n", err)
	}

	h = &harness{funcds: map[*Funcd]bool{}, usedSubnets: map[netip.Prefix]bool{}}
	defer h.tearDown()
	// A Ctrl-C reaches only this process (the daemons have their own
	// process group): clean up, then exit.
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
	defer func() {
		signal.Stop(sigc)
		close(sigc)
	}()
	go func() {
		if s, ok := <-sigc; ok {
			fmt.Fprintf(os.Stderr, "e2e: %v: cleaning up\n", s)
			h.tearDown()
			os.Exit(130)
		}
	}()

	if err := h.setUp(ctx, base); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: set up: %v\n", err)
		return 1
	}
	return m.Run()
}

// requireE2E skips the test unless TestMain set up the environment.
func requireE2E(t testing.TB) {
	t.Helper()
	if skipReason != "" {
		t.Skip("e2e: " + skipReason)
	}
	if h == nil || h.ctr == nil {
		t.Fatal("e2e: environment not set up")
	}
}

// missingPrerequisite says why e2e tests cannot run here, or "".
func missingPrerequisite() string {
	if testing.Short() {
		return "skipped in -short mode"
	}
	if os.Getenv("FUNCD_E2E") == "0" {
		return "skipped: FUNCD_E2E=0"
	}
	if os.Geteuid() != 0 {
		return "needs root (sudo go test ./test/)"
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

// baseDir is where run directories go: a disk filesystem, because
// containerd's overlayfs snapshots live there.
func baseDir() string {
	if d := os.Getenv("FUNCD_E2E_TMPDIR"); d != "" {
		return d
	}
	return "/var/tmp"
}

func (h *harness) setUp(ctx context.Context, base string) error {
	if err := checkOverlayCapable(base); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(base, runDirPrefix)
	if err != nil {
		return fmt.Errorf("create run dir: %w", err)
	}
	h.dir = dir
	if err := os.WriteFile(filepath.Join(dir, pidFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	if err := saveChains(ctx, filepath.Join(dir, chainsFile)); err != nil {
		return err
	}
	if h.modRoot, err = moduleRoot(ctx); err != nil {
		return err
	}
	if err := h.startContainerd(ctx); err != nil {
		return err
	}
	if err := h.startRegistry(ctx); err != nil {
		return err
	}
	return h.pushImages(ctx)
}

// tearDown removes everything setUp and the tests created. It runs once,
// from TestMain or from the signal handler.
func (h *harness) tearDown() {
	h.teardownOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var errs []error
		h.mu.Lock()
		for f := range h.funcds {
			f.kill()
		}
		h.mu.Unlock()
		if h.ctr != nil {
			if err := resetContainerd(ctx, h.ctr); err != nil {
				errs = append(errs, fmt.Errorf("reset containerd: %w", err))
			}
			h.ctr.Close()
		}
		for _, d := range []*daemon{h.containerd, h.registry} {
			if d != nil {
				if err := d.stop(10 * time.Second); err != nil {
					errs = append(errs, err)
				}
			}
		}
		if h.dir != "" {
			if err := cleanRunDir(ctx, h.dir); err != nil {
				errs = append(errs, err)
			}
		}
		if err := errors.Join(errs...); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: tear down: %v\n", err)
		}
	})
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
		return fmt.Errorf("%s is on overlayfs, which cannot hold overlayfs snapshots: set FUNCD_E2E_TMPDIR to a directory on a disk filesystem", dir)
	}
	return nil
}
