package provider

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/funcd/funcd/internal/api"
)

func TestNamespaces(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	inDev := func(d *api.FunctionDeployment) { d.Namespace = "dev" }

	if err := h.p.Deploy(ctx, deployment("a", inDev)); !errors.Is(err, ErrInvalid) {
		t.Errorf("Deploy into a missing namespace = %v, want ErrInvalid", err)
	}
	for _, bad := range []string{"", "Dev", "a/b", "../x", api.ServicesNamespace} {
		if err := h.p.CreateNamespace(ctx, api.FunctionNamespace{Name: bad}); !errors.Is(err, ErrInvalid) {
			t.Errorf("CreateNamespace(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	if err := h.p.CreateNamespace(ctx, api.FunctionNamespace{Name: "dev", Labels: map[string]string{"openfaas": "1"}}); err != nil {
		t.Fatalf("CreateNamespace = %v", err)
	}
	if err := h.p.CreateNamespace(ctx, api.FunctionNamespace{Name: "dev"}); !errors.Is(err, ErrExists) {
		t.Errorf("second CreateNamespace = %v, want ErrExists", err)
	}
	// The same name in two namespaces.
	if err := h.p.Deploy(ctx, deployment("a", inDev)); err != nil {
		t.Fatalf("Deploy into dev = %v", err)
	}
	if err := h.p.Deploy(ctx, deployment("a")); err != nil {
		t.Fatalf("Deploy into the default namespace = %v", err)
	}
	if got := h.p.List("dev"); len(got) != 1 || got[0].Namespace != "dev" {
		t.Errorf("List(dev) = %+v", got)
	}
	if err := h.p.DeleteNamespace(ctx, "dev"); !errors.Is(err, ErrExists) {
		t.Errorf("DeleteNamespace with a function = %v, want ErrExists", err)
	}
	if err := h.p.DeleteNamespace(ctx, api.DefaultNamespace); !errors.Is(err, ErrInvalid) {
		t.Errorf("DeleteNamespace(default) = %v, want ErrInvalid", err)
	}

	// Namespaces survive a restart.
	h.p.Shutdown(ctx)
	p2 := h.start()
	if got := p2.Namespaces(); !slices.Equal(got, []string{api.DefaultNamespace, "dev"}) {
		t.Errorf("Namespaces after restart = %v", got)
	}
	if n, err := p2.Namespace("dev"); err != nil || n.Labels["openfaas"] != "1" {
		t.Errorf("Namespace(dev) after restart = %+v, %v", n, err)
	}
	if err := p2.Delete(ctx, "a", "dev"); err != nil {
		t.Fatal(err)
	}
	if err := p2.DeleteNamespace(ctx, "dev"); err != nil {
		t.Errorf("DeleteNamespace of an empty namespace = %v", err)
	}
	if _, err := p2.Namespace("dev"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Namespace after delete = %v, want ErrNotFound", err)
	}
	if err := p2.CreateNamespace(ctx, api.FunctionNamespace{Name: "guarded"}); err != nil {
		t.Fatal(err)
	}
	if err := p2.DeleteNamespace(ctx, "guarded"); !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "keep") {
		t.Errorf("DeleteNamespace holding a secret = %v, want ErrExists naming it", err)
	}
}
