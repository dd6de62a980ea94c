package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeBackend is one resolved replica; it counts its releases.
type fakeBackend struct {
	host     string
	released atomic.Int32
}

func (b *fakeBackend) Host() string { return b.host }
func (b *fakeBackend) Release()     { b.released.Add(1) }

// fakeResolver answers from a table of "name.ns" → host. An unknown
// function is ErrNotFound; a function listed in block waits until ctx ends,
// like a function with no ready replica.
type fakeResolver struct {
	hosts map[string]string
	block map[string]bool

	mu       sync.Mutex
	asked    []string // "name|ns" per call
	backends []*fakeBackend
}

func (r *fakeResolver) Resolve(ctx context.Context, name, ns string) (Backend, error) {
	r.mu.Lock()
	r.asked = append(r.asked, name+"|"+ns)
	r.mu.Unlock()
	key := name + "." + ns
	if r.block[key] {
		<-ctx.Done()
		return nil, fmt.Errorf("no ready replica of %s: %w", key, ctx.Err())
	}
	host, ok := r.hosts[key]
	if !ok {
		return nil, fmt.Errorf("function %s: %w", key, ErrNotFound)
	}
	b := &fakeBackend{host: host}
	r.mu.Lock()
	r.backends = append(r.backends, b)
	r.mu.Unlock()
	return b, nil
}

// Pick is Resolve without waiting: a blocked function has no replica yet.
func (r *fakeResolver) Pick(name, ns string) (Backend, error) {
	if r.block[name+"."+ns] {
		r.mu.Lock()
		r.asked = append(r.asked, name+"|"+ns)
		r.mu.Unlock()
		return nil, nil
	}
	return r.Resolve(context.Background(), name, ns)
}

func (r *fakeResolver) lastAsked() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.asked) == 0 {
		return ""
	}
	return r.asked[len(r.asked)-1]
}

// checkReleased fails unless every backend handed out so far was released
// exactly once.
func (r *fakeResolver) checkReleased(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, b := range r.backends {
		if n := b.released.Load(); n != 1 {
			t.Errorf("backend %d (%s) released %d times, want 1", i, b.host, n)
		}
	}
}

func (r *fakeResolver) askedCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.asked)
}

func (r *fakeResolver) resolved() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.backends)
}

// mount serves p the way the gateway does.
func mount(p http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/function/{name}", p)
	mux.Handle("/function/{name}/{rest...}", p)
	return mux
}

// seen is what the echo upstream reports about the request it received.
type seen struct {
	Method   string
	Path     string
	RawQuery string
	Host     string
	Body     string
	Header   http.Header
}

