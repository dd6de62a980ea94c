package client

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCredentialsRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".openfaas")
	if err := SaveCredentials(dir, "HTTP://127.0.0.1:8080/", "admin", "pa:ss"); err != nil {
		t.Fatalf("SaveCredentials() = %v", err)
	}
	if err := SaveCredentials(dir, "http://other:8080", "bob", "x"); err != nil {
		t.Fatalf("SaveCredentials() = %v", err)
	}
	if err := SaveCredentials(dir, "http://127.0.0.1:8080", "admin", "new"); err != nil {
		t.Fatalf("SaveCredentials() = %v", err)
	}
	tests := []struct {
		gateway, user, pass string
		ok                  bool
	}{
		{"http://127.0.0.1:8080", "admin", "new", true},
		{"http://127.0.0.1:8080/", "admin", "new", true},
		{"http://OTHER:8080", "bob", "x", true},
		{"http://127.0.0.1:9999", "", "", false},
	}
	for _, tt := range tests {
		user, pass, ok, err := LoadCredentials(dir, tt.gateway)
		if err != nil || user != tt.user || pass != tt.pass || ok != tt.ok {
			t.Errorf("LoadCredentials(%q) = %q, %q, %v, %v, want %q, %q, %v", tt.gateway, user, pass, ok, err, tt.user, tt.pass, tt.ok)
		}
	}

	data, err := os.ReadFile(filepath.Join(dir, ConfigFileName))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "gateway:"); n != 2 {
		t.Errorf("config has %d gateway entries, want 2:\n%s", n, data)
	}
	if !strings.Contains(string(data), "gateway: http://127.0.0.1:8080\n") || !strings.Contains(string(data), "auth: basic") {
		t.Errorf("config = %s, want faas-cli layout", data)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, ConfigFileName): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("mode of %s = %v, want %v", path, got, want)
		}
	}
}

func TestLoadCredentialsFaasCLIFile(t *testing.T) {
	dir := t.TempDir()
	// As written by faas-cli login, plus an OAuth entry funcd must keep.
	const file = `auths:
- gateway: http://127.0.0.1:8080
  auth: basic
  token: YWRtaW46c2VjcmV0
- gateway: https://sso.example.com
  auth: oauth2
  token: abc
  options:
  - name: client_id
    value: x
`
	if err := os.WriteFile(filepath.Join(dir, ConfigFileName), []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	user, pass, ok, err := LoadCredentials(dir, "http://127.0.0.1:8080")
	if err != nil || !ok || user != "admin" || pass != "secret" {
		t.Errorf("LoadCredentials() = %q, %q, %v, %v, want admin, secret", user, pass, ok, err)
	}
	if _, _, ok, err := LoadCredentials(dir, "https://sso.example.com"); ok || err != nil {
		t.Errorf("LoadCredentials(oauth2 entry) = ok %v, %v, want not ok", ok, err)
	}
	if err := SaveCredentials(dir, "http://127.0.0.1:8080", "admin", "x"); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, ConfigFileName))
	if !strings.Contains(string(data), "client_id") {
		t.Errorf("config after save = %s, want the oauth2 options kept", data)
	}
}

func TestLoadCredentialsMissingAndBroken(t *testing.T) {
	dir := t.TempDir()
	if _, _, ok, err := LoadCredentials(dir, "http://x"); ok || err != nil {
		t.Errorf("LoadCredentials(no file) = ok %v, %v, want not ok, nil", ok, err)
	}
	os.WriteFile(filepath.Join(dir, ConfigFileName), []byte("auths: [{gateway: http://x, auth: basic, token: '!!'}]"), 0o600)
	if _, _, _, err := LoadCredentials(dir, "http://x"); err == nil {
		t.Errorf("LoadCredentials(bad token) = nil error, want error")
	}
	os.WriteFile(filepath.Join(dir, ConfigFileName), []byte("auths: {"), 0o600)
	if _, _, _, err := LoadCredentials(dir, "http://x"); err == nil {
		t.Errorf("LoadCredentials(bad yaml) = nil error, want error")
	}
}
