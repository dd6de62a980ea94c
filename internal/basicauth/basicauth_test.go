package basicauth

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestEnsureCreates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets")
	c, err := Ensure(dir)
	if err != nil {
		t.Fatalf("Ensure(%q) = %v", dir, err)
	}
	if c.User != "admin" {
		t.Errorf("Ensure(%q).User = %q, want admin", dir, c.User)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9]{32,}$`).MatchString(c.Password) {
		t.Errorf("Ensure(%q).Password = %q, want at least 32 letters and digits", dir, c.Password)
	}

	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("dir mode = %v, want 0700", got)
	}
	for name, want := range map[string]string{UserFile: c.User, PasswordFile: c.Password} {
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s mode = %v, want 0600", name, got)
		}
		if data, _ := os.ReadFile(path); string(data) != want {
			t.Errorf("%s holds %q, want %q", name, data, want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("dir holds %d entries, want 2 (temp files left behind?)", len(entries))
	}

	other, err := Ensure(filepath.Join(t.TempDir(), "secrets"))
	if err != nil {
		t.Fatal(err)
	}
	if other.Password == c.Password {
		t.Errorf("two installs got the same password %q", c.Password)
	}
}

func TestEnsureTightensDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Ensure(dir); err != nil {
		t.Fatalf("Ensure(%q) = %v", dir, err)
	}
	fi, _ := os.Stat(dir)
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("dir mode after Ensure = %v, want 0700", got)
	}
}

func TestEnsureKeepsExisting(t *testing.T) {
	dir := t.TempDir()
	first, err := Ensure(dir)
	if err != nil {
		t.Fatal(err)
	}
	before := statFiles(t, dir)
	second, err := Ensure(dir)
	if err != nil {
		t.Fatal(err)
	}
	if second != first {
		t.Errorf("second Ensure = %+v, want the first %+v", second, first)
	}
	after := statFiles(t, dir)
	for name, b := range before {
		a := after[name]
		if !os.SameFile(a, b) {
			t.Errorf("%s was replaced (new inode)", name)
		}
		if !a.ModTime().Equal(b.ModTime()) {
			t.Errorf("%s mtime %v, want unchanged %v", name, a.ModTime(), b.ModTime())
		}
	}
}

func statFiles(t *testing.T, dir string) map[string]os.FileInfo {
	t.Helper()
	out := map[string]os.FileInfo{}
	for _, name := range []string{UserFile, PasswordFile} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = fi
	}
	return out
}

func TestEnsureReads(t *testing.T) {
	tests := []struct {
		name       string
		user, pass *string // nil: file absent
		want       Credentials
		wantErr    string // substring; "" for success
	}{
		{"trimmed", ptr(" bob \n"), ptr("\tpw with inner space\r\n\n"), Credentials{"bob", "pw with inner space"}, ""},
		{"password created next to a user", ptr("carol\n"), nil, Credentials{User: "carol"}, ""},
		{"user created next to a password", nil, ptr("given"), Credentials{"admin", "given"}, ""},
		{"empty user", ptr(""), ptr("pw"), Credentials{}, UserFile + " is empty"},
		{"blank password", ptr("bob"), ptr(" \n\t"), Credentials{}, PasswordFile + " is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.user != nil {
				writeFile(t, filepath.Join(dir, UserFile), *tt.user)
			}
			if tt.pass != nil {
				writeFile(t, filepath.Join(dir, PasswordFile), *tt.pass)
			}
			got, err := Ensure(dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Ensure = %+v, %v; want error containing %q", got, err, tt.wantErr)
				}
				if tt.pass != nil && strings.TrimSpace(*tt.pass) != "" && strings.Contains(err.Error(), strings.TrimSpace(*tt.pass)) {
					t.Errorf("Ensure error %q contains the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Ensure = %v", err)
			}
			if got.User != tt.want.User {
				t.Errorf("Ensure().User = %q, want %q", got.User, tt.want.User)
			}
			if tt.want.Password != "" && got.Password != tt.want.Password {
				t.Errorf("Ensure().Password = %q, want %q", got.Password, tt.want.Password)
			}
			if got.Password == "" {
				t.Errorf("Ensure().Password is empty")
			}
			if tt.user != nil {
				// An existing file is read, never rewritten.
				if data, _ := os.ReadFile(filepath.Join(dir, UserFile)); string(data) != *tt.user {
					t.Errorf("%s now holds %q, want it untouched %q", UserFile, data, *tt.user)
				}
			}
		})
	}
}

func TestEnsureUnusableDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, file, "x")
	if c, err := Ensure(file); err == nil {
		t.Errorf("Ensure(%q) on a regular file = %+v, nil; want an error", file, c)
	}
}

func ptr(s string) *string { return &s }

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRequire(t *testing.T) {
	c := Credentials{User: "admin", Password: "s3cret"}
	tests := []struct {
		name  string
		setup func(r *http.Request)
		ok    bool
	}{
		{"right", func(r *http.Request) { r.SetBasicAuth("admin", "s3cret") }, true},
		{"none", func(r *http.Request) {}, false},
		{"wrong password", func(r *http.Request) { r.SetBasicAuth("admin", "s3cre") }, false},
		{"password with suffix", func(r *http.Request) { r.SetBasicAuth("admin", "s3cret ") }, false},
		{"wrong user", func(r *http.Request) { r.SetBasicAuth("root", "s3cret") }, false},
		{"user case differs", func(r *http.Request) { r.SetBasicAuth("Admin", "s3cret") }, false},
		{"empty both", func(r *http.Request) { r.SetBasicAuth("", "") }, false},
		{"bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret") }, false},
		{"not base64", func(r *http.Request) { r.Header.Set("Authorization", "Basic !!!") }, false},
		{"no colon", func(r *http.Request) { r.Header.Set("Authorization", "Basic YWRtaW5zM2NyZXQ=") }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			h := Require(c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				called = true
				_, _ = io.WriteString(w, "inner")
			}))
			req := httptest.NewRequest("GET", "/system/functions", nil)
			tt.setup(req)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			checkRequire(t, rec, called, tt.ok)
		})
	}
}

// TestRequireEmptyCredentials checks that unset credentials do not open the
// door to requests without any.
func TestRequireEmptyCredentials(t *testing.T) {
	called := false
	h := Require(Credentials{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called = true }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/system/functions", nil))
	checkRequire(t, rec, called, false)
}

func checkRequire(t *testing.T, rec *httptest.ResponseRecorder, called, wantOK bool) {
	t.Helper()
	if called != wantOK {
		t.Errorf("inner handler called = %v, want %v", called, wantOK)
	}
	if wantOK {
		if rec.Code != http.StatusOK || rec.Body.String() != "inner" {
			t.Errorf("GET /system/functions = %d %q, want 200 %q", rec.Code, rec.Body, "inner")
		}
		if got := rec.Header().Get("WWW-Authenticate"); got != "" {
			t.Errorf("WWW-Authenticate = %q on success, want none", got)
		}
		return
	}
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("GET /system/functions = %d, want %d", rec.Code, http.StatusUnauthorized)
	}
	if got, want := rec.Header().Get("WWW-Authenticate"), `Basic realm="Restricted"`; got != want {
		t.Errorf("WWW-Authenticate = %q, want %q", got, want)
	}
	if got := rec.Body.String(); got != "invalid credentials" {
		t.Errorf("body = %q, want %q", got, "invalid credentials")
	}
}
