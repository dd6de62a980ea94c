package ui

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/funcd/funcd/internal/metrics"
)

// FuzzValidNext: an accepted next stays on this site under /ui/, however
// a browser resolves it.
func FuzzValidNext(f *testing.F) {
	for _, s := range []string{"/ui/", "/ui/#/functions", "//evil", "/ui//evil", "/ui/\\evil", "/ui/../system", "/ui/%2e%2e/", "https://x/ui/", "/ui/?next=//evil"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://funcd.example/ui/login")
	f.Fuzz(func(t *testing.T, next string) {
		if !validNext(next) {
			return
		}
		u, err := base.Parse(next)
		if err != nil {
			t.Fatalf("validNext(%q) accepted what does not parse: %v", next, err)
		}
		if u.Host != "funcd.example" || u.Scheme != "https" || u.User != nil {
			t.Errorf("validNext(%q) accepted a way off the site: %v", next, u)
		}
		if !strings.HasPrefix(u.Path, "/ui/") || strings.Contains(u.Path+"/", "/../") || strings.Contains(u.Path+"/", "/./") {
			t.Errorf("validNext(%q) accepted a way out of /ui/: path %q", next, u.Path)
		}
		if strings.ContainsAny(next, "\r\n\\ ") {
			t.Errorf("validNext(%q) accepted a control character, space or backslash", next)
		}
	})
}

// FuzzParseToken: only tokens newToken could make are accepted.
func FuzzParseToken(f *testing.F) {
	tok, _ := newToken()
	for _, s := range []string{tok, "", strings.Repeat("A", 43), strings.Repeat("A", 42) + "B", "<script>", strings.Repeat("=", 44)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, ok := parseToken(v)
		if !ok {
			return
		}
		if got != v || len(v) != 43 || strings.ContainsAny(v, "=+/") {
			t.Errorf("parseToken(%q) = %q, true; want only unpadded base64url of %d bytes", v, got, tokenBytes)
		}
	})
}

// FuzzLogin posts any bytes as the login form, with any cookie: the answer
// is a refusal, a redirect to a page of this site's UI, or a session for
// the right password only.
func FuzzLogin(f *testing.F) {
	f.Add("user=admin&password="+testPassword+"&next=%2Fui%2F", "application/x-www-form-urlencoded", "")
	f.Add("user=admin&password=x&next=//evil", "application/x-www-form-urlencoded", CookieName+"=x")
	f.Add("--b\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nadmin\r\n--b--", "multipart/form-data; boundary=b", "")
	f.Add("user=%zz", "application/x-www-form-urlencoded", "")
	f.Fuzz(func(t *testing.T, body, ctype, cookie string) {
		e := newEnv(t, Config{})
		r := httptest.NewRequest(http.MethodPost, "/ui/login", strings.NewReader(body))
		r.Header.Set("Content-Type", ctype)
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusSeeOther:
			loc := w.Header().Get("Location")
			if !strings.HasPrefix(loc, "/ui/") || strings.HasPrefix(loc, "//") {
				t.Errorf("login(%q) went to %q", body, loc)
			}
			if w.Header().Get("Set-Cookie") != "" && r.PostForm.Get("password") != testPassword {
				t.Errorf("login(%q) started a session without the password", body)
			}
		case http.StatusBadRequest, http.StatusTooManyRequests, http.StatusRequestEntityTooLarge:
		default:
			t.Errorf("login(%q) = %d", body, w.Code)
		}
	})
}

// BenchmarkHistoryMemory reports what the hour of history costs per
// function that has had traffic.
func BenchmarkHistoryMemory(b *testing.B) {
	const n = 1000
	src := fakeTotals{}
	for i := range n {
		src[fmt.Sprintf("fn-%04d.openfaas-fn", i)] = metrics.Totals{Invocations: 1, Seconds: 0.1}
	}
	var before, after runtime.MemStats
	for b.Loop() {
		runtime.GC()
		runtime.ReadMemStats(&before)
		h := NewHistory(src)
		h.sample(timeAt(0))
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/function")
		runtime.KeepAlive(h)
	}
}