// newEcho starts an upstream that answers 200 with a JSON description of
// the request it received.
func newEcho(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(seen{
			Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
			Host: r.Host, Body: string(body), Header: r.Header,
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func hostOf(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func newProxy(res Resolver, timeout time.Duration) *Proxy {
	return New(res, Config{Timeout: timeout, ServedBy: "funcd/test"}, slog.New(slog.DiscardHandler))
}

// serve runs one request through the mounted proxy.
func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func decodeSeen(t *testing.T, rec *httptest.ResponseRecorder) seen {
	t.Helper()
	var s seen
	if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil {
		t.Fatalf("upstream answer %q: %v", rec.Body.String(), err)
	}
	return s
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestProxyForwardsRequest(t *testing.T) {
	echo := newEcho(t)
	host := hostOf(t, echo)
	res := &fakeResolver{hosts: map[string]string{
		"echo.openfaas-fn":    host,
		"echo.dev":            host,
		"a.b.c":               host,
		"My_fn-1.openfaas-fn": host,
	}}
	h := mount(newProxy(res, 5*time.Second))

	tests := []struct {
		name      string
		method    string
		target    string
		body      string
		wantAsked string // name|ns
		wantPath  string
		wantQuery string
	}{
		{"bare name", "GET", "/function/echo", "", "echo|openfaas-fn", "/", ""},
		{"trailing slash", "GET", "/function/echo/", "", "echo|openfaas-fn", "/", ""},
		{"sub path", "GET", "/function/echo/a/b", "", "echo|openfaas-fn", "/a/b", ""},
		{"namespace", "GET", "/function/echo.dev/a/b", "", "echo|dev", "/a/b", ""},
		{"last dot splits", "GET", "/function/a.b.c", "", "a.b|c", "/", ""},
		{"route characters", "GET", "/function/My_fn-1/x", "", "My_fn-1|openfaas-fn", "/x", ""},
		{"raw query", "GET", "/function/echo?b=2&a=%20x&a=y&empty", "", "echo|openfaas-fn", "/", "b=2&a=%20x&a=y&empty"},
		{"query with semicolon", "GET", "/function/echo/p?a=1;b=2&c=%3B", "", "echo|openfaas-fn", "/p", "a=1;b=2&c=%3B"},
		{"post body", "POST", "/function/echo.dev/in?q=1", "hello\nworld", "echo|dev", "/in", "q=1"},
		{"put", "PUT", "/function/echo", `{"k":"v"}`, "echo|openfaas-fn", "/", ""},
		{"patch", "PATCH", "/function/echo/x", "patch", "echo|openfaas-fn", "/x", ""},
		{"delete with body", "DELETE", "/function/echo", "gone", "echo|openfaas-fn", "/", ""},
		{"options", "OPTIONS", "/function/echo", "", "echo|openfaas-fn", "/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			rec := serve(h, httptest.NewRequest(tt.method, tt.target, body))
			if rec.Code != http.StatusOK {
				t.Fatalf("%s %s = %d %q, want 200", tt.method, tt.target, rec.Code, rec.Body)
			}
			if got := res.lastAsked(); got != tt.wantAsked {
				t.Errorf("%s %s resolved %q, want %q", tt.method, tt.target, got, tt.wantAsked)
			}
			s := decodeSeen(t, rec)
			if s.Method != tt.method {
				t.Errorf("%s %s: upstream method %q, want %q", tt.method, tt.target, s.Method, tt.method)
			}
			if s.Path != tt.wantPath {
				t.Errorf("%s %s: upstream path %q, want %q", tt.method, tt.target, s.Path, tt.wantPath)
			}
			if s.RawQuery != tt.wantQuery {
				t.Errorf("%s %s: upstream query %q, want %q", tt.method, tt.target, s.RawQuery, tt.wantQuery)
			}
			if s.Body != tt.body {
				t.Errorf("%s %s: upstream body %q, want %q", tt.method, tt.target, s.Body, tt.body)
			}
			if s.Host != host {
				t.Errorf("%s %s: upstream Host %q, want the replica's %q", tt.method, tt.target, s.Host, host)
			}
		})
	}
	if n := res.resolved(); n != len(tests) {
		t.Errorf("resolved %d backends, want %d", n, len(tests))
	}
	res.checkReleased(t)
}

func TestProxyRequestHeaders(t *testing.T) {
	echo := newEcho(t)
	res := &fakeResolver{hosts: map[string]string{"echo.openfaas-fn": hostOf(t, echo)}}
	h := mount(newProxy(res, 5*time.Second))

	req := httptest.NewRequest("POST", "/function/echo", strings.NewReader("x"))
	req.RemoteAddr = "203.0.113.7:4321"
	req.Host = "gw.example:8080"
	kept := map[string]string{
		"Authorization": "Basic Y2FsbGVyOnNlY3JldA==",
		"Content-Type":  "application/x-custom",
		"X-Custom":      "v1",
		"User-Agent":    "tester/1",
		"Accept":        "text/plain",
	}
	for k, v := range kept {
		req.Header.Set(k, v)
	}
	hop := map[string]string{
		"Connection":          "keep-alive, X-Drop-Me",
		"X-Drop-Me":           "named by Connection",
		"Keep-Alive":          "timeout=5",
		"Proxy-Connection":    "keep-alive",
		"Proxy-Authenticate":  "Basic",
		"Proxy-Authorization": "Basic cHJveHk6cHc=",
		"Te":                  "gzip",
		"Trailer":             "X-Trailer",
		"Upgrade":             "h2c",
	}
	for k, v := range hop {
		req.Header.Set(k, v)
	}

	rec := serve(h, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("POST /function/echo = %d %q, want 200", rec.Code, rec.Body)
	}
	s := decodeSeen(t, rec)
	for k, v := range kept {
		if got := s.Header.Get(k); got != v {
			t.Errorf("upstream header %s = %q, want %q", k, got, v)
		}
	}
	for k := range hop {
		if got, ok := s.Header[http.CanonicalHeaderKey(k)]; ok {
			t.Errorf("upstream header %s = %q, want it removed (hop-by-hop)", k, got)
		}
	}
	if got := s.Header.Get("X-Forwarded-For"); got != "203.0.113.7:4321" {
		t.Errorf("upstream X-Forwarded-For = %q, want the client's ip:port %q", got, "203.0.113.7:4321")
	}
	if got := s.Header.Get("X-Forwarded-Host"); got != "gw.example:8080" {
		t.Errorf("upstream X-Forwarded-Host = %q, want the incoming Host %q", got, "gw.example:8080")
	}
	if got, ok := s.Header["X-Forwarded-Proto"]; ok {
		t.Errorf("upstream X-Forwarded-Proto = %q, want none added", got)
	}
	res.checkReleased(t)
}

func TestProxyForwardedHeadersKeptWhenPresent(t *testing.T) {
	echo := newEcho(t)
	res := &fakeResolver{hosts: map[string]string{"echo.openfaas-fn": hostOf(t, echo)}}
	h := mount(newProxy(res, 5*time.Second))

	tests := []struct {
		header, caller, want string
	}{
		{"X-Forwarded-For", "", "203.0.113.7:4321"},
		{"X-Forwarded-For", "198.51.100.1:999", "198.51.100.1:999"},
		{"X-Forwarded-For", "198.51.100.1, 10.0.0.1", "198.51.100.1, 10.0.0.1"},
		{"X-Forwarded-Host", "", "gw.example"},
		{"X-Forwarded-Host", "public.example.com", "public.example.com"},
		{"X-Forwarded-Proto", "https", "https"},
		{"Forwarded", "for=198.51.100.1;proto=https", "for=198.51.100.1;proto=https"},
	}
	for _, tt := range tests {
		t.Run(tt.header+"="+tt.caller, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/function/echo", nil)
			req.RemoteAddr = "203.0.113.7:4321"
			req.Host = "gw.example"
			if tt.caller != "" {
				req.Header.Set(tt.header, tt.caller)
			}
			rec := serve(h, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET /function/echo = %d, want 200", rec.Code)
			}
			if got := decodeSeen(t, rec).Header.Get(tt.header); got != tt.want {
				t.Errorf("caller %s %q: upstream sees %q, want %q", tt.header, tt.caller, got, tt.want)
			}
		})
	}
	res.checkReleased(t)
}

func TestProxyForwardedForFromRealClient(t *testing.T) {
	echo := newEcho(t)
	res := &fakeResolver{hosts: map[string]string{"echo.openfaas-fn": hostOf(t, echo)}}
	front := httptest.NewServer(mount(newProxy(res, 5*time.Second)))
	defer front.Close()

	var local string
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				local = c.LocalAddr().String()
			}
			return c, err
		},
	}}
	resp, err := client.Get(front.URL + "/function/echo")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s seen
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	if got := s.Header.Get("X-Forwarded-For"); got != local {
		t.Errorf("upstream X-Forwarded-For = %q, want the client's address %q", got, local)
	}
	if got, want := s.Header.Get("X-Forwarded-Host"), hostOf(t, front); got != want {
		t.Errorf("upstream X-Forwarded-Host = %q, want %q", got, want)
	}
}

