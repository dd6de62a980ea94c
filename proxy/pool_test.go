package proxy

import (
	"bufio"
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
	if !c.peek.open() {
		t.Fatalf("open() = false on a live idle connection")
	}
	server := <-accepted
	server.Close()
	deadline := time.Now().Add(2 * time.Second)
	for c.peek.open() {
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

// TestLargeHeadBuffersNotKept checks that an idle connection does not keep
// the buffers of a large head it carried: a function's answer head (up to
// 10 MiB) on a pooled connection, a caller's request head (up to 1 MiB) on
// a relayed one.
func TestLargeHeadBuffersNotKept(t *testing.T) {
	p := newPool(4)
	defer p.closeIdle()
	for _, size := range []int{100, 1 << 20} {
		a, b := net.Pipe()
		defer b.Close()
		c := newConn(a, "fn:8080")
		c.head.lines = make([]byte, 0, size)
		p.put(c)
		if kept := cap(c.head.lines); kept > maxKeptBuffer || size <= maxKeptBuffer && kept != size {
			t.Errorf("after a %d-byte head a pooled connection keeps %d bytes of buffer, want at most %d (and the small one)", size, kept, maxKeptBuffer)
		}
	}

	head := "GET /function/f HTTP/1.1\r\nHost: h\r\nCookie: " + strings.Repeat("c", 200<<10) + "\r\n\r\n"
	var q rawRequest
	if _, err := q.read(bufio.NewReaderSize(strings.NewReader(head), 4096), 1<<20); err != nil {
		t.Fatalf("read = %v", err)
	}
	q.release()
	if cap(q.big) > maxKeptBuffer || cap(q.lines) > maxKeptBuffer {
		t.Errorf("after a %d-byte head a relayed connection keeps %d and %d bytes of buffer, want at most %d", len(head), cap(q.big), cap(q.lines), maxKeptBuffer)
	}
}
