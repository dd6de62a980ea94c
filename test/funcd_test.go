package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"sync/atomic"
	"testing"

	"github.com/funcd/funcd/internal/client"
	"github.com/funcd/funcd/test/testenv"
)

// Funcd is one `funcd up` process with its own port, state directory,
// bridge and subnet (testenv.Funcd with methods that fail the test).
type Funcd struct {
	*testenv.Funcd
}

// FuncdOption adjusts how startFuncd runs funcd.
type FuncdOption func(*testenv.FuncdOptions)

// WithArgs appends flags to the `funcd up` command line.
func WithArgs(args ...string) FuncdOption {
	return func(o *testenv.FuncdOptions) { o.Args = append(o.Args, args...) }
}

// WithEnv adds KEY=VALUE pairs to funcd's environment (which otherwise is
// the test's, minus FUNCD_* variables).
func WithEnv(kv ...string) FuncdOption {
	return func(o *testenv.FuncdOptions) { o.Env = append(o.Env, kv...) }
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
	bridge, subnet, err := allocNetwork(int(funcdCount.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	o := testenv.FuncdOptions{Bridge: bridge, Subnet: subnet}
	for _, opt := range opts {
		opt(&o)
	}
	tf, err := h.StartFuncd(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	f := &Funcd{tf}
	t.Cleanup(func() { f.cleanup(t) })
	return f
}

// Stop sends SIGTERM and waits for funcd to exit; the test fails if funcd
// takes more than 10s (it is then killed) or exits non-zero.
func (f *Funcd) Stop(t *testing.T) {
	t.Helper()
	if err := f.Funcd.Stop(); err != nil {
		t.Errorf("funcd: %v", err)
	}
}

// Kill9 kills funcd with SIGKILL, as a crash or power cut would, and waits
// for it to be gone. Its functions keep running in containerd.
func (f *Funcd) Kill9(t *testing.T) {
	t.Helper()
	f.Kill()
}

// Restart stops funcd (SIGTERM) if it is running and starts it again with
// the same state directory, port, bridge and subnet.
func (f *Funcd) Restart(t *testing.T) {
	t.Helper()
	f.Stop(t)
	if err := f.Funcd.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// Client returns an API client logged in with the credentials funcd
// generated under its state directory.
func (f *Funcd) Client(t *testing.T) *client.Client {
	t.Helper()
	c, err := f.Funcd.Client()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// cleanup runs from t.Cleanup, when t.Context() is already cancelled.
func (f *Funcd) cleanup(t *testing.T) {
	f.Stop(t)
	f.Kill()
	if t.Failed() {
		t.Logf("funcd output (%s), last 80 lines:\n%s", f.LogPath, testenv.Tail(f.LogPath, 80))
	}
	if err := h.CleanFuncd(t.Context(), f.Funcd); err != nil {
		t.Error(err)
	}
}

// allocNetwork picks a bridge name and a 10.199.X.0/24 subnet unique to
// this funcd among every test process, funcd and host network
// (testenv.Env.AllocNetwork).
func allocNetwork(n int) (string, netip.Prefix, error) {
	bridge := fmt.Sprintf("fdt%d-%d", os.Getpid()%10000, n) // at most 15 bytes
	net, err := h.AllocNetwork(bridge, os.Getpid()+n)
	return net.Bridge, net.Subnet, err
}