func TestProxyCallID(t *testing.T) {
	echo := newEcho(t)
	res := &fakeResolver{hosts: map[string]string{"echo.openfaas-fn": hostOf(t, echo)}}
	h := mount(newProxy(res, 5*time.Second))

	t.Run("generated", func(t *testing.T) {
		ids := map[string]bool{}
		for i := 0; i < 3; i++ {
			rec := serve(h, httptest.NewRequest("GET", "/function/echo", nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("GET /function/echo = %d, want 200", rec.Code)
			}
			got := rec.Header().Get("X-Call-Id")
			if !uuidV4.MatchString(got) {
				t.Errorf("response X-Call-Id = %q, want a v4 UUID", got)
			}
			if up := decodeSeen(t, rec).Header.Get("X-Call-Id"); up != got {
				t.Errorf("upstream X-Call-Id = %q, want the one in the response %q", up, got)
			}
			if ids[got] {
				t.Errorf("X-Call-Id %q generated twice", got)
			}
			ids[got] = true
		}
	})
	t.Run("caller's kept and not echoed", func(t *testing.T) {
		req := httptest.NewRequest("GET", "/function/echo", nil)
		req.Header.Set("X-Call-Id", "caller-id-1")
		rec := serve(h, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /function/echo = %d, want 200", rec.Code)
		}
		if got, ok := rec.Header()["X-Call-Id"]; ok {
			t.Errorf("response X-Call-Id = %q, want none when the caller supplied one", got)
		}
		if up := decodeSeen(t, rec).Header.Get("X-Call-Id"); up != "caller-id-1" {
			t.Errorf("upstream X-Call-Id = %q, want the caller's %q", up, "caller-id-1")
		}
	})
	res.checkReleased(t)
}

func TestProxyStartTimeAndServedBy(t *testing.T) {
	echo := newEcho(t)
	res := &fakeResolver{hosts: map[string]string{"echo.openfaas-fn": hostOf(t, echo)}}
	h := mount(newProxy(res, 5*time.Second))

	req := httptest.NewRequest("GET", "/function/echo", nil)
	req.Header.Set("X-Start-Time", "1") // a caller's value is replaced
	before := time.Now().UnixNano()
	rec := serve(h, req)
	after := time.Now().UnixNano()
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /function/echo = %d, want 200", rec.Code)
	}
	got := rec.Header().Get("X-Start-Time")
	ns, err := strconv.ParseInt(got, 10, 64)
	if err != nil || ns < before || ns > after {
		t.Errorf("response X-Start-Time = %q, want Unix nanoseconds in [%d, %d]", got, before, after)
	}
	if up := decodeSeen(t, rec).Header.Values("X-Start-Time"); len(up) != 1 || up[0] != got {
		t.Errorf("upstream X-Start-Time = %q, want [%q]", up, got)
	}
	if got := rec.Header().Get("X-Served-By"); got != "funcd/test" {
		t.Errorf("response X-Served-By = %q, want %q", got, "funcd/test")
	}
}

