package e2e

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/client"
	"github.com/funcd/funcd/internal/imagebuild"
)

// Funcd is one `funcd up` process with its own port, state directory,
// bridge and subnet.
type Funcd struct {
	URL      string       // http://127.0.0.1:PORT
	Addr     string       // 127.0.0.1:PORT, what --listen gets
	StateDir string       // --state-dir
	Bridge   string       // --bridge, unique to this Funcd
	Subnet   netip.Prefix // --subnet, unique to this Funcd
	LogPath  string       // funcd's stdout and stderr, every start appended
	Cmd      *exec.Cmd    // the current (or last) process

	args   []string
	env    []string
	proc   *daemon
	starts int
}

// FuncdOption adjusts how startFuncd runs funcd.
type FuncdOption func(*Funcd)

// WithArgs appends flags to the `funcd up` command line.
func WithArgs(args ...string) FuncdOption {
	return func(f *Funcd) { f.args = append(f.args, args...) }
}

// WithEnv adds KEY=VALUE pairs to funcd's environment (which otherwise is
// the test's, minus FUNCD_* variables).
func WithEnv(kv ...string) FuncdOption {
	return func(f *Funcd) { f.env = append(f.env, kv...) }
}

var funcdCount atomic.Int32

// startFuncd runs `funcd up` against the private containerd and registry
// and waits until GET /healthz answers 200. At cleanup it stops funcd
// (failing the test if funcd does not exit 0 within 10s of SIGTERM), then
// deletes every container, task and image in containerd, the Funcd's bridge
// and its iptables rules; if the test failed, it logs the end of funcd's
// output first.
func startFuncd(t *testing.T, opts ...FuncdOption) *Funcd {
	t.Helper()
	requireE2E(t)
	bin := h.funcdBinary(t)
	n := int(funcdCount.Add(1))
	dir := filepath.Join(h.dir, "funcd-"+strconv.Itoa(n))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bridge, subnet, err := h.allocNetwork(n)
	if err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	f := &Funcd{
		Addr:     "127.0.0.1:" + strconv.Itoa(port),
		StateDir: filepath.Join(dir, "state"),
		Bridge:   bridge,
		Subnet:   subnet,
		LogPath:  filepath.Join(dir, "funcd.log"),
	}
	f.URL = "http://" + f.Addr
	for _, o := range opts {
		o(f)
	}
	f.args = append([]string{bin, "up",
		"--listen", f.Addr,
		"--state-dir", f.StateDir,
		"--containerd-address", h.socketPath(),
		"--bridge", f.Bridge,
		"--subnet", f.Subnet.String(),
		"--insecure-registry", h.registryHost,
	}, f.args...)
	h.mu.Lock()
	h.funcds[f] = true
	h.mu.Unlock()
	t.Cleanup(func() { f.cleanup(t, dir) })
	f.start(t)
	return f
}

func (f *Funcd) start(t *testing.T) {
	t.Helper()
	f.starts++
	marker := fmt.Sprintf("=== e2e: start #%d: %s\n", f.starts, strings.Join(f.args, " "))
	if err := appendFile(f.LogPath, marker); err != nil {
		t.Fatal(err)
	}
	d, err := startDaemon("funcd", f.LogPath, funcdEnv(f.env), f.args...)
	if err != nil {
		t.Fatal(err)
	}
	f.proc, f.Cmd = d, d.cmd
	err = d.waitReady(t.Context(), time.Minute, func(ctx context.Context) error {
		return httpGetOK(ctx, f.URL+"/healthz")
	})
	if err != nil {
		t.Fatalf("start funcd: %v", err)
	}
}

// Stop sends SIGTERM and waits for funcd to exit; the test fails if funcd
// takes more than 10s (it is then killed) or exits non-zero.
func (f *Funcd) Stop(t *testing.T) {
	t.Helper()
	if f.proc == nil || f.proc.exited() {
		return
	}
	if err := f.proc.stop(10 * time.Second); err != nil {
		t.Errorf("funcd: %v", err)
		return
	}
	if f.proc.err != nil {
		t.Errorf("funcd exited after SIGTERM with %v, want exit status 0", f.proc.err)
	}
}

// Kill9 kills funcd with SIGKILL, as a crash or power cut would, and waits
// for it to be gone. Its functions keep running in containerd.
func (f *Funcd) Kill9(t *testing.T) {
	t.Helper()
	f.kill()
}

