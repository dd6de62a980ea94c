package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/funcd/funcd/internal/client"
	"github.com/funcd/funcd/internal/imagebuild"
)

// funcdStopGrace is how long funcd gets to exit after SIGTERM.
const funcdStopGrace = 10 * time.Second

// BuildFuncd compiles ./cmd/funcd of the module at modRoot into out.
func BuildFuncd(ctx context.Context, modRoot, out string) error {
	if err := imagebuild.GoBuild(ctx, filepath.Join(modRoot, "cmd", "funcd"), out); err != nil {
		return fmt.Errorf("build funcd: %w", err)
	}
	return nil
}

// FuncdOptions says how StartFuncd runs `funcd up`.
type FuncdOptions struct {
	Binary     string       // the funcd executable
	Dir        string       // holds state/ (--state-dir) and funcd.log; created
	Containerd string       // --containerd-address
	Registry   string       // --insecure-registry host:port, if any
	Bridge     string       // --bridge, at most 15 bytes
	Subnet     netip.Prefix // --subnet
	Addr       string       // --listen; a free 127.0.0.1 port when empty
	Args       []string     // more flags
	Env        []string     // more KEY=VALUE; otherwise this process's environment minus FUNCD_*
}

// Funcd is one `funcd up` process with its own port, state directory,
// bridge and subnet.
type Funcd struct {
	URL      string       // http://127.0.0.1:PORT
	Addr     string       // 127.0.0.1:PORT, what --listen gets
	Dir      string       // FuncdOptions.Dir
	StateDir string       // --state-dir
	Bridge   string       // --bridge
	Subnet   netip.Prefix // --subnet
	LogPath  string       // funcd's stdout and stderr, every start appended
	Cmd      *exec.Cmd    // the current (or last) process

	args   []string
	env    []string
	proc   *Process
	starts int
}

// StartFuncd runs `funcd up` and waits until GET /healthz answers 200. When
// funcd does not get ready, it is killed and the error carries the end of
// its log.
func StartFuncd(ctx context.Context, o FuncdOptions) (*Funcd, error) {
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("funcd dir: %w", err)
	}
	if o.Addr == "" {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		o.Addr = "127.0.0.1:" + strconv.Itoa(port)
	}
	f := &Funcd{
		URL:      "http://" + o.Addr,
		Addr:     o.Addr,
		Dir:      o.Dir,
		StateDir: filepath.Join(o.Dir, "state"),
		Bridge:   o.Bridge,
		Subnet:   o.Subnet,
		LogPath:  filepath.Join(o.Dir, "funcd.log"),
		env:      funcdEnv(o.Env),
	}
	f.args = []string{o.Binary, "up",
		"--listen", f.Addr,
		"--state-dir", f.StateDir,
		"--containerd-address", o.Containerd,
		"--bridge", f.Bridge,
		"--subnet", f.Subnet.String(),
	}
	if o.Registry != "" {
		f.args = append(f.args, "--insecure-registry", o.Registry)
	}
	f.args = append(f.args, o.Args...)
	if err := f.start(ctx); err != nil {
		return nil, err
	}
	return f, nil
}

// start runs funcd once more with the same command line and waits for it.
func (f *Funcd) start(ctx context.Context) error {
	return f.launch(ctx, "", f.env, nil, f.args)
}

// launch starts argv (funcd's command line, maybe wrapped) with env and
// files as descriptors 3, 4, ..., and waits until funcd answers.
func (f *Funcd) launch(ctx context.Context, how string, env []string, files []*os.File, argv []string) error {
	f.starts++
	marker := fmt.Sprintf("=== testenv: start #%d%s: %s\n", f.starts, how, strings.Join(f.args, " "))
	if err := appendFile(f.LogPath, marker); err != nil {
		return err
	}
	p, err := startProcess("funcd", f.LogPath, env, files, argv...)
	if err != nil {
		return err
	}
	f.proc, f.Cmd = p, p.Cmd
	err = p.WaitReady(ctx, time.Minute, func(ctx context.Context) error {
		return HTTPGetOK(ctx, f.URL+"/healthz")
	})
	if err != nil {
		p.Kill()
		return fmt.Errorf("start funcd: %w", err)
	}
	return nil
}

// Stop sends SIGTERM and waits for funcd to exit. It returns an error when
// funcd takes more than 10s (it is then killed) or exits non-zero.
func (f *Funcd) Stop() error {
	if f.proc == nil || f.proc.Exited() {
		return nil
	}
	if err := f.proc.Stop(funcdStopGrace); err != nil {
		return err
	}
	if err := f.proc.Err(); err != nil {
		return fmt.Errorf("funcd exited after SIGTERM with %w, want exit status 0", err)
	}
	return nil
}

// Kill kills funcd with SIGKILL, as a crash or power cut would, and waits
// for it to be gone. Its functions keep running in containerd.
func (f *Funcd) Kill() {
	if f.proc != nil {
		f.proc.Kill()
	}
}

// Restart stops funcd (SIGTERM) if it is running and starts it again with
// the same state directory, port, bridge and subnet.
func (f *Funcd) Restart(ctx context.Context) error {
	err := f.Stop()
	return errors.Join(err, f.start(ctx))
}

// Exited reports whether the funcd process has exited.
func (f *Funcd) Exited() bool { return f.proc == nil || f.proc.Exited() }

// PID returns the process ID of the current funcd process.
func (f *Funcd) PID() int { return f.proc.PID() }

// Client returns an API client logged in with the credentials funcd
// generated under its state directory.
func (f *Funcd) Client() (*client.Client, error) {
	var cred [2]string
	for i, name := range []string{"basic-auth-user", "basic-auth-password"} {
		b, err := os.ReadFile(filepath.Join(f.StateDir, "secrets", name))
		if err != nil {
			return nil, fmt.Errorf("read funcd credentials: %w", err)
		}
		cred[i] = strings.TrimSpace(string(b))
	}
	return client.New(f.URL, client.WithBasicAuth(cred[0], cred[1])), nil
}

// funcdEnv is this process's environment without FUNCD_* variables, which
// funcd would read as flag defaults, plus extra.
func funcdEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FUNCD_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// Flags returns the flags `funcd up` runs with, without the binary, the
// subcommand and --listen: what `funcd purge` takes to find the same
// instance.
func (f *Funcd) Flags() []string {
	var out []string
	for i := 2; i < len(f.args); i++ {
		if f.args[i] == "--listen" {
			i++
			continue
		}
		out = append(out, f.args[i])
	}
	return out
}

// RestartPassing starts funcd again (it must be stopped) as systemd
// starts a service with a file descriptor store: files become descriptors
// 3, 4, ... with LISTEN_FDS, LISTEN_FDNAMES (names) and LISTEN_PID set to
// funcd's own PID.
func (f *Funcd) RestartPassing(ctx context.Context, files []*os.File, names []string) error {
	if f.proc != nil && !f.proc.Exited() {
		return errors.New("restart: funcd is still running")
	}
	env := append(slices.Clip(f.env), fmt.Sprintf("LISTEN_FDS=%d", len(files)), "LISTEN_FDNAMES="+strings.Join(names, ":"))
	// The shell's PID is funcd's after exec.
	argv := append([]string{"/bin/sh", "-c", `export LISTEN_PID=$$; exec "$@"`, "sh"}, f.args...)
	return f.launch(ctx, fmt.Sprintf(", passing %v", names), env, files, argv)
}
