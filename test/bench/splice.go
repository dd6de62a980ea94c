package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// spliceRelay is the warm path's floor: a hop on 127.0.0.1 that does no
// HTTP work at all. Each accepted connection gets its own connection to
// the replica and a goroutine per direction copying bytes as they come.
// Between two TCP sockets io.Copy is (*net.TCPConn).ReadFrom, which on
// Linux moves the bytes with splice(2) through a pipe, so no byte passes
// through user space. Whatever funcd costs above this is its own.
type spliceRelay struct {
	ln       net.Listener
	upstream string // IP:PORT of the replica

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// startSpliceRelay listens on a free 127.0.0.1 port and relays every
// connection to upstream until Close.
func startSpliceRelay(upstream string) (*spliceRelay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("floor relay: %w", err)
	}
	r := &spliceRelay{ln: ln, upstream: upstream, conns: map[net.Conn]struct{}{}}
	r.wg.Add(1)
	go r.serve()
	return r, nil
}

// addr is the relay's IP:PORT.
func (r *spliceRelay) addr() string { return r.ln.Addr().String() }

func (r *spliceRelay) serve() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		if !r.track(c) {
			c.Close()
			return
		}
		r.wg.Add(1)
		go r.relay(c)
	}
}

// track records c so Close can end it; false once the relay is closed.
func (r *spliceRelay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *spliceRelay) untrack(c net.Conn) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
}

// relay copies both ways between the caller and a new connection to the
// replica; when either side ends its half, the other learns of it, and
// both are closed when both directions are done.
func (r *spliceRelay) relay(c net.Conn) {
	defer r.wg.Done()
	defer r.untrack(c)
	defer c.Close()
	up, err := net.Dial("tcp", r.upstream)
	if err != nil {
		return
	}
	if !r.track(up) {
		up.Close()
		return
	}
	defer r.untrack(up)
	defer up.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		copyHalf(c, up)
	}()
	copyHalf(up, c)
	<-done
}

// copyHalf copies src to dst until src ends, then closes dst's sending
// half so the far side sees the end too.
func copyHalf(dst, src net.Conn) {
	io.Copy(dst, src)
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

// Close stops accepting, ends every relayed connection and waits for
// the relay's goroutines.
func (r *spliceRelay) Close() error {
	err := r.ln.Close()
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
