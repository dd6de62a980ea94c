package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/secrets"
)

// fakeSecrets is an in-memory store keyed "ns/name" that answers the real
// store's errors.
type fakeSecrets struct {
	mu     sync.Mutex
	values map[string][]byte
	users  map[string][]string // "ns/name" → functions using it
}

func newFakeSecrets() *fakeSecrets {
	return &fakeSecrets{values: map[string][]byte{}, users: map[string][]string{}}
}

func (f *fakeSecrets) List(ns string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string // nil when empty: the handler must still send []
	for k := range f.values {
		if n, name, _ := strings.Cut(k, "/"); n == ns {
			out = append(out, name)
		}
	}
	return out, nil
}

func (f *fakeSecrets) Create(ns, name string, v []byte) error {
	if err := secrets.ValidateName(name); err != nil {
		return fmt.Errorf("%w: %v", secrets.ErrInvalid, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.values[ns+"/"+name]; ok {
		return fmt.Errorf("secret %s: %w", name, secrets.ErrExists)
	}
	f.values[ns+"/"+name] = v
	return nil
}

func (f *fakeSecrets) Update(ns, name string, v []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.values[ns+"/"+name]; !ok {
		return fmt.Errorf("secret %s: %w", name, secrets.ErrNotFound)
	}
	f.values[ns+"/"+name] = v
	return nil
}

func (f *fakeSecrets) Remove(ns, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.values[ns+"/"+name]; !ok {
		return fmt.Errorf("secret %s: %w", name, secrets.ErrNotFound)
	}
	delete(f.values, ns+"/"+name)
	return nil
}

func (f *fakeSecrets) UsingSecret(ns, name string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.users[ns+"/"+name]
}

func (f *fakeSecrets) value(ns, name string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.values[ns+"/"+name]
	return string(v), ok
}

func newSecretsEnv(s Secrets, users SecretUsers) *env {
	var buf bytes.Buffer
	cfg := Config{Credentials: creds, Secrets: s, SecretUsers: users}
	fns := &fakeFunctions{}
	return &env{fns: fns, gw: New(fns, invoked, cfg, slog.New(slog.NewTextHandler(&buf, nil))), log: &buf}
}

func TestSecretsAPI(t *testing.T) {
	store := newFakeSecrets()
	e := newSecretsEnv(store, store)
	store.users["openfaas-fn/used"] = []string{"fn-a", "fn-b"}
	store.values["openfaas-fn/used"] = []byte("x")

	steps := []struct {
		method, target, body string
		code                 int
		bodyHas              string
	}{
		{"GET", "/system/secrets", "", 200, `[{"name":"used","namespace":"openfaas-fn"}]`},
		{"POST", "/system/secrets", `{"name":"db","value":"plain"}`, 202, ""},
		{"POST", "/system/secrets", `{"name":"db","value":"again"}`, 409, "db"},
		{"PUT", "/system/secrets", `{"name":"db","value":"v2","rawValue":"cmF3"}`, 202, ""}, // rawValue "raw" wins
		{"PUT", "/system/secrets", `{"name":"nope","value":"v"}`, 404, "nope"},
		{"POST", "/system/secrets", `{"name":"../x","value":"v"}`, 400, "../x"},
		{"POST", "/system/secrets", `{"name":"","value":"v"}`, 400, "name is required"},
		{"POST", "/system/secrets", `{"name":"a","namespace":"other","value":"v"}`, 400, `"other"`},
		{"POST", "/system/secrets?namespace=other", `{"name":"a","value":"v"}`, 400, `"other"`},
		{"GET", "/system/secrets?namespace=other", "", 400, `"other"`},
		{"POST", "/system/secrets", `{"name":`, 400, "unmarshal"},
		{"DELETE", "/system/secrets", `{"name":"used"}`, 409, "fn-a, fn-b"},
		{"DELETE", "/system/secrets", `{"name":"missing"}`, 404, "missing"},
		{"DELETE", "/system/secrets?namespace=other", `{"name":"db","namespace":"openfaas-fn"}`, 202, ""}, // body wins
		{"DELETE", "/system/secrets", `{"name":"db"}`, 404, "db"},
	}
	for _, s := range steps {
		rec := e.do(s.method, s.target, s.body, authRight)
		if rec.Code != s.code || !strings.Contains(rec.Body.String(), s.bodyHas) {
			t.Errorf("%s %s %s = %d %q, want %d containing %q", s.method, s.target, s.body, rec.Code, rec.Body.String(), s.code, s.bodyHas)
		}
		if rec.Code == http.StatusNoContent {
			t.Errorf("%s %s = 204; clients reject it", s.method, s.target)
		}
		if s.method == "PUT" && s.code == 202 {
			if v, _ := store.value("openfaas-fn", "db"); v != "raw" {
				t.Errorf("after PUT the value is %q, want rawValue %q", v, "raw")
			}
		}
	}
}

func TestSecretsListNeverNullNeverValues(t *testing.T) {
	store := newFakeSecrets()
	e := newSecretsEnv(store, store)
	if rec := e.do("GET", "/system/secrets", "", authRight); rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Errorf("GET empty = %d %q, want 200 []", rec.Code, rec.Body.String())
	}
	e.do("POST", "/system/secrets", `{"name":"k","value":"topsecretvalue"}`, authRight)
	e.do("POST", "/system/secrets", `{"name":"r","rawValue":"dG9wc2VjcmV0cmF3"}`, authRight)
	rec := e.do("GET", "/system/secrets", "", authRight)
	var got []api.Secret
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || len(got) != 2 {
		t.Fatalf("GET = %q, %v; want two secrets", rec.Body.String(), err)
	}
	if b := rec.Body.String(); strings.Contains(b, "topsecret") || strings.Contains(b, "dG9wc2VjcmV0") || strings.Contains(b, "value") {
		t.Errorf("GET = %q: it carries values", b)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if strings.Contains(e.log.String(), "topsecret") {
		t.Errorf("the log holds a secret value: %s", e.log.String())
	}
}

func TestSecretsRequireAuth(t *testing.T) {
	store := newFakeSecrets()
	e := newSecretsEnv(store, store)
	for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
		if rec := e.do(m, "/system/secrets", `{"name":"a","value":"v"}`, authNone); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s /system/secrets without credentials = %d, want 401", m, rec.Code)
		}
	}
	if _, ok := store.value("openfaas-fn", "a"); ok {
		t.Error("an unauthenticated POST created a secret")
	}
}

