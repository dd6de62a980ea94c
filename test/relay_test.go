package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"

	"github.com/funcd/funcd/internal/api"
)

// TestRelayLargeHeaders sends invocations with header lines of several KiB
// (a JWT, a cookie) one after another on one keep-alive connection: the
// first is read by net/http, the ones after it by funcd's relay, and all
// must reach the function whole. A head over the http.Server's limit
// (MaxHeaderBytes, 1 MiB) is refused with 431 on the relayed connection
// too.
func TestRelayLargeHeaders(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	deployReady(t, f.Client(t), api.FunctionDeployment{Service: "headers", Image: imageRef("testfn:v1")})

	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}
	jwt := "Bearer " + strings.Repeat("j", 4800)
	cookie := "session=" + strings.Repeat("c", 8000)
	send := func(extra string) (code int, body string, reused bool) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, f.URL+"/function/headers/echo", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", jwt)
		req.Header.Set("Cookie", cookie)
		if extra != "" {
			req.Header.Set("X-Extra", extra)
		}
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
		resp, err := hc.Do(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
		if err != nil {
			t.Fatalf("GET /function/headers/echo: %v", err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("read answer: %v", err)
		}
		return resp.StatusCode, string(b), reused
	}
	for i := range 3 {
		code, body, reused := send("")
		if code != http.StatusOK {
			t.Fatalf("request %d: %d %.200q, want 200", i+1, code, body)
		}
		if i > 0 && !reused {
			t.Fatalf("request %d came on a new connection, so it did not go through the relay", i+1)
		}
		var r echoReply
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("decode %.200q: %v", body, err)
		}
		if got := r.Headers["Authorization"]; len(got) != 1 || got[0] != jwt {
			t.Errorf("request %d: the function saw Authorization %.40q (%d bytes), want the %d-byte token", i+1, got, len(strings.Join(got, "")), len(jwt))
		}
		if got := r.Headers["Cookie"]; len(got) != 1 || got[0] != cookie {
			t.Errorf("request %d: the function saw Cookie %.40q, want the %d-byte cookie", i+1, got, len(cookie))
		}
	}
	code, body, reused := send(strings.Repeat("x", 1<<20))
	if code != http.StatusRequestHeaderFieldsTooLarge || !reused {
		t.Errorf("a head over 1 MiB on the relayed connection = %d %.100q (reused %v), want 431 on the reused connection", code, body, reused)
	}
}
