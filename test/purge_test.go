package e2e

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/containerd/namespaces"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/instance"
)

// TestPurge deploys functions (several replicas, one parked at zero, one
// in another namespace), stops funcd and runs `funcd purge` with the same
// flags: nothing of the instance is left in containerd, on the network or
// on disk, and a second funcd's function on the same containerd keeps
// serving. A purge while funcd runs is refused and changes nothing.
func TestPurge(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	other := startFuncd(t)
	c, oc := f.Client(t), other.Client(t)
	ctx := t.Context()
	if err := c.CreateNamespace(ctx, api.FunctionNamespace{Name: "team-a"}); err != nil {
		t.Fatal(err)
	}
	deployReady(t, c, api.FunctionDeployment{Service: "many", Image: imageRef("testfn:v1"),
		Labels: map[string]string{"com.openfaas.scale.min": "2"}})
	deployReady(t, c, api.FunctionDeployment{Service: "idle", Image: imageRef("testfn:v1")})
	deployReady(t, c, api.FunctionDeployment{Service: "elsewhere", Namespace: "team-a", Image: imageRef("testfn:v1")})
	if err := c.Scale(ctx, "idle", "", 0); err != nil {
		t.Fatal(err)
	}
	deployReady(t, oc, api.FunctionDeployment{Service: "theirs", Image: imageRef("testfn:v1")})
	instanceID, err := os.ReadFile(filepath.Join(f.StateDir, "instance-id"))
	if err != nil {
		t.Fatal(err)
	}

	bin, err := h.FuncdBinary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	purge := func() (string, error) {
		out, err := exec.CommandContext(ctx, bin, append([]string{"purge"}, f.Flags()...)...).CombinedOutput()
		return string(out), err
	}
	if out, err := purge(); err == nil || !strings.Contains(out, "pid") {
		t.Fatalf("purge while funcd runs = %v %q; want a refusal naming its pid", err, out)
	}
	if code, _, err := call(ctx, c, "many", "GET", "/", ""); err != nil || code != 200 {
		t.Fatalf("invoke after a refused purge = %d, %v", code, err)
	}

	f.Stop(t)
	out, err := purge()
	if err != nil {
		t.Fatalf("purge: %v\n%s", err, out)
	}
	t.Logf("purge said:\n%s", out)

	// What was checked: containers and snapshots in every namespace the
	// instance used, addresses, network namespaces, iptables rules, the
	// bridge, the host claim and the state directory.
	var left []string
	theirs := map[string]bool{} // the other instance's containers and snapshots
	for _, ns := range []string{fnNamespace, "team-a"} {
		nctx := namespaces.WithNamespace(context.Background(), ns)
		ctrs, err := containerdClient(t).Containers(nctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, ct := range ctrs {
			labels, _ := ct.Labels(nctx)
			if labels["io.funcd.instance"] == strings.TrimSpace(string(instanceID)) {
				left = append(left, "container "+ns+"/"+ct.ID())
			} else {
				theirs["container "+ct.ID()], theirs["snapshot "+ct.ID()+"-snapshot"] = true, true
			}
		}
	}
	for _, l := range leftovers(t, f) {
		if !theirs[l] {
			left = append(left, l)
		}
	}
	if _, err := net.InterfaceByName(f.Bridge); err == nil {
		left = append(left, "bridge "+f.Bridge)
	}
	if _, err := os.Stat(f.StateDir); !errors.Is(err, os.ErrNotExist) {
		left = append(left, "state dir "+f.StateDir)
	}
	claims, _ := instance.Live(instance.HostDir)
	for _, cl := range claims {
		if cl.Bridge == f.Bridge {
			left = append(left, "claim "+cl.String())
		}
	}
	// Images go with the namespace the instance alone used; where another
	// instance still has containers, they stay.
	for ns, want := range map[string]bool{"team-a": false, fnNamespace: true} {
		imgs, err := containerdClient(t).ImageService().List(namespaces.WithNamespace(context.Background(), ns))
		if err != nil {
			t.Fatal(err)
		}
		if have := len(imgs) > 0; have != want {
			t.Errorf("images in %s after purge: %d, want some: %v", ns, len(imgs), want)
		}
	}
	if len(left) > 0 {
		t.Errorf("left after purge: %v", left)
	}
	if code, _, err := call(ctx, oc, "theirs", "GET", "/", ""); err != nil || code != 200 {
		t.Errorf("the other instance's function after purge = %d, %v", code, err)
	}
	// Purging again finds nothing and succeeds.
	if out, err := purge(); err != nil {
		t.Errorf("second purge: %v\n%s", err, out)
	}
}
