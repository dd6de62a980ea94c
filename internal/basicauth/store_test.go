package basicauth

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestStoreFollowsFiles(t *testing.T) {
	dir := t.TempDir()
	now := time.Unix(1e9, 0)
	s, err := newStore(dir, nil, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	first := s.Current()
	if first.User != "admin" || first.Password == "" {
		t.Fatalf("Current() = %+v, want admin and a password", first)
	}
	write := func(name, v string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(PasswordFile, "n3w-password\n")
	now = now.Add(recheck / 2)
	if got := s.Current(); got != first {
		t.Errorf("Current() within %v of the last look = %+v, want the old %+v (files looked at once a second)", recheck, got, first)
	}
	now = now.Add(recheck)
	if got := s.Current(); got.Password != "n3w-password" || got.User != "admin" {
		t.Errorf("Current() after the change = %+v, want admin/n3w-password", got)
	}
	// An empty file does not lock everyone out: the last good ones stay.
	write(PasswordFile, "")
	now = now.Add(recheck)
	if got := s.Current(); got.Password != "n3w-password" {
		t.Errorf("Current() with an empty password file = %+v, want the last good password", got)
	}
	write(UserFile, "root")
	write(PasswordFile, "third")
	now = now.Add(recheck)
	if got := s.Current(); got != (Credentials{User: "root", Password: "third"}) {
		t.Errorf("Current() = %+v, want root/third", got)
	}

	h := s.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for pass, want := range map[string]int{"third": 200, "n3w-password": 401, first.Password: 401} {
		r := httptest.NewRequest(http.MethodGet, "/system/functions", nil)
		r.SetBasicAuth("root", pass)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("Require with root/%s = %d, want %d", pass, w.Code, want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	a := Credentials{User: "admin", Password: "x"}
	for _, b := range []Credentials{{User: "admin", Password: "y"}, {User: "admi", Password: "nx"}, {User: "root", Password: "x"}} {
		if a.Fingerprint() == b.Fingerprint() {
			t.Errorf("Fingerprint(%+v) = Fingerprint(%+v)", a, b)
		}
	}
	if a.Fingerprint() != (Credentials{User: "admin", Password: "x"}).Fingerprint() {
		t.Error("Fingerprint differs for the same credentials")
	}
}