func (f *Funcd) kill() {
	if f.proc != nil {
		f.proc.kill()
	}
}

// Restart stops funcd (SIGTERM) if it is running and starts it again with
// the same state directory, port, bridge and subnet.
func (f *Funcd) Restart(t *testing.T) {
	t.Helper()
	f.Stop(t)
	f.start(t)
}

// Exited reports whether the funcd process has exited.
func (f *Funcd) Exited() bool { return f.proc == nil || f.proc.exited() }

// Client returns an API client logged in with the credentials funcd
// generated under its state directory.
func (f *Funcd) Client(t *testing.T) *client.Client {
	t.Helper()
	var cred [2]string
	for i, name := range []string{"basic-auth-user", "basic-auth-password"} {
		b, err := os.ReadFile(filepath.Join(f.StateDir, "secrets", name))
		if err != nil {
			t.Fatalf("read funcd credentials: %v", err)
		}
		cred[i] = strings.TrimSpace(string(b))
	}
	return client.New(f.URL, client.WithBasicAuth(cred[0], cred[1]))
}

// cleanup runs from t.Cleanup, when t.Context() is already cancelled.
func (f *Funcd) cleanup(t *testing.T, dir string) {
	f.Stop(t)
	f.kill()
	if t.Failed() {
		t.Logf("funcd output (%s), last 80 lines:\n%s", f.LogPath, tail(f.LogPath, 80))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := resetContainerd(ctx, h.ctr); err != nil {
		t.Errorf("clean up containerd: %v", err)
	}
	if err := unmountUnder(dir); err != nil {
		t.Errorf("clean up mounts: %v", err)
	}
	removeCNICache(dir)
	if err := removeNetworks(ctx, []network{{f.Bridge, f.Subnet}}); err != nil {
		t.Errorf("clean up network: %v", err)
	}
	h.mu.Lock()
	delete(h.funcds, f)
	h.mu.Unlock()
}

// funcdEnv is the harness's environment without FUNCD_* variables, which
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

// funcdBinary builds ./cmd/funcd the first time it is called.
func (h *harness) funcdBinary(t *testing.T) string {
	t.Helper()
	h.funcdOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		h.funcdBin = filepath.Join(h.dir, "bin", "funcd")
		h.funcdErr = imagebuild.GoBuild(ctx, filepath.Join(h.modRoot, "cmd", "funcd"), h.funcdBin)
	})
	if h.funcdErr != nil {
		t.Fatalf("build funcd: %v", h.funcdErr)
	}
	return h.funcdBin
}

// network is a bridge and subnet handed to one Funcd.
type network struct {
	bridge string
	subnet netip.Prefix
}

// allocNetwork picks a bridge name and a 10.199.X.0/24 subnet unique to
// this process and not overlapping any address on the host, and records
// them so a later run can clean up after this one.
func (h *harness) allocNetwork(n int) (string, netip.Prefix, error) {
	bridge := fmt.Sprintf("fdt%d-%d", os.Getpid()%10000, n) // at most 15 bytes
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", netip.Prefix{}, fmt.Errorf("list host addresses: %w", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range 254 {
		x := (os.Getpid()+n+i)%254 + 1
		subnet := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 199, byte(x), 0}), 24)
		if h.usedSubnets[subnet] || overlapsHost(subnet, addrs) {
			continue
		}
		h.usedSubnets[subnet] = true
		line := bridge + " " + subnet.String() + "\n"
		if err := appendFile(filepath.Join(h.dir, networksFile), line); err != nil {
			return "", netip.Prefix{}, err
		}
		return bridge, subnet, nil
	}
	return "", netip.Prefix{}, fmt.Errorf("no free subnet in 10.199.0.0/16")
}

func overlapsHost(subnet netip.Prefix, addrs []net.Addr) bool {
	for _, a := range addrs {
		// A host network wider than /16 (a 10.0.0.0/8 LAN) is left to the
		// routing table's longest match.
		p, err := netip.ParsePrefix(a.String())
		if err == nil && (subnet.Contains(p.Addr()) || p.Bits() >= 16 && p.Overlaps(subnet)) {
			return true
		}
	}
	return false
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("append to %s: %w", path, err)
	}
	return nil
}