func TestProxyResponsePassedBack(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header map[string]string
		body   string
	}{
		{"ok with headers", http.StatusOK, map[string]string{"Content-Type": "application/json", "X-Fn": "1", "Set-Cookie": "a=b"}, `{"ok":true}`},
		{"created", http.StatusCreated, map[string]string{"Location": "/x"}, "made"},
		{"redirect not followed", http.StatusFound, map[string]string{"Location": "https://elsewhere.example/"}, ""},
		{"function error", http.StatusInternalServerError, map[string]string{"Content-Type": "text/plain"}, "boom"},
		{"not found from function", http.StatusNotFound, nil, "no such page"},
		{"no content", http.StatusNoContent, map[string]string{"X-Fn": "2"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer up.Close()
			res := &fakeResolver{hosts: map[string]string{"fn.openfaas-fn": hostOf(t, up)}}
			rec := serve(mount(newProxy(res, 5*time.Second)), httptest.NewRequest("GET", "/function/fn", nil))
			if rec.Code != tt.status {
				t.Errorf("GET /function/fn = %d, want %d", rec.Code, tt.status)
			}
			for k, v := range tt.header {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("response header %s = %q, want %q", k, got, v)
				}
			}
			if got := rec.Body.String(); got != tt.body {
				t.Errorf("response body = %q, want %q", got, tt.body)
			}
			if got := rec.Header().Get("X-OpenFaaS-Internal"); got != "" {
				t.Errorf("response X-OpenFaaS-Internal = %q on a function's own answer, want none", got)
			}
			res.checkReleased(t)
		})
	}
}

