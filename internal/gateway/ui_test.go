package gateway

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/basicauth"
	"github.com/funcd/funcd/internal/ui"
)

// TestUISessionsGuardSystem mounts the web UI as funcd does: a session
// made with the login form calls /system with its CSRF header, Basic auth
// still works, and neither is needed for invocations.
func TestUISessionsGuardSystem(t *testing.T) {
	store, err := basicauth.NewStore(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	pass := store.Current().Password
	sessions := ui.NewSessions(store)
	fns := &fakeFunctions{statuses: map[string]api.FunctionStatus{"echo.openfaas-fn": {Name: "echo", Namespace: "openfaas-fn", Image: "echo:1"}}}
	gw := New(fns, invoked, Config{Auth: sessions.Require}, slog.New(slog.DiscardHandler))
	web, err := ui.New(ui.Config{Sessions: sessions, Functions: gw})
	if err != nil {
		t.Fatal(err)
	}
	gw.MountUI(web)
	srv := httptest.NewServer(gw)
	defer srv.Close()
	c := srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	do := func(method, path, body string, hdr map[string]string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	if code, _ := do("GET", "/", "", nil); code != http.StatusTemporaryRedirect {
		t.Errorf("GET / = %d, want 307", code)
	}
	resp, err := c.PostForm(srv.URL+"/ui/login", url.Values{"user": {"admin"}, "password": {pass}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != len(ui.CookiePaths) {
		t.Fatalf("login = %d with %d cookies, want 303 and one", resp.StatusCode, len(resp.Cookies()))
	}
	cookie := resp.Cookies()[0].Name + "=" + resp.Cookies()[0].Value
	code, body := do("GET", "/ui/api/session", "", map[string]string{"Cookie": cookie})
	var s struct{ User, CSRF string }
	if err := json.Unmarshal([]byte(body), &s); code != 200 || err != nil || s.CSRF == "" || s.User != "admin" {
		t.Fatalf("GET /ui/api/session = %d %s", code, body)
	}
	withSession := map[string]string{"Cookie": cookie, ui.CSRFHeader: s.CSRF}

	basic := (&http.Request{Header: http.Header{}})
	basic.SetBasicAuth("admin", pass)
	for _, c := range []struct {
		name, method, path, body string
		hdr                      map[string]string
		want                     int
	}{
		{"session lists", "GET", "/system/functions", "", withSession, 200},
		{"session deploys", "POST", "/system/functions", `{"service":"b","image":"b:1"}`, map[string]string{"Cookie": cookie, ui.CSRFHeader: s.CSRF, "Content-Type": "application/json"}, 202},
		{"cookie without header", "GET", "/system/functions", "", map[string]string{"Cookie": cookie}, 403},
		{"cookie with a wrong header", "GET", "/system/info", "", map[string]string{"Cookie": cookie, ui.CSRFHeader: "x"}, 403},
		{"cross-site deploy with session", "POST", "/system/functions", `{"service":"c","image":"c:1"}`, map[string]string{"Cookie": cookie, ui.CSRFHeader: s.CSRF, "Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, 403},
		{"basic", "GET", "/system/functions", "", map[string]string{"Authorization": basic.Header.Get("Authorization")}, 200},
		{"nothing", "GET", "/system/functions", "", nil, 401},
		{"ui list", "GET", "/ui/api/functions", "", withSession, 200},
		{"invocation needs nothing", "GET", "/function/echo", "", nil, 200},
	} {
		if code, body := do(c.method, c.path, c.body, c.hdr); code != c.want {
			t.Errorf("%s: %s %s = %d %q, want %d", c.name, c.method, c.path, code, body, c.want)
		}
	}
	if _, ok := fns.last(); !ok {
		t.Error("the session's deploy did not reach the provider")
	}
	if code, body := do("GET", "/ui/api/functions", "", withSession); !strings.Contains(body, `"image":"echo:1"`) || code != 200 {
		t.Errorf("GET /ui/api/functions = %d %s, want echo as /system/functions gives it", code, body)
	}
	if code, _ := do("POST", "/ui/logout", "", withSession); code != http.StatusSeeOther {
		t.Errorf("logout = %d, want 303", code)
	}
	if code, _ := do("GET", "/system/functions", "", withSession); code != http.StatusUnauthorized {
		t.Errorf("GET /system/functions after logout = %d, want 401", code)
	}
}
