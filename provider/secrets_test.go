package provider

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/secrets"
)

// viewsOf returns the secrets views in the default namespace.
func viewsOf(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, "views", "openfaas-fn"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestSecretViewsFollowReplicas checks that each replica mounts its own
// view, that the view goes with the replica on update, scale-down and
// delete, and that UsingSecret names the functions listing a secret.
func TestSecretViewsFollowReplicas(t *testing.T) {
	h := &harness{t: t, rt: newFakeRuntime(t), net: newFakeNet(), dir: t.TempDir()}
	root := filepath.Join(h.dir, "secrets")
	store := secrets.New(root)
	if err := store.Create("openfaas-fn", "db", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	p := New(h.rt, h.net, store, Config{StateDir: h.dir, ReadyTimeout: 2 * time.Second, StopGrace: time.Second, FunctionPort: uint16(h.rt.port)},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := p.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown(context.Background()) })
	ctx := context.Background()

	withSecret := func(d *api.FunctionDeployment) { d.Secrets = []string{"db"} }
	if err := p.Deploy(ctx, deployment("a", withSecret, withLabel(labelScaleMin, "2"))); err != nil {
		t.Fatalf("Deploy = %v", err)
	}
	if err := p.Deploy(ctx, deployment("plain")); err != nil {
		t.Fatalf("Deploy = %v", err)
	}
	views := viewsOf(t, root)
	if len(views) != 2 {
		t.Fatalf("views = %v, want one per replica of a", views)
	}
	h.rt.mu.Lock()
	for id, c := range h.rt.containers {
		var mounted string
		for _, m := range c.spec.Mounts {
			if m.Destination == "/var/openfaas/secrets" {
				mounted = m.Source
			}
		}
		want := ""
		if c.spec.Labels[labelFunction] == "a" {
			want = filepath.Join(root, "views", "openfaas-fn", id)
		}
		if mounted != want {
			t.Errorf("replica %s mounts %q at /var/openfaas/secrets, want %q", id, mounted, want)
		}
	}
	h.rt.mu.Unlock()

	if got := p.UsingSecret("openfaas-fn", "db"); !reflect.DeepEqual(got, []string{"a"}) {
		t.Errorf("UsingSecret(db) = %v, want [a]", got)
	}
	if got := p.UsingSecret("openfaas-fn", "other"); len(got) != 0 {
		t.Errorf("UsingSecret(other) = %v, want none", got)
	}

	if err := p.Update(ctx, deployment("a", withSecret)); err != nil {
		t.Fatalf("Update = %v", err)
	}
	after := viewsOf(t, root)
	if len(after) != 2 || after[0] == views[0] || after[1] == views[1] {
		t.Errorf("views after update = %v, want two new ones replacing %v", after, views)
	}
	if err := p.Scale(ctx, "a", "openfaas-fn", 1); err != nil {
		t.Fatal(err)
	}
	if got := viewsOf(t, root); len(got) != 1 {
		t.Errorf("views after scaling to 1 = %v", got)
	}
	if err := p.Update(ctx, deployment("a")); err != nil {
		t.Fatalf("Update = %v", err)
	}
	if got := viewsOf(t, root); len(got) != 0 {
		t.Errorf("views after dropping the secret = %v", got)
	}
	if got := p.UsingSecret("openfaas-fn", "db"); len(got) != 0 {
		t.Errorf("UsingSecret(db) after the update = %v", got)
	}
	if err := p.Update(ctx, deployment("a", withSecret)); err != nil {
		t.Fatalf("Update = %v", err)
	}
	if err := p.Delete(ctx, "a", "openfaas-fn"); err != nil {
		t.Fatal(err)
	}
	if got := viewsOf(t, root); len(got) != 0 {
		t.Errorf("views after delete = %v", got)
	}
	if err := p.Deploy(ctx, deployment("b", func(d *api.FunctionDeployment) { d.Secrets = []string{"nope"} })); err == nil {
		t.Error("Deploy with a missing secret = nil error")
	}
	if got := viewsOf(t, root); len(got) != 0 {
		t.Errorf("views after a failed deploy = %v", got)
	}
}