// TestProxyStreams proves the answer is not buffered: the upstream sends a
// first chunk and then waits until the test has read it through the proxy.
// With a declared Content-Length only an always-flushing proxy passes. The
// second round goes over the same connection, so it is a request the relay
// read itself.
func TestProxyStreams(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		length      bool // declare Content-Length up front
	}{
		{"chunked", "text/plain", false},
		{"content-length", "application/octet-stream", true},
		{"event-stream", "text/event-stream", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var readFirst chan struct{}
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				if tt.length {
					w.Header().Set("Content-Length", strconv.Itoa(len("first\nsecond\n")))
				}
				_, _ = io.WriteString(w, "first\n")
				_ = http.NewResponseController(w).Flush()
				select {
				case <-readFirst:
					_, _ = io.WriteString(w, "second\n")
				case <-r.Context().Done():
				}
			}))
			defer up.Close()
			res := &fakeResolver{hosts: map[string]string{"stream.openfaas-fn": hostOf(t, up)}}
			front := httptest.NewServer(mount(newProxy(res, 10*time.Second)))
			defer front.Close()

			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for round := 1; round <= 2; round++ {
				readFirst = make(chan struct{})
				req, _ := http.NewRequestWithContext(ctx, "GET", front.URL+"/function/stream", nil)
				resp, err := front.Client().Do(req)
				if err != nil {
					close(readFirst)
					t.Fatalf("round %d: GET /function/stream: %v (was the first chunk buffered?)", round, err)
				}
				br := bufio.NewReader(resp.Body)
				line, err := br.ReadString('\n')
				close(readFirst) // whatever happened, let the upstream finish
				if err != nil || line != "first\n" {
					resp.Body.Close()
					t.Fatalf("round %d: first chunk = %q, %v; want %q before the upstream finishes", round, line, err, "first\n")
				}
				rest, err := io.ReadAll(br)
				resp.Body.Close()
				if err != nil || string(rest) != "second\n" {
					t.Errorf("round %d: rest of the stream = %q, %v; want %q", round, rest, err, "second\n")
				}
			}
			waitFor(t, "backend released", func() bool { return res.resolved() == 2 && releasedAll(res) })
		})
	}
}

