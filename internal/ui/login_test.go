package ui

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestLoginFailure(t *testing.T) {
	e := newEnv(t, Config{})
	for _, c := range []struct{ user, pass string }{{"admin", "wrong"}, {"root", testPassword}, {"", ""}, {"admin", testPassword + " "}} {
		resp := e.login(c.user, c.pass, "", nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/login?error=bad" {
			t.Errorf("login(%q, %q) = %d to %q, want 303 to /ui/login?error=bad", c.user, c.pass, resp.StatusCode, resp.Header.Get("Location"))
		}
		if len(resp.Cookies()) != 0 {
			t.Errorf("login(%q, %q) set cookies %v, want none", c.user, c.pass, resp.Cookies())
		}
	}
	if n := e.ui.sessions.Len(); n != 0 {
		t.Errorf("%d sessions after failed logins, want 0", n)
	}
}

// TestCookieAttributes logs in over plain HTTP and over TLS: the cookie
// is HttpOnly and SameSite=Strict always, Secure only over TLS.
func TestCookieAttributes(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tls), func(t *testing.T) {
			e := newEnv(t, Config{})
			var srv *httptest.Server
			if tls {
				srv = httptest.NewTLSServer(e.h)
			} else {
				srv = httptest.NewServer(e.h)
			}
			defer srv.Close()
			c := srv.Client()
			c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			resp, err := c.PostForm(srv.URL+"/ui/login", url.Values{"user": {"admin"}, "password": {testPassword}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			sets := resp.Header.Values("Set-Cookie")
			if len(sets) != 2 {
				t.Fatalf("Set-Cookie = %q, want two: for /ui/ and /system/", sets)
			}
			for i, set := range sets {
				for _, want := range []string{CookieName + "=", "Path=" + CookiePaths[i] + ";", "HttpOnly", "SameSite=Strict"} {
					if !strings.Contains(set, want) {
						t.Errorf("Set-Cookie = %q, want %s", set, want)
					}
				}
				if got := strings.Contains(set, "Secure"); got != tls {
					t.Errorf("Set-Cookie = %q: Secure %v, want %v", set, got, tls)
				}
				if strings.Contains(set, "Max-Age") || strings.Contains(set, "Expires") {
					t.Errorf("Set-Cookie = %q, want a cookie for the browser's session only", set)
				}
			}
		})
	}
}

func TestNext(t *testing.T) {
	e := newEnv(t, Config{})
	for _, c := range []struct{ next, want string }{
		{"", "/ui/"},
		{"/ui/", "/ui/"},
		{"/ui/#/function/openfaas-fn/echo", "/ui/#/function/openfaas-fn/echo"},
		{"/ui/?x=1", "/ui/?x=1"},
		{"//evil.example/ui/", "/ui/"},
		{"///evil.example", "/ui/"},
		{"https://evil.example/ui/", "/ui/"},
		{"https:evil.example", "/ui/"},
		{"javascript:alert(1)", "/ui/"},
		{"/system/functions", "/ui/"},
		{"/system/../ui/", "/ui/"},
		{"/ui/../system/functions", "/ui/"},
		{"/ui/%2e%2e/system", "/ui/"},
		{"/ui//evil.example", "/ui/"},
		{"/ui/\\evil.example", "/ui/"},
		{"/\\evil.example", "/ui/"},
		{"/ui/\r\nSet-Cookie: x=y", "/ui/"},
		{"/ui/ x", "/ui/"},
		{"ui/", "/ui/"},
	} {
		resp := e.login("admin", testPassword, c.next, nil)
		if got := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || got != c.want {
			t.Errorf("login with next %q = %d to %q, want 303 to %q", c.next, resp.StatusCode, got, c.want)
		}
	}
}

func TestLoginCrossOrigin(t *testing.T) {
	e := newEnv(t, Config{})
	for _, hdr := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Origin": "https://evil.example"},
	} {
		resp := e.login("admin", testPassword, "", hdr)
		if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
			t.Errorf("cross-origin login %v = %d with cookies %v, want 403 and none", hdr, resp.StatusCode, resp.Cookies())
		}
	}
	resp := e.login("admin", testPassword, "", map[string]string{"Sec-Fetch-Site": "same-origin"})
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != len(CookiePaths) {
		t.Errorf("same-origin login = %d, want 303 with a cookie", resp.StatusCode)
	}
}

