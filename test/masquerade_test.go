package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	gocni "github.com/containerd/go-cni"
	"golang.org/x/sys/unix"

	"github.com/funcd/funcd/cni"
	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/test/testenv"
)

// TestMasquerade: a replica reaches an address outside funcd's subnet (a
// web server in a network namespace the test makes, behind a veth pair with
// no route back to the subnet), seen there as coming from the host, through
// the one masquerade rule funcd adds for its whole subnet: the nat table
// holds that rule and no per-replica chain, and `funcd purge` removes it.
func TestMasquerade(t *testing.T) {
	requireE2E(t)
	ctx := t.Context()
	ns, host, outside := fmt.Sprintf("fdtmasq%d", os.Getpid()), "198.51.100.1", "198.51.100.2"
	if overlaps, err := testenv.OverlapsHost(netip.MustParsePrefix(host + "/30")); err != nil || overlaps {
		t.Skipf("%s/30 is in use on this host (%v)", host, err)
	}
	veth := fmt.Sprintf("fdtmq%d", os.Getpid()%100000)
	sh := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	sh("ip", "netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "delete", ns).Run() })
	sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "delete", veth).Run() })
	sh("ip", "addr", "add", host+"/30", "dev", veth)
	sh("ip", "link", "set", veth, "up")
	sh("ip", "-n", ns, "addr", "add", outside+"/30", "dev", "eth0")
	sh("ip", "-n", ns, "link", "set", "eth0", "up")
	ln := listenIn(t, "/run/netns/"+ns, outside+":0")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip, _, _ := net.SplitHostPort(r.RemoteAddr)
		fmt.Fprint(w, ip)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	f := startFuncd(t)
	c := f.Client(t)
	deployReady(t, c, api.FunctionDeployment{Service: "egress", Image: imageRef("testfn:v1")})
	deployReady(t, c, api.FunctionDeployment{Service: "egress2", Image: imageRef("testfn:v1")})
	code, body, err := call(ctx, c, "egress", "GET", "/get?url="+url.QueryEscape("http://"+ln.Addr().String()+"/"), "")
	if err != nil || code != 200 || body != host {
		t.Errorf("replica GET outside = %d %q, %v; want 200 and the host's address %s (masqueraded)", code, body, err, host)
	}
	_, rules, err := iptablesSave(ctx, "nat")
	if err != nil {
		t.Fatal(err)
	}
	var ours []string
	for _, r := range rules {
		if r.matches([]network{{bridge: f.Bridge, subnet: f.Subnet}}) {
			ours = append(ours, r.chain+" "+strings.Join(r.args, " "))
		}
	}
	if len(ours) != 1 || !strings.Contains(ours[0], "MASQUERADE") {
		t.Errorf("nat rules naming %s or %s with two replicas: %q, want the one masquerade rule", f.Bridge, f.Subnet, ours)
	}

	f.Stop(t)
	bin, err := h.FuncdBinary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(ctx, bin, append([]string{"purge"}, f.Flags()...)...).CombinedOutput(); err != nil {
		t.Fatalf("purge: %v\n%s", err, out)
	}
	_, rules, err = iptablesSave(ctx, "nat")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if r.matches([]network{{bridge: f.Bridge, subnet: f.Subnet}}) {
			t.Errorf("after purge: nat -A %s %s", r.chain, strings.Join(r.args, " "))
		}
	}
}

// listenIn listens on addr inside the network namespace at path, from a
// thread that then ends (it is never handed back to the scheduler).
func listenIn(t *testing.T, path, addr string) net.Listener {
	t.Helper()
	type res struct {
		ln  net.Listener
		err error
	}
	c := make(chan res, 1)
	go func() {
		runtime.LockOSThread() // not unlocked: the thread goes with the goroutine
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			c <- res{err: err}
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			c <- res{err: fmt.Errorf("setns %s: %w", path, err)}
			return
		}
		ln, err := net.Listen("tcp", addr)
		c <- res{ln, err}
	}()
	r := <-c
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.ln
}

// TestMasqueradeOldAttachment: a replica an older funcd attached, with the
// bridge plugin masquerading it through a chain of its own, loses that
// chain and its rule when today's network detaches it (with the
// configuration libcni cached at the ADD), and RemoveHost then leaves no
// rule naming the network.
func TestMasqueradeOldAttachment(t *testing.T) {
	requireE2E(t)
	ctx := t.Context()
	br, subnet, err := allocNetwork(int(funcdCount.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cni.RemoveHost(context.Background(), br, subnet) })
	cfg := cni.Config{Bridge: br, Subnet: subnet, BinDirs: []string{testenv.CNIBinDir()}, Dir: t.TempDir()}
	nw, err := cni.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The conflist of an older funcd: the same with ipMasq on.
	conf, err := os.ReadFile(filepath.Join(cfg.Dir, cni.NetworkName+".conflist"))
	if err != nil {
		t.Fatal(err)
	}
	old := strings.Replace(string(conf), `"ipMasq": false`, `"ipMasq": true`, 1)
	if old == string(conf) {
		t.Fatalf("conflist has no \"ipMasq\": false:\n%s", conf)
	}
	oldNet, err := gocni.New(gocni.WithPluginDir(cfg.BinDirs), gocni.WithInterfacePrefix("eth"), gocni.WithMinNetworkCount(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := oldNet.Load(gocni.WithConfListBytes([]byte(old)), gocni.WithLoNetwork); err != nil {
		t.Fatal(err)
	}
	id, netns := fmt.Sprintf("fdtold%d", os.Getpid()), filepath.Join(t.TempDir(), "netns")
	if err := cni.NewNetNS(netns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cni.RemoveNetNS(netns) })
	if _, err := oldNet.Setup(ctx, id, netns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = oldNet.Remove(context.Background(), id, netns) })
	perReplica := func() []string {
		t.Helper()
		_, rules, err := iptablesSave(ctx, "nat")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rules {
			if target := (testenv.Rule{Chain: r.chain, Args: r.args}).Target(); r.matches([]network{{br, subnet}}) && strings.HasPrefix(target, "CNI-") {
				out = append(out, r.chain+" "+strings.Join(r.args, " "))
			}
		}
		return out
	}
	if got := perReplica(); len(got) != 1 {
		t.Fatalf("nat rules jumping to a per-replica chain after the old ADD: %q, want 1", got)
	}
	if err := nw.Detach(ctx, id, netns); err != nil {
		t.Fatal(err)
	}
	if got := perReplica(); len(got) != 0 {
		t.Errorf("nat rules jumping to a per-replica chain after Detach: %q, want none", got)
	}
	if err := cni.RemoveHost(ctx, br, subnet); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"nat", "filter"} {
		_, rules, err := iptablesSave(ctx, table)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rules {
			if r.matches([]network{{br, subnet}}) {
				t.Errorf("after RemoveHost: %s -A %s %s", table, r.chain, strings.Join(r.args, " "))
			}
		}
	}
}
