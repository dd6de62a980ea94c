package ui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestOrigin(t *testing.T) {
	var seen *http.Request
	var hijackable bool
	gw := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r
		_, hijackable = w.(http.Hijacker)
		_, _ = io.WriteString(w, "from "+r.URL.Path)
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush through Origin = %v", err)
		}
	})
	srv := httptest.NewServer(Origin(gw))
	defer srv.Close()
	for _, c := range []struct {
		name, path string
		hdr        map[string]string
		want       int
		sandbox    bool
	}{
		{"page fetch", "/function/echo", map[string]string{"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty", CSRFHeader: "tok"}, 200, true},
		{"async fetch", "/async-function/echo", map[string]string{"Sec-Fetch-Mode": "same-origin", "Sec-Fetch-Dest": "empty"}, 200, true},
		{"curl", "/function/echo/a?b=c", nil, 200, true},
		{"navigation", "/function/echo", map[string]string{"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}, 403, true},
		{"frame", "/function/echo", map[string]string{"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"}, 403, true},
		{"script", "/function/echo", map[string]string{"Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "script"}, 403, true},
		{"worker", "/function/echo", map[string]string{"Sec-Fetch-Mode": "same-origin", "Sec-Fetch-Dest": "worker"}, 403, true},
		{"the UI", "/ui/", map[string]string{"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}, 200, false},
		{"the API", "/system/functions", nil, 200, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			seen = nil
			req, _ := http.NewRequest("GET", srv.URL+c.path, nil)
			for k, v := range c.hdr {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("GET %s = %d, want %d", c.path, resp.StatusCode, c.want)
			}
			if got := strings.Contains(strings.Join(resp.Header.Values("Content-Security-Policy"), ","), "sandbox"); got != c.sandbox {
				t.Errorf("GET %s: CSP %q, sandbox %v, want %v", c.path, resp.Header.Values("Content-Security-Policy"), got, c.sandbox)
			}
			if c.want == 403 {
				if seen != nil {
					t.Errorf("GET %s reached the gateway", c.path)
				}
				return
			}
			if seen == nil {
				t.Fatalf("GET %s did not reach the gateway", c.path)
			}
			if c.sandbox && (hijackable || seen.Header.Get(CSRFHeader) != "") {
				t.Errorf("invocation reached the gateway hijackable %v, with CSRF header %q; want neither", hijackable, seen.Header.Get(CSRFHeader))
			}
		})
	}
}
