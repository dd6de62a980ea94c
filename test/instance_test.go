package e2e

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/namespaces"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/test/testenv"
)

// TestSecondInstanceLeavesFirstAlone runs a second funcd (its own state
// dir, bridge and subnet) on the same containerd: the first one's
// functions keep running untouched (same containers, same PIDs) and
// serving, whichever of the two starts or restarts.
func TestSecondInstanceLeavesFirstAlone(t *testing.T) {
	requireE2E(t)
	f1 := startFuncd(t)
	c1 := f1.Client(t)
	ctx := t.Context()
	deployReady(t, c1, api.FunctionDeployment{Service: "shared", Image: imageRef("testfn:v1"),
		Labels: map[string]string{"com.openfaas.scale.min": "2"}})
	mine := tasks(t, "shared")

	f2 := startFuncd(t)
	t.Cleanup(func() { f1.Stop(t) }) // before f2's cleanup empties containerd under f1
	c2 := f2.Client(t)
	if got := tasks(t, "shared"); !maps.Equal(got, mine) {
		t.Fatalf("after a second funcd started, tasks = %v, want %v untouched", got, mine)
	}
	if fns, err := c2.ListFunctions(ctx, ""); err != nil || len(fns) != 0 {
		t.Errorf("second funcd lists %v, %v; want nothing", fns, err)
	}

	// The second deploys a function of the same name; each serves its own.
	deployReady(t, c2, api.FunctionDeployment{Service: "shared", Image: imageRef("testfn:v2")})
	all := tasks(t, "shared")
	if len(all) != 3 {
		t.Fatalf("tasks = %v, want the first's 2 and the second's 1", all)
	}
	f1.Restart(t)
	f2.Restart(t)
	if got := tasks(t, "shared"); !maps.Equal(got, all) {
		t.Errorf("after both restarted, tasks = %v, want %v untouched", got, all)
	}
	for i := range 10 {
		if r := echo(t, c1, "shared", "/"); r.Version != "v1" || mine[r.Hostname] == 0 {
			t.Fatalf("invoke %d on the first funcd served by %q (version %s), want one of its own %v", i, r.Hostname, r.Version, mine)
		}
		if r := echo(t, c2, "shared", "/"); r.Version != "v2" || mine[r.Hostname] != 0 {
			t.Fatalf("invoke %d on the second funcd served by %q (version %s), want its own", i, r.Hostname, r.Version)
		}
	}
	if st, err := c1.GetFunction(ctx, "shared", ""); err != nil || st.AvailableReplicas != 2 {
		t.Errorf("first funcd's status = %+v, %v; want 2 available", st, err)
	}
}

// TestSecondInstanceRefuses starts funcd on the bridge, a subnet
// overlapping the subnet, or the state dir of a live funcd, or on a subnet
// a host interface has an address in: each refuses at once, naming what is
// in use, and the first funcd's function keeps running.
func TestSecondInstanceRefuses(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	c := f.Client(t)
	deployReady(t, c, api.FunctionDeployment{Service: "first", Image: imageRef("testfn:v1")})
	before := tasks(t, "first")
	bin, err := h.FuncdBinary(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "state")
	first := fmt.Sprintf("(pid %d, state dir %s, bridge %s, subnet %s)", f.PID(), f.StateDir, f.Bridge, f.Subnet)
	// Subnets that overlap only f's: other test processes' funcds may be
	// live on other 10.199.X.0/24s.
	inside := netip.PrefixFrom(f.Subnet.Addr(), 25)
	bridge := "fdtx" + strconv.Itoa(os.Getpid()%10000)
	tests := []struct {
		name             string
		stateDir, bridge string
		subnet           netip.Prefix
		want             string
	}{
		{"same bridge", other, f.Bridge, f.Subnet, "bridge " + f.Bridge + " in use by another funcd " + first},
		{"overlapping subnet", other, bridge, inside, "subnet " + inside.String() + " overlaps subnet " + f.Subnet.String() + ", in use by another funcd " + first},
		{"same state dir", f.StateDir, bridge, inside, fmt.Sprintf("state dir %s in use by another funcd: pid %d", f.StateDir, f.PID())},
		{"host address", other, bridge, netip.MustParsePrefix("127.0.0.0/29"), "interface lo has address 127.0.0.1/8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "up", "--listen", "127.0.0.1:0", "--state-dir", tt.stateDir,
				"--containerd-address", containerdAddress(t), "--bridge", tt.bridge, "--subnet", tt.subnet.String())
			cmd.Env = withoutFuncdVars()
			out, err := cmd.CombinedOutput()
			if _, exited := err.(*exec.ExitError); !exited || ctx.Err() != nil || !strings.Contains(string(out), tt.want) {
				t.Errorf("funcd up on %s = %v, output:\n%s\nwant it to exit at once saying %q", tt.name, err, out, tt.want)
			}
		})
	}
	if got := tasks(t, "first"); !maps.Equal(got, before) {
		t.Errorf("tasks of the first funcd = %v, want %v untouched", got, before)
	}
	if r := echo(t, c, "first", "/"); before[r.Hostname] == 0 {
		t.Errorf("invoke served by %q, want %v", r.Hostname, before)
	}
}

