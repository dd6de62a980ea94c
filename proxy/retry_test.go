package proxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// flakyResolver hands out a refusing address first, then a live one, as
// when a replica's process has just exited and another takes over.
type flakyResolver struct {
	dead, live string

	mu       sync.Mutex
	backends []*fakeBackend
}

func (r *flakyResolver) Resolve(ctx context.Context, name, ns string) (Backend, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	host := r.live
	if len(r.backends) == 0 {
		host = r.dead
	}
	b := &fakeBackend{host: host}
	r.backends = append(r.backends, b)
	return b, nil
}

func (r *flakyResolver) Pick(name, ns string) (Backend, error) {
	return r.Resolve(context.Background(), name, ns)
}

func TestRetryRefusedConnection(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s", r.Method, b)
	}))
	defer upstream.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused

	res := &flakyResolver{dead: dead, live: strings.TrimPrefix(upstream.URL, "http://")}
	h := mount(newProxy(res, 5*time.Second))
	rec := serve(h, httptest.NewRequest(http.MethodPost, "/function/f", strings.NewReader("payload")))
	if rec.Code != http.StatusOK || rec.Body.String() != "POST payload" {
		t.Errorf("POST after a refused replica = %d %q, want 200 %q", rec.Code, rec.Body, "POST payload")
	}
	res.mu.Lock()
	defer res.mu.Unlock()
	if len(res.backends) != 2 {
		t.Fatalf("resolved %d backends, want 2 (the refused one, then a live one)", len(res.backends))
	}
	for i, b := range res.backends {
		if n := b.released.Load(); n != 1 {
			t.Errorf("backend %d released %d times, want 1", i, n)
		}
	}
}

// closingListener accepts connections and closes them unread, as a
// replica whose process is exiting does with what its listener queued.
func closingListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// TestRetryReplicaDyingUnanswered sends requests to a replica that closes
// connections without a word and then to a live one: idempotent requests
// are sent once more on the live replica, others fail with 502, through
// both the forwarding path (a recorder cannot be hijacked) and the relay.
func TestRetryReplicaDyingUnanswered(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s", r.Method, b)
	}))
	defer upstream.Close()
	live := strings.TrimPrefix(upstream.URL, "http://")

	cases := []struct {
		method, body string
		want         int
		resolved     int
	}{
		{http.MethodGet, "", http.StatusOK, 2},
		{http.MethodHead, "", http.StatusOK, 2},
		{http.MethodPost, "payload", http.StatusBadGateway, 1},
		{http.MethodPost, "", http.StatusBadGateway, 1},
		{http.MethodDelete, "", http.StatusBadGateway, 1},
	}
	for _, path := range []string{"forward", "relay"} {
		for _, tc := range cases {
			t.Run(path+"/"+tc.method+"/"+tc.body, func(t *testing.T) {
				res := &flakyResolver{dead: closingListener(t), live: live}
				p := newProxy(res, 5*time.Second)
				defer p.Close()
				req := httptest.NewRequest(tc.method, "/function/f", strings.NewReader(tc.body))
				var code int
				if path == "forward" {
					code = serve(mount(p), req).Code
				} else {
					srv := httptest.NewServer(mount(p))
					defer srv.Close()
					go http.Serve(p.Handoff(), mount(p))
					out, err := http.NewRequest(tc.method, srv.URL+"/function/f", strings.NewReader(tc.body))
					if err != nil {
						t.Fatal(err)
					}
					resp, err := srv.Client().Do(out)
					if err != nil {
						t.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				if code != tc.want {
					t.Errorf("%s to a replica dying unanswered = %d, want %d", tc.method, code, tc.want)
				}
				// The relay gives its replica back after the answer is out.
				waitFor(t, "every backend released once", func() bool {
					res.mu.Lock()
					defer res.mu.Unlock()
					for _, b := range res.backends {
						if b.released.Load() != 1 {
							return false
						}
					}
					return true
				})
				res.mu.Lock()
				defer res.mu.Unlock()
				if len(res.backends) != tc.resolved {
					t.Errorf("resolved %d backends, want %d", len(res.backends), tc.resolved)
				}
			})
		}
	}
}
