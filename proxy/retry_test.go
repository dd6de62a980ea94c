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