// withoutFuncdVars is this process's environment without FUNCD_*
// variables, which funcd would read as flag defaults.
func withoutFuncdVars() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FUNCD_") {
			env = append(env, kv)
		}
	}
	return env
}

// TestVanishedContainerIsRecreated removes a running replica's task and
// container behind funcd's back (as `ctr task kill` and `ctr c rm` would):
// funcd makes the container again, same ID and address, and serves.
func TestVanishedContainerIsRecreated(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	c := f.Client(t)
	deployReady(t, c, api.FunctionDeployment{Service: "vanish", Image: imageRef("testfn:v1")})
	before := tasks(t, "vanish")
	nctx := namespaces.WithNamespace(t.Context(), fnNamespace)
	var id string
	for k := range before {
		id = k
	}
	ctr, err := containerdClient(t).LoadContainer(nctx, id)
	if err != nil {
		t.Fatal(err)
	}
	labels, _ := ctr.Labels(nctx)
	ip := labels["io.funcd.ip"]
	gone := time.Now()
	if err := testenv.DeleteContainer(nctx, ctr); err != nil {
		t.Fatalf("delete container %s: %v", id, err)
	}
	eventually(t, time.Minute, func() error {
		now := tasks(t, "vanish")
		if len(now) != 1 || now[id] == 0 || now[id] == before[id] {
			return fmt.Errorf("tasks = %v, want %s with a new task (was %v)", now, id, before)
		}
		return nil
	})
	if r := echo(t, c, "vanish", "/"); r.Hostname != id {
		t.Errorf("invoke served by %q, want the remade %s", r.Hostname, id)
	}
	t.Logf("served again %v after the container vanished", time.Since(gone).Round(time.Millisecond))
	ctr, err = containerdClient(t).LoadContainer(nctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if labels, _ := ctr.Labels(nctx); labels["io.funcd.ip"] != ip {
		t.Errorf("remade container has address %q, want %q as before", labels["io.funcd.ip"], ip)
	}
	if err := c.Remove(t.Context(), "vanish", ""); err != nil {
		t.Fatal(err)
	}
	assertNoLeftovers(t, f)
}

// TestLongFunctionName deploys a function with a name of 63 characters,
// the longest a DNS label (and so OpenFaaS) allows: it starts, serves,
// scales, and goes without leaving anything behind.
func TestLongFunctionName(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	c := f.Client(t)
	ctx := t.Context()
	name := strings.Repeat("long-name-", 6) + "abc"
	if len(name) != api.MaxNameLength {
		t.Fatalf("name has %d characters, want %d", len(name), api.MaxNameLength)
	}
	if err := c.CreateSecret(ctx, api.Secret{Name: "long-secret", Value: "s3"}); err != nil {
		t.Fatal(err)
	}
	deployReady(t, c, api.FunctionDeployment{Service: name, Image: imageRef("testfn:v1"), Secrets: []string{"long-secret"}})
	r := echo(t, c, name, "/")
	if len(r.Hostname) > 63 || !strings.HasPrefix(r.Hostname, name[:40]) {
		t.Errorf("hostname = %q (%d), want at most 63 characters starting with the name", r.Hostname, len(r.Hostname))
	}
	if code, body, err := call(ctx, c, name, http.MethodGet, "/file?path=/var/openfaas/secrets/long-secret", ""); err != nil || code != 200 || body != "s3" {
		t.Errorf("secret inside = %d %q, %v; want s3", code, body, err)
	}
	if err := c.Scale(ctx, name, "", 2); err != nil {
		t.Fatalf("Scale = %v", err)
	}
	eventually(t, time.Minute, func() error {
		if st, err := c.GetFunction(ctx, name, ""); err != nil || st.AvailableReplicas != 2 {
			return fmt.Errorf("status = %+v, %v; want 2 available", st, err)
		}
		return nil
	})
	if n := len(tasks(t, name)); n != 2 {
		t.Errorf("%d containers, want 2", n)
	}
	eventually(t, 10*time.Second, func() error {
		if logs, _ := filepath.Glob(filepath.Join(f.StateDir, "logs", fnNamespace, name, "*.log")); len(logs) != 2 {
			return fmt.Errorf("log files = %v, want one per replica", logs)
		}
		return nil
	})
	if err := c.Remove(ctx, name, ""); err != nil {
		t.Fatalf("Remove = %v", err)
	}
	assertNoLeftovers(t, f)
	if views, _ := os.ReadDir(filepath.Join(f.StateDir, "secrets", "views", fnNamespace)); len(views) != 0 {
		t.Errorf("secrets views left: %v", views)
	}
}

// TestSubnetFull runs funcd on a /29 (5 addresses for replicas): deploy
// and scale past it answer 409 naming the subnet and what to do, and leave
// nothing behind; the addresses come back when replicas go.
func TestSubnetFull(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t, func(o *testenv.FuncdOptions) { o.Subnet = netip.PrefixFrom(o.Subnet.Addr(), 29) })
	c := f.Client(t)
	ctx := t.Context()
	deployReady(t, c, api.FunctionDeployment{Service: "fill", Image: imageRef("testfn:v1"),
		Labels: map[string]string{"com.openfaas.scale.min": "4"}})
	before := tasks(t, "fill")
	want := "subnet " + f.Subnet.String() + " has 5 addresses for replicas, all in use"

	err := c.Scale(ctx, "fill", "", 6)
	if !isStatus(err, http.StatusConflict) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--subnet") {
		t.Errorf("Scale past the subnet = %v, want 409 saying %q and naming --subnet", err, want)
	}
	err = c.Deploy(ctx, api.FunctionDeployment{Service: "more", Image: imageRef("testfn:v1"),
		Labels: map[string]string{"com.openfaas.scale.min": "2"}})
	if !isStatus(err, http.StatusConflict) || !strings.Contains(err.Error(), want) {
		t.Errorf("Deploy into the full subnet = %v, want 409 saying %q", err, want)
	}
	if got := tasks(t, "fill"); !maps.Equal(got, before) {
		t.Errorf("tasks of fill = %v, want %v untouched", got, before)
	}
	if got := tasks(t, "more"); len(got) != 0 {
		t.Errorf("containers of the refused deploy = %v, want none", got)
	}
	if _, err := c.GetFunction(ctx, "more", ""); !isStatus(err, http.StatusNotFound) {
		t.Errorf("GetFunction(more) = %v, want 404", err)
	}
	// The fifth address is still free, and a removed replica's comes back.
	if err := c.Scale(ctx, "fill", "", 5); err != nil {
		t.Fatalf("Scale to 5 = %v", err)
	}
	if err := c.Scale(ctx, "fill", "", 4); err != nil {
		t.Fatalf("Scale to 4 = %v", err)
	}
	deployReady(t, c, api.FunctionDeployment{Service: "more", Image: imageRef("testfn:v1")})
	for _, fn := range []string{"fill", "more"} {
		if err := c.Remove(ctx, fn, ""); err != nil {
			t.Fatalf("Remove(%s) = %v", fn, err)
		}
	}
	assertNoLeftovers(t, f)
}