func releasedAll(r *fakeResolver) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.backends {
		if b.released.Load() != 1 {
			return false
		}
	}
	return true
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestProxyErrors(t *testing.T) {
	// An address nothing listens on: bind a port, then free it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := l.Addr().String()
	l.Close()

	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer hang.Close()

	res := &fakeResolver{
		hosts: map[string]string{
			"down.openfaas-fn": refused,
			"slow.openfaas-fn": hostOf(t, hang),
		},
		block: map[string]bool{"starting.openfaas-fn": true},
	}
	h := mount(newProxy(res, 200*time.Millisecond))

	tests := []struct {
		name         string
		target       string
		wantCode     int
		wantBody     string // substring
		wantInternal bool   // X-OpenFaaS-Internal: proxy
		wantAsked    string // "" when the resolver must not be asked
		wantResolved int    // backends handed out
	}{
		{"unknown function", "/function/nope", http.StatusNotFound, "error finding function nope.openfaas-fn", false, "nope|openfaas-fn", 0},
		{"unknown in namespace", "/function/nope.dev/x", http.StatusNotFound, "error finding function nope.dev", false, "nope|dev", 0},
		{"unknown dotted", "/function/a.b.c", http.StatusNotFound, "error finding function a.b.c", false, "a.b|c", 0},
		{"invalid route char", "/function/%24x", http.StatusNotFound, "", false, "", 0},
		{"invalid route char in path", "/function/f%20n/x", http.StatusNotFound, "", false, "", 0},
		{"no replica in time", "/function/starting", http.StatusGatewayTimeout, "starting.openfaas-fn", true, "starting|openfaas-fn", 0},
		{"connection refused", "/function/down/x", http.StatusBadGateway, "down.openfaas-fn", true, "down|openfaas-fn", 1 + maxRetries},
		{"function too slow", "/function/slow", http.StatusGatewayTimeout, "slow.openfaas-fn", true, "slow|openfaas-fn", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := res.resolved()
			askedBefore := res.askedCount()
			rec := serve(h, httptest.NewRequest("GET", tt.target, nil))
			if rec.Code != tt.wantCode {
				t.Errorf("GET %s = %d, want %d", tt.target, rec.Code, tt.wantCode)
			}
			if !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("GET %s body = %q, want it to contain %q", tt.target, rec.Body, tt.wantBody)
			}
			if got := rec.Header().Get("X-OpenFaaS-Internal"); (got == "proxy") != tt.wantInternal {
				t.Errorf("GET %s X-OpenFaaS-Internal = %q, want set to proxy: %v", tt.target, got, tt.wantInternal)
			}
			if tt.wantAsked == "" {
				if res.askedCount() != askedBefore {
					t.Errorf("GET %s asked the resolver for %q, want no lookup", tt.target, res.lastAsked())
				}
			} else if got := res.lastAsked(); got != tt.wantAsked {
				t.Errorf("GET %s resolved %q, want %q", tt.target, got, tt.wantAsked)
			}
			if got, want := res.resolved()-before, tt.wantResolved; got != want {
				t.Errorf("GET %s handed out %d backends, want %d", tt.target, got, want)
			}
			if tt.wantCode == http.StatusNotFound {
				if got := rec.Header().Get("X-Call-Id"); got != "" {
					t.Errorf("GET %s X-Call-Id = %q, want none on a platform 404", tt.target, got)
				}
			}
			res.checkReleased(t)
		})
	}
}

// TestProxyClientGone checks that a backend is released when the caller
// goes away mid-request.
func TestProxyClientGone(t *testing.T) {
	started := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	}))
	defer up.Close()
	res := &fakeResolver{hosts: map[string]string{"fn.openfaas-fn": hostOf(t, up)}}
	h := mount(newProxy(res, time.Minute))

	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest("GET", "/function/fn", nil).WithContext(ctx)
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- serve(h, req) }()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("upstream never received the request")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("proxy did not return after the client went away")
	}
	if n := res.resolved(); n != 1 {
		t.Errorf("handed out %d backends, want 1", n)
	}
	res.checkReleased(t)
}

// TestProxyContextDeadlineReplacesTimeout: the queue runs invocations
// longer than --timeout by putting a deadline on the request's context.
func TestProxyContextDeadlineReplacesTimeout(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		_, _ = io.WriteString(w, "done")
	}))
	defer slow.Close()
	res := &fakeResolver{hosts: map[string]string{"job.openfaas-fn": hostOf(t, slow)}}
	h := mount(newProxy(res, 100*time.Millisecond))

	if rec := serve(h, httptest.NewRequest("POST", "/function/job", nil)); rec.Code != http.StatusGatewayTimeout {
		t.Errorf("without a deadline: %d, want 504 after --timeout", rec.Code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rec := serve(h, httptest.NewRequest("POST", "/function/job", nil).WithContext(ctx))
	if rec.Code != http.StatusOK || rec.Body.String() != "done" {
		t.Errorf("with a 5s deadline: %d %q", rec.Code, rec.Body)
	}
	res.checkReleased(t)
}
