package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/provider"
)

// fakeNamespaces keeps namespaces in a map; "busy" holds functions.
type fakeNamespaces map[string]api.FunctionNamespace

func (f fakeNamespaces) Namespace(name string) (api.FunctionNamespace, error) {
	n, ok := f[name]
	if !ok {
		return n, fmt.Errorf("namespace %s %w", name, provider.ErrNotFound)
	}
	return n, nil
}

func (f fakeNamespaces) CreateNamespace(_ context.Context, n api.FunctionNamespace) error {
	if _, ok := f[n.Name]; ok {
		return fmt.Errorf("namespace %s %w", n.Name, provider.ErrExists)
	}
	f[n.Name] = n
	return nil
}

func (f fakeNamespaces) UpdateNamespace(_ context.Context, n api.FunctionNamespace) error {
	if _, ok := f[n.Name]; !ok {
		return fmt.Errorf("namespace %s %w", n.Name, provider.ErrNotFound)
	}
	f[n.Name] = n
	return nil
}

func (f fakeNamespaces) DeleteNamespace(_ context.Context, name string) error {
	if name == "busy" {
		return fmt.Errorf("namespace busy still holds functions (fn): %w", provider.ErrExists)
	}
	if _, ok := f[name]; !ok {
		return fmt.Errorf("namespace %s %w", name, provider.ErrNotFound)
	}
	delete(f, name)
	return nil
}

func TestNamespaceRoutes(t *testing.T) {
	ns := fakeNamespaces{"busy": {Name: "busy"}}
	g := New(&fakeFunctions{}, invoked, Config{Credentials: creds, Namespaces: ns}, slog.New(slog.DiscardHandler))
	steps := []struct {
		method, path, body string
		want               int
		wantBody           string
	}{
		{"POST", "/system/namespace/", `{"name":"dev","labels":{"openfaas":"1"}}`, 201, ""},
		{"POST", "/system/namespace/", `{"name":"dev"}`, 409, "dev"},
		{"POST", "/system/namespace/", `{}`, 400, "namespace not specified"},
		{"GET", "/system/namespace/dev", "", 200, `"name":"dev"`},
		{"GET", "/system/namespace/nope", "", 404, "nope"},
		{"PUT", "/system/namespace/dev", `{"name":"other"}`, 400, "does not match"},
		{"PUT", "/system/namespace/dev", `{"name":"dev","labels":{"team":"a"}}`, 202, ""},
		{"GET", "/system/namespace/dev", "", 200, `"team":"a"`},
		{"DELETE", "/system/namespace/busy", `{"name":"busy"}`, 409, "still holds functions"},
		{"DELETE", "/system/namespace/dev", `{"name":"dev"}`, 202, ""},
		{"DELETE", "/system/namespace/dev", ``, 404, "dev"},
	}
	for _, s := range steps {
		req := httptest.NewRequest(s.method, s.path, strings.NewReader(s.body))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(creds.User, creds.Password)
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != s.want || !strings.Contains(string(body), s.wantBody) {
			t.Errorf("%s %s %s = %d %q, want %d containing %q", s.method, s.path, s.body, rec.Code, body, s.want, s.wantBody)
		}
	}
	req := httptest.NewRequest(http.MethodGet, "/system/namespace/dev", nil)
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("GET without auth = %d, want 401", rec.Code)
	}
}
