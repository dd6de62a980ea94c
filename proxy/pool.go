package proxy

import (
	"bufio"
	"context"
	"net"
	"sync"
	"time"
)

// conn is one keep-alive connection to a replica.
type conn struct {
	nc   net.Conn
	lim  responseLimit // br reads nc through it
	br   *bufio.Reader
	bw   *bufio.Writer
	host string
	stop func() bool // ends the deadline watch of the current request
	head respHead    // the response head, buffers reused
	idle time.Time   // when it was put back in the pool
	peek *peeker     // is the replica's end still open (pool.get)
}

func newConn(nc net.Conn, host string) *conn {
	c := &conn{nc: nc, bw: bufio.NewWriterSize(nc, 16<<10), host: host, peek: newPeeker(nc)}
	c.lim.r = nc
	c.br = bufio.NewReaderSize(&c.lim, 16<<10)
	return c
}

// readHead reads the function's response head into c.head, allowing it
// (with any informational answers before it) maxResponseHeadBytes. heard
// reports whether the function sent anything: a request is only tried
// again on a fresh connection when it did not.
func (c *conn) readHead(method string) (heard bool, err error) {
	c.lim.on, c.lim.left = true, maxResponseHeadBytes
	err = readHead(c.br, method, &c.head)
	c.lim.on = false
	return c.lim.left < maxResponseHeadBytes, err
}

// watch makes the connection fail as soon as ctx ends.
func (c *conn) watch(ctx context.Context) {
	c.stop = context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
}

// unwatch ends the watch; it returns an error when ctx had already ended
// (the connection's deadline is then in the past and it cannot be reused).
func (c *conn) unwatch() error {
	if c.stop != nil && !c.stop() {
		return context.Canceled
	}
	c.stop = nil
	return nil
}

func (c *conn) close() {
	if c.stop != nil {
		c.stop()
	}
	c.nc.Close()
}

// maxKeptBuffer bounds the head buffers an idle connection (to a replica,
// or a relayed caller's) keeps for reuse: a large head's are dropped.
const maxKeptBuffer = 64 << 10

// idleTimeout is how long a pooled connection may wait for reuse. Replicas
// come and go, so connections to addresses no longer in use must not stay
// open (the sweep closes them).
const idleTimeout = 90 * time.Second

// pool keeps idle connections per replica address.
type pool struct {
	max    int
	dialer net.Dialer

	mu     sync.Mutex
	idle   map[string][]*conn
	sweep  *time.Timer
	closed bool
}

func newPool(max int) *pool {
	p := &pool{
		max:    max,
		dialer: net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second},
		idle:   map[string][]*conn{},
	}
	p.sweep = time.AfterFunc(idleTimeout/3, p.closeStale)
	return p
}

// closeStale closes connections idle longer than idleTimeout and re-arms
// itself until the pool is closed.
func (p *pool) closeStale() {
	cutoff := time.Now().Add(-idleTimeout)
	var stale []*conn
	p.mu.Lock()
	for host, list := range p.idle {
		keep := list[:0]
		for _, c := range list {
			if c.idle.Before(cutoff) {
				stale = append(stale, c)
			} else {
				keep = append(keep, c)
			}
		}
		clear(list[len(keep):])
		if len(keep) == 0 {
			delete(p.idle, host)
		} else {
			p.idle[host] = keep
		}
	}
	if !p.closed {
		p.sweep.Reset(idleTimeout / 3)
	}
	p.mu.Unlock()
	for _, c := range stale {
		c.close()
	}
}

// get returns an idle connection to host that is still open, or dials a
// new one. reused says which.
func (p *pool) get(ctx context.Context, host string, deadline time.Time) (c *conn, reused bool, err error) {
	for {
		p.mu.Lock()
		list := p.idle[host]
		if n := len(list); n > 0 {
			c = list[n-1]
			list[n-1] = nil
			p.idle[host] = list[:n-1]
		}
		p.mu.Unlock()
		if c == nil {
			break
		}
		if c.br.Buffered() == 0 && c.peek.open() {
			return c, true, nil
		}
		c.close()
		c = nil
	}
	d := p.dialer
	d.Deadline = deadline
	nc, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, false, err
	}
	return newConn(nc, host), false, nil
}

// put returns c to the pool, or closes it when the pool is full.
func (p *pool) put(c *conn) {
	c.idle = time.Now()
	if cap(c.head.lines) > maxKeptBuffer {
		c.head.lines = nil // an idle connection keeps no large head
	}
	p.mu.Lock()
	if !p.closed && len(p.idle[c.host]) < p.max {
		p.idle[c.host] = append(p.idle[c.host], c)
		c = nil
	}
	p.mu.Unlock()
	if c != nil {
		c.close()
	}
}

// closeIdle closes every idle connection and stops pooling.
func (p *pool) closeIdle() {
	p.mu.Lock()
	p.closed = true
	p.sweep.Stop()
	idle := p.idle
	p.idle = map[string][]*conn{}
	p.mu.Unlock()
	for _, list := range idle {
		for _, c := range list {
			c.close()
		}
	}
}