func TestSecretsBodyCap(t *testing.T) {
	store := newFakeSecrets()
	e := newSecretsEnv(store, store)
	body := `{"name":"big","value":"` + strings.Repeat("a", maxBodyBytes) + `"}`
	if rec := e.do("POST", "/system/secrets", body, authRight); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("POST of %d bytes = %d, want 413", len(body), rec.Code)
	}
}

// failingSecrets fails every call with an internal error.
type failingSecrets struct{}

func (failingSecrets) List(string) ([]string, error) {
	return nil, fmt.Errorf("read /var/lib/funcd/secrets: %w", os.ErrPermission)
}
func (failingSecrets) Create(string, string, []byte) error { return os.ErrPermission }
func (failingSecrets) Update(string, string, []byte) error { return os.ErrPermission }
func (failingSecrets) Remove(string, string) error         { return os.ErrPermission }

func TestSecretsInternalErrorsAreGeneric(t *testing.T) {
	e := newSecretsEnv(failingSecrets{}, nil)
	for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
		rec := e.do(m, "/system/secrets", `{"name":"a","value":"v"}`, authRight)
		if rec.Code != 500 || strings.Contains(rec.Body.String(), "/var/lib") || strings.Contains(rec.Body.String(), "permission") {
			t.Errorf("%s = %d %q, want a generic 500", m, rec.Code, rec.Body.String())
		}
	}
}

// TestSecretsTraversalRealStore drives the handlers over the real store and
// checks that no name reaches outside it.
func TestSecretsTraversalRealStore(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "secrets")
	outside := filepath.Join(root, "outside")
	if err := os.WriteFile(outside, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newSecretsEnv(secrets.New(dir), nil)
	for _, name := range []string{"../../outside", "../outside", "a/b", "..", "/etc/passwd", strings.Repeat("a", 254), "A"} {
		body, _ := json.Marshal(api.Secret{Name: name, Value: "pwned"})
		for _, m := range []string{"POST", "PUT", "DELETE"} {
			rec := e.do(m, "/system/secrets", string(body), authRight)
			if rec.Code != http.StatusBadRequest {
				t.Errorf("%s name %.30q = %d %q, want 400", m, name, rec.Code, rec.Body.String())
			}
		}
	}
	if b, err := os.ReadFile(outside); err != nil || string(b) != "keep" {
		t.Errorf("outside file = %q, %v; want it untouched", b, err)
	}
}
