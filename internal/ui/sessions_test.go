package ui

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/basicauth"
)

// status is the answer to GET /ui/api/session with cookie.
func (e *env) sessionStatus(cookie string) int {
	e.t.Helper()
	return e.do(http.MethodGet, "/ui/api/session", "", map[string]string{"Cookie": cookie}).StatusCode
}

func TestSessionExpiry(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		e := newEnv(t, Config{})
		cookie, _ := e.session()
		e.clock.add(IdleTimeout - time.Minute)
		if got := e.sessionStatus(cookie); got != http.StatusOK {
			t.Fatalf("after %v idle = %d, want 200", IdleTimeout-time.Minute, got)
		}
		e.clock.add(IdleTimeout - time.Minute) // used a moment ago: still fine
		if got := e.sessionStatus(cookie); got != http.StatusOK {
			t.Fatalf("used again within %v = %d, want 200", IdleTimeout, got)
		}
		e.clock.add(IdleTimeout)
		if got := e.sessionStatus(cookie); got != http.StatusUnauthorized {
			t.Errorf("after %v idle = %d, want 401", IdleTimeout, got)
		}
		if n := e.ui.sessions.Len(); n != 0 {
			t.Errorf("%d sessions held after expiry, want 0", n)
		}
	})
	t.Run("absolute", func(t *testing.T) {
		e := newEnv(t, Config{})
		cookie, csrf := e.session()
		for used := time.Duration(0); used < MaxAge-IdleTimeout; used += IdleTimeout / 2 {
			e.clock.add(IdleTimeout / 2)
			if got := e.do(http.MethodGet, "/system/echo", "", map[string]string{"Cookie": cookie, CSRFHeader: csrf}).StatusCode; got != http.StatusOK {
				t.Fatalf("in use after %v = %d, want 200", used, got)
			}
		}
		e.clock.add(IdleTimeout)
		if got := e.do(http.MethodGet, "/system/echo", "", map[string]string{"Cookie": cookie, CSRFHeader: csrf}).StatusCode; got != http.StatusUnauthorized {
			t.Errorf("in use past %v = %d, want 401", MaxAge, got)
		}
	})
}

func TestPasswordChangeEndsSessions(t *testing.T) {
	e := newEnv(t, Config{})
	cookie, csrf := e.session()
	e.creds.set("n3w-password")
	if got := e.do(http.MethodGet, "/system/echo", "", map[string]string{"Cookie": cookie, CSRFHeader: csrf}).StatusCode; got != http.StatusUnauthorized {
		t.Errorf("session after the password changed = %d, want 401", got)
	}
	for pass, want := range map[string]int{"n3w-password": 200, testPassword: 401} {
		if got := e.do(http.MethodGet, "/system/echo", "", map[string]string{"Authorization": basicHeader("admin", pass)}).StatusCode; got != want {
			t.Errorf("Basic with %q = %d, want %d", pass, got, want)
		}
	}
	if resp := e.login("admin", testPassword, "", nil); resp.Header.Get("Location") != "/ui/login?error=bad" {
		t.Errorf("login with the old password = %d to %q, want refused", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := e.login("admin", "n3w-password", "", nil); len(resp.Cookies()) != len(CookiePaths) {
		t.Errorf("login with the new password set no cookie")
	}
}

// TestPasswordFileChange changes the password file under a real
// basicauth.Store: Basic auth and sessions follow within a second.
func TestPasswordFileChange(t *testing.T) {
	dir := t.TempDir()
	store, err := basicauth.NewStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Config{})
	e.ui.sessions.creds = store
	old := store.Current().Password
	resp := e.login("admin", old, "", nil)
	if len(resp.Cookies()) != len(CookiePaths) {
		t.Fatal("login with the file's password set no cookie")
	}
	cookie := CookieName + "=" + resp.Cookies()[0].Value
	if got := e.sessionStatus(cookie); got != http.StatusOK {
		t.Fatalf("session = %d, want 200", got)
	}
	writeFile(t, dir+"/"+basicauth.PasswordFile, "n3w-password\n")
	deadline := time.Now().Add(5 * time.Second)
	for e.sessionStatus(cookie) != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatal("the session outlived the password file's change")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := e.do(http.MethodGet, "/system/echo", "", map[string]string{"Authorization": basicHeader("admin", "n3w-password")}).StatusCode; got != 200 {
		t.Errorf("Basic with the new password = %d, want 200", got)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t, Config{})
	cookie, csrf := e.session()
	for _, hdr := range []map[string]string{{"Cookie": cookie}, {"Cookie": cookie, CSRFHeader: "wrong"}} {
		if got := e.do(http.MethodPost, "/ui/logout", "", hdr).StatusCode; got != http.StatusForbidden {
			t.Errorf("logout %v = %d, want 403", hdr, got)
		}
	}
	if got := e.sessionStatus(cookie); got != http.StatusOK {
		t.Fatalf("session after refused logouts = %d, want 200", got)
	}
	resp := e.do(http.MethodPost, "/ui/logout", "", map[string]string{"Cookie": cookie, CSRFHeader: csrf})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/login" {
		t.Errorf("logout = %d to %q, want 303 to /ui/login", resp.StatusCode, resp.Header.Get("Location"))
	}
	if set := resp.Header.Get("Set-Cookie"); !strings.Contains(set, CookieName+"=;") || !strings.Contains(set, "Max-Age=0") {
		t.Errorf("logout Set-Cookie = %q, want the cookie cleared", set)
	}
	if got := e.sessionStatus(cookie); got != http.StatusUnauthorized {
		t.Errorf("session after logout = %d, want 401", got)
	}
	if got := e.do(http.MethodGet, "/system/echo", "", map[string]string{"Cookie": cookie, CSRFHeader: csrf}).StatusCode; got != http.StatusUnauthorized {
		t.Errorf("API with the old cookie = %d, want 401", got)
	}
	// The form field works as the header does.
	cookie, csrf = e.session()
	resp = e.do(http.MethodPost, "/ui/logout", "csrf="+csrf, map[string]string{"Cookie": cookie})
	if resp.StatusCode != http.StatusSeeOther || e.sessionStatus(cookie) != http.StatusUnauthorized {
		t.Errorf("logout with the form field = %d, session still live", resp.StatusCode)
	}
	// Cross-origin logout is refused before anything.
	cookie, csrf = e.session()
	if got := e.do(http.MethodPost, "/ui/logout", "", map[string]string{"Cookie": cookie, CSRFHeader: csrf, "Sec-Fetch-Site": "cross-site"}).StatusCode; got != http.StatusForbidden {
		t.Errorf("cross-site logout = %d, want 403", got)
	}
}

