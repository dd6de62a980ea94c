package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// relayEnv is a real server (so connections can be taken over) with the
// proxy on /function/ and another handler on everything else, as the
// gateway mounts them.
type relayEnv struct {
	t      *testing.T
	url    string
	res    *fakeResolver
	system atomic.Int32 // requests the non-invocation handler answered
	nested atomic.Int32 // connections handed back wrapping one handed back before
	handed atomic.Int32 // connections handed back
}

func newRelayEnv(t *testing.T) *relayEnv {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/chunked":
			w.Write([]byte("part1,"))
			w.(http.Flusher).Flush()
			w.Write([]byte("part2"))
		default:
			w.Header().Set("X-Fn", "yes")
			fmt.Fprintf(w, "%s %s %s call=%s", r.Method, r.URL.RequestURI(), body, r.Header.Get("X-Call-Id"))
		}
	}))
	t.Cleanup(upstream.Close)
	e := &relayEnv{t: t, res: &fakeResolver{hosts: map[string]string{"f.openfaas-fn": strings.TrimPrefix(upstream.URL, "http://")}}}
	p := newProxy(e.res, 5*time.Second)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/function/") {
			p.ServeHTTP(w, r)
			return
		}
		e.system.Add(1)
		fmt.Fprintf(w, "system %s", r.URL.Path)
	}))
	srv.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if bc, ok := c.(*bufferedConn); ok {
			e.handed.Add(1)
			if _, ok := bc.Conn.(*bufferedConn); ok {
				e.nested.Add(1)
			}
		}
		return ctx
	}
	srv.Start()
	go srv.Config.Serve(p.Handoff())
	t.Cleanup(func() { srv.Close(); p.Close() })
	e.url = srv.URL
	return e
}

// conn is one raw keep-alive connection to the server.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func (e *relayEnv) dial() *rawConn {
	nc, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: e.t, nc: nc, br: bufio.NewReader(nc)}
}

// do sends raw (a whole request) and reads one response.
func (c *rawConn) do(method, raw string) (*http.Response, string) {
	c.t.Helper()
	if _, err := io.WriteString(c.nc, raw); err != nil {
		c.t.Fatalf("write: %v", err)
	}
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("read response to %q: %v", raw, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("read body: %v", err)
	}
	resp.Body.Close()
	return resp, string(body)
}

func TestRelayKeepAliveSequence(t *testing.T) {
	e := newRelayEnv(t)
	c := e.dial()
	steps := []struct {
		method, raw  string
		wantCode     int
		wantBody     string
		wantHeader   string // a response header that must be present
		wantInternal bool
	}{
		{"GET", "GET /function/f/a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", 200, "GET /a?x=1  call=", "X-Fn", false},
		{"POST", "POST /function/f HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", 200, "POST / hello", "X-Start-Time", false},
		{"POST", "POST /function/f/c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 200, "POST /c abcde", "X-Call-Id", false},
		{"GET", "GET /system/functions HTTP/1.1\r\nHost: h\r\n\r\n", 200, "system /system/functions", "", false},
		{"GET", "GET /function/f/chunked HTTP/1.1\r\nHost: h\r\n\r\n", 200, "part1,part2", "", false},
		{"GET", "GET /function/nope HTTP/1.1\r\nHost: h\r\n\r\n", 404, "error finding function nope.openfaas-fn", "", false},
		{"HEAD", "HEAD /function/f HTTP/1.1\r\nHost: h\r\n\r\n", 200, "", "X-Fn", false},
		{"GET", "GET /function/f/after HTTP/1.1\r\nHost: h\r\n\r\n", 200, "GET /after", "", false},
		{"GET", "GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n", 200, "system /healthz", "", false},
	}
	for i, s := range steps {
		resp, body := c.do(s.method, s.raw)
		if resp.StatusCode != s.wantCode || !strings.Contains(body, s.wantBody) {
			t.Errorf("step %d %q = %d %q, want %d containing %q", i, strings.SplitN(s.raw, "\r\n", 2)[0], resp.StatusCode, body, s.wantCode, s.wantBody)
		}
		if s.wantHeader != "" && resp.Header.Get(s.wantHeader) == "" {
			t.Errorf("step %d: response lacks %s: %v", i, s.wantHeader, resp.Header)
		}
		if resp.Close {
			t.Fatalf("step %d: server closed a keep-alive connection", i)
		}
	}
	if e.system.Load() != 2 {
		t.Errorf("the other handler answered %d requests, want 2 (handed back from the relay)", e.system.Load())
	}
	e.res.checkReleased(t)
}

// TestHandBackStaysFlat: a caller alternating invocations and other
// requests on one connection has it taken over and handed back each time;
// what is handed back never wraps what was handed back before, so the
// connection costs the same on the last round as on the first (it used to
// grow by a buffer and a wrapper each round, without bound).
func TestHandBackStaysFlat(t *testing.T) {
	e := newRelayEnv(t)
	c := e.dial()
	const rounds = 50
	bigHeader := "X-Big: " + strings.Repeat("b", 6000) + "\r\n" // handed back through the replay path
	for i := range rounds {
		if resp, _ := c.do("GET", "GET /function/f/x HTTP/1.1\r\nHost: h\r\n\r\n"); resp.StatusCode != 200 {
			t.Fatalf("round %d: invocation %d", i, resp.StatusCode)
		}
		extra := ""
		if i%2 == 1 {
			extra = bigHeader
		}
		if resp, body := c.do("GET", "GET /system/info HTTP/1.1\r\nHost: h\r\n"+extra+"\r\n"); resp.StatusCode != 200 || body != "system /system/info" {
			t.Fatalf("round %d: /system/info = %d %q", i, resp.StatusCode, body)
		}
	}
	if n := e.handed.Load(); n != rounds {
		t.Errorf("%d connections handed back, want %d", n, rounds)
	}
	if n := e.nested.Load(); n != 0 {
		t.Errorf("%d of %d handed-back connections wrap an earlier one", n, e.handed.Load())
	}
}

func TestRelayExpectContinueAndClose(t *testing.T) {
	e := newRelayEnv(t)
	c := e.dial()
	c.do("GET", "GET /function/f HTTP/1.1\r\nHost: h\r\n\r\n") // taken over from here
	io.WriteString(c.nc, "POST /function/f HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	line, err := c.br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("after Expect: 100-continue got %q, %v", line, err)
	}
	c.br.ReadString('\n') // blank line ending the 100 response
	resp, body := c.do("POST", "data")
	if resp.StatusCode != 200 || !strings.Contains(body, "POST / data") {
		t.Errorf("POST with Expect = %d %q", resp.StatusCode, body)
	}
	resp, _ = c.do("GET", "GET /function/f HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
	if !resp.Close {
		t.Errorf("response to Connection: close lacks Connection: close")
	}
	if _, err := c.br.ReadByte(); err != io.EOF {
		t.Errorf("connection still open after Connection: close (read %v)", err)
	}
}
