package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/client"
)

// TestSecrets drives /system/secrets end to end: a secret created through
// the API is readable inside a function, an update reaches the running
// function without a redeploy, a secret in use cannot be deleted, bad names
// never touch the disk, and nothing is left behind (views included).
func TestSecrets(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	c := f.Client(t)
	ctx := t.Context()
	secretsDir := filepath.Join(f.StateDir, "secrets")

	if err := c.CreateSecret(ctx, api.Secret{Name: "db-pass", Value: "first"}); err != nil {
		t.Fatalf("CreateSecret = %v", err)
	}
	if err := c.CreateSecret(ctx, api.Secret{Name: "db-pass", Value: "again"}); !errors.Is(err, client.ErrConflict) {
		t.Errorf("CreateSecret(existing) = %v, want ErrConflict", err)
	}
	if err := c.CreateSecret(ctx, api.Secret{Name: "bin", RawValue: []byte("\x00raw\xff"), Value: "ignored"}); err != nil {
		t.Fatalf("CreateSecret(raw) = %v", err)
	}
	fi, err := os.Stat(filepath.Join(secretsDir, "namespaces", fnNamespace, "db-pass"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("stored secret = %v, %v; want mode 0600", fi, err)
	}

	// Listing gives names, never values.
	resp, body := authed(t, f, http.MethodGet, "/system/secrets", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"db-pass"`) || strings.Contains(string(body), "first") || strings.Contains(string(body), "value") {
		t.Errorf("GET /system/secrets = %d %s, want names without values", resp.StatusCode, body)
	}

	deployReady(t, c, api.FunctionDeployment{Service: "reader", Image: imageRef("testfn:v1"), Secrets: []string{"db-pass", "bin"}})
	read := func(name string) (string, error) {
		code, body, err := call(ctx, c, "reader", http.MethodGet, "/file?path=/var/openfaas/secrets/"+name, "")
		if err != nil {
			return "", err
		}
		if code != 200 {
			return "", fmt.Errorf("GET /file %s = %d %q", name, code, body)
		}
		return body, nil
	}
	if got, err := read("db-pass"); err != nil || got != "first" {
		t.Errorf("secret inside = %q, %v; want first", got, err)
	}
	if got, err := read("bin"); err != nil || got != "\x00raw\xff" {
		t.Errorf("raw secret inside = %q, %v; want the rawValue bytes", got, err)
	}
	pids := tasks(t, "reader")

	// An update reaches the running function, without a redeploy.
	if err := c.UpdateSecret(ctx, api.Secret{Name: "db-pass", Value: "second"}); err != nil {
		t.Fatalf("UpdateSecret = %v", err)
	}
	eventually(t, 5*time.Second, func() error {
		if got, err := read("db-pass"); err != nil || got != "second" {
			return fmt.Errorf("secret inside after update = %q, %v; want second", got, err)
		}
		return nil
	})
	if got := tasks(t, "reader"); fmt.Sprint(got) != fmt.Sprint(pids) {
		t.Errorf("tasks after the update = %v, want the same as before %v", got, pids)
	}
	if err := c.UpdateSecret(ctx, api.Secret{Name: "ghost", Value: "x"}); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("UpdateSecret(missing) = %v, want ErrNotFound", err)
	}

	// A secret in use cannot go; the answer names the function.
	err = c.RemoveSecret(ctx, "db-pass", "")
	var se *client.StatusError
	if !errors.Is(err, client.ErrConflict) || !errors.As(err, &se) || !strings.Contains(se.Body, "reader") {
		t.Errorf("RemoveSecret(in use) = %v, want 409 naming reader", err)
	}

	// Unknown secrets and bad names.
	err = c.Deploy(ctx, api.FunctionDeployment{Service: "ghostly", Image: imageRef("testfn:v1"), Secrets: []string{"ghost"}})
	if !isStatus(err, 400) || !strings.Contains(err.Error(), "ghost") {
		t.Errorf("Deploy(unknown secret) = %v, want 400 naming ghost", err)
	}
	for _, name := range []string{"../x", "../../basic-auth-password", "a/b", "..", "", strings.Repeat("a", 254)} {
		if err := c.CreateSecret(ctx, api.Secret{Name: name, Value: "pwned"}); !isStatus(err, 400) {
			t.Errorf("CreateSecret(%.20q) = %v, want 400", name, err)
		}
		if err := c.UpdateSecret(ctx, api.Secret{Name: name, Value: "pwned"}); !isStatus(err, 400) {
			t.Errorf("UpdateSecret(%.20q) = %v, want 400", name, err)
		}
		if err := c.RemoveSecret(ctx, name, ""); !isStatus(err, 400) {
			t.Errorf("RemoveSecret(%.20q) = %v, want 400", name, err)
		}
	}
	if err := c.CreateSecret(ctx, api.Secret{Name: "x", Namespace: "other", Value: "v"}); !isStatus(err, 400) || !strings.Contains(err.Error(), "other") {
		t.Errorf("CreateSecret(namespace other) = %v, want 400 naming it", err)
	}
	if _, err := os.Stat(filepath.Join(secretsDir, "x")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a bad name reached the disk: %v", err)
	}

	// Remove the function, then its secrets: 202, never 204.
	if err := c.Remove(ctx, "reader", ""); err != nil {
		t.Fatalf("Remove = %v", err)
	}
	for _, name := range []string{"db-pass", "bin"} {
		resp, body := authed(t, f, http.MethodDelete, "/system/secrets", strings.NewReader(`{"name":"`+name+`"}`))
		if resp.StatusCode != http.StatusAccepted {
			t.Errorf("DELETE secret %s = %d %s, want 202", name, resp.StatusCode, body)
		}
	}
	if err := c.RemoveSecret(ctx, "db-pass", ""); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("RemoveSecret(gone) = %v, want ErrNotFound", err)
	}
	if list, err := c.ListSecrets(ctx, ""); err != nil || len(list) != 0 {
		t.Errorf("ListSecrets = %v, %v; want none", list, err)
	}
	assertNoLeftovers(t, f)
	for _, dir := range []string{filepath.Join(secretsDir, "namespaces", fnNamespace), filepath.Join(secretsDir, "views", fnNamespace)} {
		if entries, _ := os.ReadDir(dir); len(entries) > 0 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("%s still holds %v", dir, names)
		}
	}
}
