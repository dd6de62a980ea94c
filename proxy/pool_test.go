package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestPoolDetectsClosedConnection checks that a connection the replica
// closed while idle is not handed out again.
func TestPoolDetectsClosedConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	p := newPool(4)
	c, reused, err := p.get(context.Background(), ln.Addr().String(), time.Now().Add(time.Minute))
	if err != nil || reused {
		t.Fatalf("get = %v, reused %v; want a new connection", err, reused)
	}
	p.put(c)
	if !open(c.nc) {
		t.Fatalf("open() = false on a live idle connection")
	}
	server := <-accepted
	server.Close()
	deadline := time.Now().Add(2 * time.Second)
	for open(c.nc) {
		if time.Now().After(deadline) {
			t.Fatal("open() still true after the peer closed")
		}
		time.Sleep(time.Millisecond)
	}
	go func() {
		if c, err := ln.Accept(); err == nil {
			defer c.Close()
			io.Copy(io.Discard, c)
		}
	}()
	c2, reused, err := p.get(context.Background(), ln.Addr().String(), time.Now().Add(time.Minute))
	if err != nil || reused || c2 == c {
		t.Errorf("get after the peer closed = %v, reused %v; want a fresh connection", err, reused)
	}
}

// TestKeepAliveReuse checks that sequential invocations share one upstream
// connection.
func TestKeepAliveReuse(t *testing.T) {
	var conns int
	upstream := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	upstream.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns++
		}
	}
	upstream.Start()
	defer upstream.Close()
	res := &fakeResolver{hosts: map[string]string{"f.openfaas-fn": strings.TrimPrefix(upstream.URL, "http://")}}
	h := mount(newProxy(res, 5*time.Second))
	for i := range 5 {
		rec := serve(h, httptest.NewRequest(http.MethodPost, "/function/f", strings.NewReader("x")))
		if rec.Code != 200 || rec.Body.String() != "ok" {
			t.Fatalf("request %d = %d %q", i, rec.Code, rec.Body)
		}
	}
	if conns != 1 {
		t.Errorf("upstream saw %d connections for 5 sequential requests, want 1", conns)
	}
}

func TestPoolClosesStaleConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	p := newPool(4)
	defer p.closeIdle()
	fresh, _, err := p.get(context.Background(), ln.Addr().String(), time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	old, _, err := p.get(context.Background(), ln.Addr().String(), time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	p.put(fresh)
	p.put(old)
	old.idle = time.Now().Add(-2 * idleTimeout) // as if it had waited long
	p.closeStale()
	p.mu.Lock()
	n := len(p.idle[ln.Addr().String()])
	p.mu.Unlock()
	if n != 1 {
		t.Errorf("after the sweep %d connections pooled, want 1 (the fresh one)", n)
	}
	if _, err := old.nc.Write([]byte("x")); err == nil {
		t.Errorf("stale connection still open after the sweep")
	}
}
