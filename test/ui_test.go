package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/funcd/funcd/test/testenv"
)

// uiSession is a browser's login to the web UI: its cookie and CSRF token.
type uiSession struct {
	url, cookie, csrf string
	c                 *http.Client
}

// uiLogin logs in with the form, as a browser posts it, and reads the
// CSRF token the page would.
func uiLogin(t *testing.T, f *Funcd, password string) *uiSession {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(f.URL+"/ui/login", url.Values{"user": {"admin"}, "password": {password}, "next": {"/ui/#/functions"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/#/functions" || len(resp.Cookies()) != 2 {
		t.Fatalf("POST /ui/login = %d to %q with %d cookies, want 303 to /ui/#/functions with a session",
			resp.StatusCode, resp.Header.Get("Location"), len(resp.Cookies()))
	}
	s := &uiSession{url: f.URL, cookie: resp.Cookies()[0].Name + "=" + resp.Cookies()[0].Value, c: c}
	code, body := s.do(t, "GET", "/ui/api/session", "", false)
	var got struct{ CSRF string }
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil || got.CSRF == "" {
		t.Fatalf("GET /ui/api/session = %d %s", code, body)
	}
	s.csrf = got.CSRF
	return s
}

// do sends a request with the session's cookie and, when csrf, its token.
func (s *uiSession) do(t *testing.T, method, path, body string, csrf bool) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Cookie", s.cookie)
	if csrf {
		req.Header.Set("X-Funcd-CSRF", s.csrf)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestUISession logs in to the web UI with its form on a real funcd,
// deploys and lists through /system with the session's cookie and CSRF
// header, sees the invocations in the UI's list and history, logs out
// and finds the cookie refused; then a new password in the secrets file
// ends a second session and Basic auth takes the new password.
func TestUISession(t *testing.T) {
	f := startFuncd(t)
	passFile := filepath.Join(f.StateDir, "secrets", "basic-auth-password")
	pass, err := os.ReadFile(passFile)
	if err != nil {
		t.Fatal(err)
	}
	s := uiLogin(t, f, strings.TrimSpace(string(pass)))
	if code, body := s.do(t, "GET", "/ui/", "", false); code != 200 || !strings.Contains(body, "<html") {
		t.Errorf("GET /ui/ with the session = %d %.60q, want the page", code, body)
	}

	deploy := `{"service":"uiecho","image":"` + imageRef("testfn:v1") + `","labels":{"note":"<script>alert(1)</script>"}}`
	if code, body := s.do(t, "POST", "/system/functions", deploy, false); code != http.StatusForbidden {
		t.Errorf("deploy with the cookie but no CSRF header = %d %q, want 403", code, body)
	}
	if code, body := s.do(t, "POST", "/system/functions", deploy, true); code != http.StatusAccepted {
		t.Fatalf("deploy with the session = %d %q, want 202", code, body)
	}
	code, body := s.do(t, "GET", "/system/functions", "", true)
	if code != 200 || !strings.Contains(body, `"name":"uiecho"`) {
		t.Fatalf("GET /system/functions with the session = %d %s", code, body)
	}
	for range 3 {
		resp, err := http.Get(f.URL + "/function/uiecho/hello")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	var rows []struct {
		Name              string
		State             string
		Labels            map[string]string
		InvocationCount   float64
		AvailableReplicas uint64
	}
	code, body = s.do(t, "GET", "/ui/api/functions", "", true)
	if err := json.Unmarshal([]byte(body), &rows); code != 200 || err != nil || len(rows) != 1 {
		t.Fatalf("GET /ui/api/functions = %d %s", code, body)
	}
	if r := rows[0]; r.Name != "uiecho" || r.State != "ready" || r.InvocationCount != 3 || r.Labels["note"] != "<script>alert(1)</script>" {
		t.Errorf("GET /ui/api/functions = %+v, want uiecho ready with 3 invocations and its label as text", r)
	}
	var hist struct {
		Points []struct{ Invocations uint64 }
	}
	code, body = s.do(t, "GET", "/ui/api/history?name=uiecho", "", true)
	if err := json.Unmarshal([]byte(body), &hist); code != 200 || err != nil || len(hist.Points) != 60 {
		t.Fatalf("GET /ui/api/history = %d %.200s", code, body)
	}
	var sum uint64
	for _, p := range hist.Points {
		sum += p.Invocations
	}
	if sum != 3 {
		t.Errorf("history holds %d invocations, want 3", sum)
	}

	if code, _ := s.do(t, "POST", "/ui/logout", "", true); code != http.StatusSeeOther {
		t.Errorf("logout = %d, want 303", code)
	}
	for _, p := range []string{"/system/functions", "/ui/api/session", "/ui/api/functions"} {
		if code, _ := s.do(t, "GET", p, "", true); code != http.StatusUnauthorized {
			t.Errorf("GET %s after logout = %d, want 401", p, code)
		}
	}

	// A new password in the file: the next session made with the old one
	// ends within a second or so, and Basic auth wants the new one.
	s = uiLogin(t, f, strings.TrimSpace(string(pass)))
	tmp := passFile + ".new"
	if err := os.WriteFile(tmp, []byte("n3w-password-for-the-ui-test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, passFile); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if code, _ := s.do(t, "GET", "/system/functions", "", true); code != http.StatusUnauthorized {
			return fmt.Errorf("the session after the password change = %d, want 401", code)
		}
		return nil
	})
	for pw, want := range map[string]int{"n3w-password-for-the-ui-test": 200, strings.TrimSpace(string(pass)): 401} {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", f.URL+"/system/functions", nil)
		req.SetBasicAuth("admin", pw)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Basic with the %s password = %d, want %d", map[bool]string{true: "new", false: "old"}[want == 200], resp.StatusCode, want)
		}
	}
}

// TestUIOwnOrigin runs funcd with --ui-listen: the UI and its sessions
// live on their own port, the main one takes Basic auth only and serves
// no UI, and on the UI's port a function is invoked by the page's fetch
// but never opened as a page of that origin.
func TestUIOwnOrigin(t *testing.T) {
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	uiAddr := fmt.Sprintf("127.0.0.1:%d", port)
	f := startFuncd(t, WithArgs("--ui-listen", uiAddr))
	pass, err := os.ReadFile(filepath.Join(f.StateDir, "secrets", "basic-auth-password"))
	if err != nil {
		t.Fatal(err)
	}
	main := &uiSession{url: f.URL}
	ui := &Funcd{Funcd: &testenv.Funcd{URL: "http://" + uiAddr}}
	s := uiLogin(t, ui, strings.TrimSpace(string(pass)))
	main.cookie, main.csrf, main.c = s.cookie, s.csrf, s.c

	deploy := `{"service":"uiorigin","image":"` + imageRef("testfn:v1") + `"}`
	if code, body := s.do(t, "POST", "/system/functions", deploy, true); code != http.StatusAccepted {
		t.Fatalf("deploy on the UI's port = %d %q, want 202", code, body)
	}
	for _, c := range []struct {
		name string
		s    *uiSession
		path string
		want int
	}{
		{"UI port lists", s, "/system/functions", 200},
		{"UI port page", s, "/ui/", 200},
		{"main port takes no session", main, "/system/functions", 401},
		{"main port serves no UI", main, "/ui/", 404},
		{"main port serves no session endpoint", main, "/ui/api/session", 404},
	} {
		if code, body := c.s.do(t, "GET", c.path, "", true); code != c.want {
			t.Errorf("%s: GET %s = %d %.100q, want %d", c.name, c.path, code, body, c.want)
		}
	}
	invoke := func(hdr map[string]string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "POST", s.url+"/function/uiorigin/x", strings.NewReader("hi"))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := s.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := invoke(map[string]string{"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"})
	if resp.StatusCode != http.StatusForbidden || strings.Contains(body, `"method"`) {
		t.Errorf("a browser opening the function on the UI's port = %d %.100q, want 403 without its answer", resp.StatusCode, body)
	}
	for i := range 3 { // keep-alive: the next requests on the connection still reach the UI's server
		resp, body := invoke(map[string]string{"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty", "X-Funcd-CSRF": s.csrf})
		var echo echoReply
		if err := json.Unmarshal([]byte(body), &echo); resp.StatusCode != 200 || err != nil || echo.Body != "hi" {
			t.Fatalf("fetch %d of the function on the UI's port = %d %.200q", i, resp.StatusCode, body)
		}
		if echo.Headers["X-Funcd-Csrf"] != nil || echo.Headers["Cookie"] != nil {
			t.Errorf("the function saw the session: %v", echo.Headers)
		}
		if !strings.Contains(strings.Join(resp.Header.Values("Content-Security-Policy"), ","), "sandbox") {
			t.Errorf("the function's answer on the UI's port has CSP %q, want sandbox", resp.Header.Values("Content-Security-Policy"))
		}
		if code, _ := s.do(t, "GET", "/ui/api/functions", "", true); code != 200 {
			t.Errorf("GET /ui/api/functions after invoking = %d, want 200", code)
		}
	}
}
