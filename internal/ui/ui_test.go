package ui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/basicauth"
)

// fakeCreds are credentials a test may change.
type fakeCreds struct {
	mu sync.Mutex
	c  basicauth.Credentials
}

func (f *fakeCreds) Current() basicauth.Credentials {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.c
}

func (f *fakeCreds) set(pass string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.c.Password = pass
}

// clock is a fake time a test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const testPassword = "s3cret-pw"

// env is a UI handler behind a gateway-like mux: /system/echo guarded by
// the sessions, as the gateway guards /system.
type env struct {
	t     *testing.T
	creds *fakeCreds
	clock *clock
	ui    *Handler
	h     http.Handler
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	e := &env{t: t, creds: &fakeCreds{c: basicauth.Credentials{User: "admin", Password: testPassword}},
		clock: &clock{t: time.Date(2026, 12, 2, 20, 0, 30, 0, time.UTC)}}
	cfg.Sessions = newSessions(e.creds, e.clock.now)
	h, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.now = e.clock.now
	e.ui = h
	mux := http.NewServeMux()
	mux.Handle("/system/echo", cfg.Sessions.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})))
	mux.Handle("/", h)
	e.h = mux
	return e
}

// do serves one request; remote is its client address.
func (e *env) do(method, target string, body string, hdr map[string]string) *http.Response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	if body != "" {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		if k == "RemoteAddr" {
			r.RemoteAddr = v
			continue
		}
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w.Result()
}

// login posts the form and returns the answer.
func (e *env) login(user, pass, next string, hdr map[string]string) *http.Response {
	e.t.Helper()
	form := url.Values{"user": {user}, "password": {pass}}
	if next != "" {
		form.Set("next", next)
	}
	return e.do(http.MethodPost, "/ui/login", form.Encode(), hdr)
}

// session logs in and returns the cookie header value and CSRF token.
func (e *env) session() (cookie, csrf string) {
	e.t.Helper()
	resp := e.login("admin", testPassword, "", nil)
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("login = %d, want 303", resp.StatusCode)
	}
	var c *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == CookieName {
			c = k
		}
	}
	if c == nil {
		e.t.Fatal("login set no session cookie")
	}
	cookie = CookieName + "=" + c.Value
	resp = e.do(http.MethodGet, "/ui/api/session", "", map[string]string{"Cookie": cookie})
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET /ui/api/session = %d, want 200", resp.StatusCode)
	}
	b, _ := io.ReadAll(resp.Body)
	_, after, _ := strings.Cut(string(b), `"csrf":"`)
	csrf, _, _ = strings.Cut(after, `"`)
	if csrf == "" {
		e.t.Fatalf("GET /ui/api/session = %s, want a csrf token", b)
	}
	return cookie, csrf
}

func TestRedirectRoot(t *testing.T) {
	e := newEnv(t, Config{})
	resp := e.do(http.MethodGet, "/", "", nil)
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("GET / = %d to %q, want 307 to /ui/", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestLoginAndSession(t *testing.T) {
	e := newEnv(t, Config{})
	resp := e.login("admin", testPassword, "/ui/#/functions", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/#/functions" {
		t.Fatalf("login = %d to %q, want 303 to /ui/#/functions", resp.StatusCode, resp.Header.Get("Location"))
	}
	cookie, csrf := e.session()
	resp = e.do(http.MethodGet, "/ui/", "", map[string]string{"Cookie": cookie})
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET /ui/ with a session = %d %q, want 200 HTML", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, c := range []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"cookie and header", map[string]string{"Cookie": cookie, CSRFHeader: csrf}, 200},
		{"cookie without header", map[string]string{"Cookie": cookie}, 403},
		{"cookie with wrong header", map[string]string{"Cookie": cookie, CSRFHeader: otherToken(csrf)}, 403},
		{"header without cookie", map[string]string{CSRFHeader: csrf}, 401},
		{"nothing", nil, 401},
		{"basic", map[string]string{"Authorization": basicHeader("admin", testPassword)}, 200},
		{"wrong basic with cookie", map[string]string{"Authorization": basicHeader("admin", "x"), "Cookie": cookie, CSRFHeader: csrf}, 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := e.do(http.MethodGet, "/system/echo", "", c.hdr)
			if resp.StatusCode != c.want {
				t.Errorf("GET /system/echo = %d, want %d", resp.StatusCode, c.want)
			}
		})
	}
}

func basicHeader(user, pass string) string {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}

// otherToken is tok with its last character changed.
func otherToken(tok string) string {
	last := "A"
	if strings.HasSuffix(tok, "A") {
		last = "B"
	}
	return tok[:len(tok)-1] + last
}
