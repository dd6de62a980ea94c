package proxy

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeRecorder keeps the invocations it is told of as "name.ns code".
type fakeRecorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *fakeRecorder) Invocation(name, ns string, code int, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d < 0 {
		code = -code // make a negative duration show up in the assertion
	}
	r.calls = append(r.calls, name+"."+ns+" "+http.StatusText(code))
}

func (r *fakeRecorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func newRecordingProxy(res Resolver, timeout time.Duration) (*Proxy, *fakeRecorder) {
	rec := &fakeRecorder{}
	return New(res, Config{Timeout: timeout, Metrics: rec}, slog.New(slog.DiscardHandler)), rec
}

// TestMetricsResponseWriterPath covers answers written through the
// ResponseWriter (no hijack), platform failures included.
func TestMetricsResponseWriterPath(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/teapot" {
			w.WriteHeader(http.StatusTeapot)
		}
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := l.Addr().String()
	l.Close()
	res := &fakeResolver{
		hosts: map[string]string{"fn.openfaas-fn": hostOf(t, up), "fn.dev": hostOf(t, up), "down.openfaas-fn": refused},
		block: map[string]bool{"starting.openfaas-fn": true},
	}

	tests := []struct {
		target string
		want   []string // recorded, in order; nil for nothing
	}{
		{"/function/fn", []string{"fn.openfaas-fn OK"}},
		{"/function/fn.dev/teapot", []string{"fn.dev I'm a teapot"}},
		{"/function/starting", []string{"starting.openfaas-fn Gateway Timeout"}},
		{"/function/down", []string{"down.openfaas-fn Bad Gateway"}},
		{"/function/nope", nil}, // unknown: unbounded names are not recorded
		{"/function/%24x", nil}, // invalid route
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			p, rec := newRecordingProxy(res, 200*time.Millisecond)
			serve(mount(p), httptest.NewRequest("GET", tt.target, nil))
			if got := rec.got(); strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("GET %s recorded %q, want %q", tt.target, got, tt.want)
			}
		})
	}
}

// TestMetricsRelayPath covers invocations on a kept-alive connection: the
// first is taken over by the relay, the others read by it.
func TestMetricsRelayPath(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	res := &fakeResolver{
		hosts: map[string]string{"fn.openfaas-fn": hostOf(t, up)},
		block: map[string]bool{"starting.openfaas-fn": true},
	}
	p, rec := newRecordingProxy(res, 200*time.Millisecond)
	srv := httptest.NewServer(p)
	defer func() { srv.Close(); p.Close() }()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()

	var want []string
	for _, c := range []struct {
		path string
		code int
		rec  string
	}{
		{"/function/fn", 200, "fn.openfaas-fn OK"},
		{"/function/fn/missing", 404, "fn.openfaas-fn Not Found"}, // the function's own 404 counts
		{"/function/fn", 200, "fn.openfaas-fn OK"},
		{"/function/nope", 404, ""},
		{"/function/starting", 504, "starting.openfaas-fn Gateway Timeout"},
	} {
		resp, err := client.Get(srv.URL + c.path)
		if err != nil {
			t.Fatalf("GET %s: %v", c.path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Fatalf("GET %s = %d, want %d", c.path, resp.StatusCode, c.code)
		}
		if c.rec != "" {
			want = append(want, c.rec)
		}
		// The relay records after the answer has left: wait for it.
		waitFor(t, "the invocation to be recorded", func() bool { return len(rec.got()) == len(want) })
	}
	if got := rec.got(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("recorded %q, want %q", got, want)
	}
}

// TestMetricsNilRecorder checks that a proxy without metrics still answers.
func TestMetricsNilRecorder(t *testing.T) {
	echo := newEcho(t)
	res := &fakeResolver{hosts: map[string]string{"fn.openfaas-fn": hostOf(t, echo)}}
	p := New(res, Config{Timeout: time.Second}, slog.New(slog.DiscardHandler))
	if rec := serve(mount(p), httptest.NewRequest("GET", "/function/fn", nil)); rec.Code != http.StatusOK {
		t.Errorf("GET /function/fn = %d, want 200", rec.Code)
	}
}