func TestSessionCap(t *testing.T) {
	e := newEnv(t, Config{})
	first, _ := e.session()
	var last string
	for range MaxSessions {
		e.clock.add(time.Second)
		last, _ = e.session()
	}
	if n := e.ui.sessions.Len(); n != MaxSessions {
		t.Errorf("%d sessions held, want %d", n, MaxSessions)
	}
	if got := e.sessionStatus(first); got != http.StatusUnauthorized {
		t.Errorf("the oldest session after %d more = %d, want 401", MaxSessions, got)
	}
	if got := e.sessionStatus(last); got != http.StatusOK {
		t.Errorf("the newest session = %d, want 200", got)
	}
}

// TestOutsider: what someone without a session must not reach.
func TestOutsider(t *testing.T) {
	e := newEnv(t, Config{Functions: fakeFunctions{"openfaas-fn": {{Name: "echo"}}}})
	cookie, csrf := e.session()
	forged := CookieName + "=" + strings.Repeat("A", 43)
	expiredEnv := newEnv(t, Config{Functions: fakeFunctions{"openfaas-fn": {{Name: "echo"}}}})
	expired, expiredCSRF := expiredEnv.session()
	expiredEnv.clock.add(IdleTimeout)
	for _, who := range []struct {
		name string
		e    *env
		hdr  map[string]string
	}{
		{"nothing", e, nil},
		{"forged cookie", e, map[string]string{"Cookie": forged, CSRFHeader: csrf}},
		{"malformed cookie", e, map[string]string{"Cookie": CookieName + "=<script>", CSRFHeader: csrf}},
		{"CSRF token without cookie", e, map[string]string{CSRFHeader: csrf}},
		{"another session's cookie name", e, map[string]string{"Cookie": "session=" + strings.TrimPrefix(cookie, CookieName+"="), CSRFHeader: csrf}},
		{"expired cookie", expiredEnv, map[string]string{"Cookie": expired, CSRFHeader: expiredCSRF}},
	} {
		t.Run(who.name, func(t *testing.T) {
			for _, req := range []struct{ method, path string }{
				{"GET", "/ui/api/session"},
				{"GET", "/ui/api/functions"},
				{"GET", "/ui/api/history?name=echo"},
				{"POST", "/ui/api/stack"},
				{"GET", "/ui/api/nothing-here"},
				{"GET", "/system/echo"},
			} {
				resp := who.e.do(req.method, req.path, "", who.hdr)
				b, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("%s %s = %d, want 401", req.method, req.path, resp.StatusCode)
				}
				if strings.Contains(string(b), "csrf") || strings.Contains(string(b), "echo") {
					t.Errorf("%s %s leaks %q", req.method, req.path, b)
				}
			}
			for _, p := range []string{"/ui/", "/ui/index.html", "/ui/functions"} {
				resp := who.e.do("GET", p, "", who.hdr)
				if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/ui/login") {
					t.Errorf("GET %s = %d to %q, want 303 to the login form", p, resp.StatusCode, resp.Header.Get("Location"))
				}
			}
		})
	}
}