func TestLoginRateLimit(t *testing.T) {
	e := newEnv(t, Config{})
	from := func(ip string) map[string]string { return map[string]string{"RemoteAddr": ip + ":40000"} }
	a := from("192.0.2.1")
	for i := 1; i <= freeFailures; i++ {
		if resp := e.login("admin", "wrong", "", a); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("wrong try %d = %d, want 303", i, resp.StatusCode)
		}
	}
	resp := e.login("admin", "wrong", "", a)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "10" {
		t.Fatalf("wrong try %d = %d, Retry-After %q; want 429, 10", freeFailures+1, resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "Try again in 10 seconds") || !strings.Contains(string(body), "/ui/login?error=limited") {
		t.Errorf("429 page = %s, want the wait and a link back", body)
	}
	// Refused without being checked: the right password too.
	if resp := e.login("admin", testPassword, "", a); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("right password while limited = %d, want 429", resp.StatusCode)
	}
	// Another address is not held back; nor is the same /64 different.
	if resp := e.login("admin", "wrong", "", from("192.0.2.2")); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("another address = %d, want 303", resp.StatusCode)
	}
	e.clock.add(5 * time.Second)
	if resp := e.login("admin", testPassword, "", a); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "5" {
		t.Errorf("after 5 s = %d, Retry-After %q; want 429, 5", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	e.clock.add(5 * time.Second)
	if resp := e.login("admin", "wrong", "", a); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("one try after 10 s = %d, want 303", resp.StatusCode)
	}
	if resp := e.login("admin", testPassword, "", a); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the try after that = %d, want 429", resp.StatusCode)
	}
	e.clock.add(failureDelay)
	if resp := e.login("admin", testPassword, "", a); resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != len(CookiePaths) {
		t.Fatalf("right password after the wait = %d, want 303 with a session", resp.StatusCode)
	}
	// The success reset the count: five free failures again.
	for i := 1; i <= freeFailures; i++ {
		if resp := e.login("admin", "wrong", "", a); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("after a success, wrong try %d = %d, want 303", i, resp.StatusCode)
		}
	}
	// Failures are forgotten after a quiet while.
	e.clock.add(failureMemory)
	for i := 1; i <= freeFailures; i++ {
		if resp := e.login("admin", "wrong", "", a); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("after %v, wrong try %d = %d, want 303", failureMemory, i, resp.StatusCode)
		}
	}
}

func TestClientKey(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"192.0.2.1:1234", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:1234", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:1234", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:80", "2001:db8:1:2::/64"},
		{"junk", "junk"},
	} {
		if got := clientKey(c.in); got != c.want {
			t.Errorf("clientKey(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestLimiterFull(t *testing.T) {
	l := newLimiter()
	now := time.Unix(1e9, 0)
	for i := range maxClients {
		l.failed(fmt.Sprintf("c%d", i), now)
	}
	// Newcomers share one count once the table is full of recent failures.
	for i := range freeFailures {
		l.failed(fmt.Sprintf("new%d", i), now)
	}
	if w := l.wait("another", now); w <= 0 {
		t.Errorf("wait of a newcomer after %d shared failures = %v, want > 0", freeFailures, w)
	}
	if w := l.wait("c1", now); w != 0 {
		t.Errorf("wait of a known client with one failure = %v, want 0", w)
	}
	if len(l.clients) > maxClients+1 {
		t.Errorf("limiter holds %d clients, want at most %d", len(l.clients), maxClients+1)
	}
	// Old entries make room.
	later := now.Add(failureMemory)
	l.failed("fresh", later)
	if _, ok := l.clients["fresh"]; !ok {
		t.Errorf("a newcomer after the others were forgotten shares the count, want its own")
	}
}

// TestBrowserFlow logs in, reads the token and calls the API as the page
// does, through a real client with a cookie jar.
func TestBrowserFlow(t *testing.T) {
	e := newEnv(t, Config{})
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(srv.URL + "/ui/#/functions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/ui/login" {
		t.Fatalf("GET /ui/ without a session ended at %s, want /ui/login", resp.Request.URL)
	}
	resp, err = c.PostForm(srv.URL+"/ui/login", url.Values{"user": {"admin"}, "password": {testPassword}, "next": {"/ui/"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Request.URL.Path != "/ui/" || !strings.Contains(string(b), "<html") {
		t.Fatalf("after login at %s: %.80s", resp.Request.URL, b)
	}
	// The browser sends the session to the UI and the API, never to a
	// function, which could use it.
	for path, want := range map[string]bool{"/ui/api/session": true, "/system/functions": true, "/function/echo": false,
		"/async-function/echo": false, "/": false, "/healthz": false} {
		u, _ := url.Parse(srv.URL + path)
		if got := len(jar.Cookies(u)) == 1; got != want {
			t.Errorf("cookie sent to %s: %v, want %v", path, got, want)
		}
	}
}
