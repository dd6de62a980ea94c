package provider

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/funcd/funcd/internal/api"
)

// TestPurgeRemovesOnlyOwnReplicas deploys running and parked replicas in
// two namespaces next to another instance's, stops funcd and purges: every
// replica of this instance is gone with its address and namespace; the
// other instance's replica still serves.
func TestPurgeRemovesOnlyOwnReplicas(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.p.CreateNamespace(ctx, api.FunctionNamespace{Name: "team-a"}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []api.FunctionDeployment{
		deployment("two", withLabel(labelScaleMin, "2")),
		deployment("idle"),
		deployment("other-ns", func(d *api.FunctionDeployment) { d.Namespace = "team-a" }),
	} {
		if err := h.p.Deploy(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.p.Scale(ctx, "idle", "openfaas-fn", 0); err != nil { // parked
		t.Fatal(err)
	}
	_, p2 := h.neighbour("fedcba9876543210fedcba9876543210")
	if err := p2.Deploy(ctx, deployment("theirs")); err != nil {
		t.Fatal(err)
	}
	theirs := len(h.rt.ids())
	h.p.Shutdown(ctx)

	p := New(h.rt, h.net, fakeSecrets{}, Config{StateDir: h.dir, Instance: testInstance, FunctionPort: uint16(h.rt.port)},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	n, nss, err := p.Purge(ctx)
	if err != nil {
		t.Fatalf("Purge = %v", err)
	}
	if n != theirs-1 || !slices.Equal(nss, []string{"openfaas-fn", "team-a"}) {
		t.Errorf("Purge = %d replicas in %v, want %d in [openfaas-fn team-a]", n, nss, theirs-1)
	}
	if ids := h.rt.ids(); len(ids) != 1 {
		t.Errorf("containers left = %v, want only the other instance's", ids)
	}
	if addrs, netnss := h.net.inUse(); addrs != 1 || netnss != 1 {
		t.Errorf("in use after purge: %d addresses, %d netns; want the other instance's 1 and 1", addrs, netnss)
	}
	if out, err := h.invoke(p2, "theirs"); err != nil {
		t.Errorf("the other instance's function after purge: %q, %v", out, err)
	}
}
