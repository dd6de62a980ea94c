package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/funcd/funcd/internal/api"
)

// TestNamespaces creates a namespace, deploys the same function name in it
// and in the default one, reaches each by NAME.NS, and refuses to delete a
// namespace that still holds a function.
func TestNamespaces(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	c := f.Client(t)
	ctx := t.Context()

	if err := c.Deploy(ctx, api.FunctionDeployment{Service: "twin", Namespace: "dev", Image: imageRef("testfn:v2")}); !isStatus(err, 400) {
		t.Errorf("deploy into a missing namespace = %v, want 400", err)
	}
	if err := c.CreateNamespace(ctx, api.FunctionNamespace{Name: "Bad/Name"}); !isStatus(err, 400) {
		t.Errorf("create of an invalid namespace = %v, want 400", err)
	}
	if err := c.CreateNamespace(ctx, api.FunctionNamespace{Name: "dev"}); err != nil {
		t.Fatalf("CreateNamespace = %v", err)
	}
	// Secrets are per namespace too.
	if err := c.CreateSecret(ctx, api.Secret{Name: "token", Namespace: "dev", Value: "dev-token"}); err != nil {
		t.Fatalf("CreateSecret in dev = %v", err)
	}
	deployReady(t, c, api.FunctionDeployment{Service: "twin", Image: imageRef("testfn:v1")})
	deployReady(t, c, api.FunctionDeployment{Service: "twin", Namespace: "dev", Image: imageRef("testfn:v2"), Secrets: []string{"token"}})
	if code, body, _ := call(ctx, c, "twin.dev", http.MethodGet, "/file?path=/var/openfaas/secrets/token", ""); code != 200 || body != "dev-token" {
		t.Errorf("secret in twin.dev = %d %q, want dev-token", code, body)
	}
	if err := c.Deploy(ctx, api.FunctionDeployment{Service: "other", Image: imageRef("testfn:v1"), Secrets: []string{"token"}}); !isStatus(err, 400) {
		t.Errorf("deploy in the default namespace with dev's secret = %v, want 400", err)
	}

	for target, want := range map[string]string{"twin": `"version":"v1"`, "twin.openfaas-fn": `"version":"v1"`, "twin.dev": `"version":"v2"`} {
		code, body, err := call(ctx, c, target, http.MethodGet, "/", "")
		if err != nil || code != 200 || !strings.Contains(body, want) {
			t.Errorf("invoke %s = %d %q, %v; want %s", target, code, body, err, want)
		}
	}
	if ns, err := c.Namespaces(ctx); err != nil || len(ns) != 2 || ns[1] != "dev" {
		t.Errorf("Namespaces = %v, %v; want [openfaas-fn dev]", ns, err)
	}
	if fns, err := c.ListFunctions(ctx, "dev"); err != nil || len(fns) != 1 || fns[0].Image != imageRef("testfn:v2") {
		t.Errorf("ListFunctions(dev) = %+v, %v", fns, err)
	}
	if err := c.DeleteNamespace(ctx, "dev"); !isStatus(err, 409) || !strings.Contains(err.Error(), "twin") {
		t.Errorf("delete of a namespace holding a function = %v, want 409 naming it", err)
	}
	// Restart: the namespace and its function come back.
	f.Restart(t)
	if st, err := c.GetFunction(ctx, "twin", "dev"); err != nil || st.AvailableReplicas != 1 {
		t.Errorf("after restart twin.dev = %+v, %v", st, err)
	}
	if err := c.Remove(ctx, "twin", "dev"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteNamespace(ctx, "dev"); !isStatus(err, 409) || !strings.Contains(err.Error(), "token") {
		t.Errorf("delete of a namespace holding a secret = %v, want 409 naming it", err)
	}
	if err := c.RemoveSecret(ctx, "token", "dev"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteNamespace(ctx, "dev"); err != nil {
		t.Errorf("delete of an empty namespace = %v", err)
	}
}
