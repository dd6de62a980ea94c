package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strconv"
	"sync"
	"time"

	"github.com/funcd/funcd/internal/api"
)

// The relay: once a caller's keep-alive connection carries an invocation,
// the proxy takes the connection over from net/http (Hijack) and serves the
// invocations that follow on it itself, writing the function's answer
// straight to the socket. This skips net/http's per-request machinery (the
// background reader goroutine, the response writer, header sorting) that
// made up most of the gateway's cost. A request on that connection that is
// not an invocation is handed back, unread, to the http.Server through
// Handoff, so /system calls and the UI keep their ordinary path; so is an
// invocation whose head the relay does not read itself (rawRequest.parse),
// so that net/http judges it as it judges a connection's first request.

// Relay timeouts, as the http.Server's.
const (
	relayIdleTimeout   = 2 * time.Minute
	relayHeaderTimeout = 10 * time.Second
	maxDrainBytes      = 256 << 10
	rstAvoidanceDelay  = 500 * time.Millisecond // net/http's
)

// relays tracks hijacked connections so Close can end them.
type relays struct {
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closing bool
	handoff *handoffListener
}

func (rs *relays) add(nc net.Conn) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.closing {
		return false
	}
	if rs.conns == nil {
		rs.conns = map[net.Conn]struct{}{}
	}
	rs.conns[nc] = struct{}{}
	return true
}

func (rs *relays) remove(nc net.Conn) {
	rs.mu.Lock()
	delete(rs.conns, nc)
	rs.mu.Unlock()
}

// close stops taking connections over and wakes idle relays so they end;
// busy ones end after their current answer.
func (rs *relays) close() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.closing = true
	for nc := range rs.conns {
		nc.SetReadDeadline(time.Now())
	}
}

func (rs *relays) isClosing() bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.closing
}

// Handoff is the listener through which the relay gives connections back
// to the http.Server: serve the gateway on it as well as on the real
// listener.
func (p *Proxy) Handoff() net.Listener { return p.relays.handoff }

// hijack takes the connection of r over when it can, and serves inv and the
// invocations after it on a goroutine of its own. It reports whether it did.
func (p *Proxy) hijack(w http.ResponseWriter, r *http.Request, inv *invocation) bool {
	if r.ProtoMajor != 1 || r.ProtoMinor < 1 || r.Close || p.relays.isClosing() {
		return false
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		return false
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return false
	}
	if !p.relays.add(nc) {
		nc.Close()
		return true
	}
	// Headers set on w (X-Call-Id, X-Start-Time, X-Served-By) are lost
	// with it; the relay writes its own from inv.
	r.Body = hijackedBody(r, brw.Reader)
	r.RemoteAddr = nc.RemoteAddr().String()
	owned := *inv // ServeHTTP lets go of inv when this returns
	go p.relay(nc, brw, r, &owned, maxRequestHead(r))
	return true
}

// maxRequestHead is the longest request head the http.Server that read r
// accepts: its MaxHeaderBytes, and the 4 KiB net/http allows on top for
// what its buffer reads ahead.
func maxRequestHead(r *http.Request) int {
	n := http.DefaultMaxHeaderBytes
	if srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server); ok && srv.MaxHeaderBytes > 0 {
		n = srv.MaxHeaderBytes
	}
	return n + 4096
}

// hijackedBody reads r's body from the connection's buffer, framed as r's
// headers say: after Hijack the server's own body reader must not be used.
func hijackedBody(r *http.Request, br *bufio.Reader) io.ReadCloser {
	switch {
	case len(r.TransferEncoding) > 0 && r.TransferEncoding[0] == "chunked":
		return io.NopCloser(&chunkedBody{cr: httputil.NewChunkedReader(br), br: br})
	case r.ContentLength > 0:
		return io.NopCloser(io.LimitReader(br, r.ContentLength))
	default:
		return http.NoBody
	}
}

// chunkedBody decodes a chunked body and, at its end, reads past the
// trailer section so the next message starts where it should.
type chunkedBody struct {
	cr   io.Reader
	br   *bufio.Reader
	done bool
}

func (b *chunkedBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.cr.Read(p)
	if err == io.EOF {
		b.done = true
		if terr := skipTrailer(b.br); terr != nil {
			return n, terr
		}
	}
	return n, err
}

var errLongTrailer = errors.New("trailer section longer than the buffer, or not ended by an empty line")

// skipTrailer reads the trailer section after a chunked body's last chunk,
// and refuses it as net/http's body reader does: it must be a bare CRLF,
// or header lines textproto accepts whose end (CRLF CRLF) is within br's
// buffer.
func skipTrailer(br *bufio.Reader) error {
	buf, err := br.Peek(2)
	switch {
	case string(buf) == "\r\n":
		br.Discard(2)
		return nil
	case len(buf) < 2:
		return io.ErrUnexpectedEOF
	case err != nil:
		return err
	}
	for n := 4; ; n++ {
		buf, err := br.Peek(n)
		if bytes.HasSuffix(buf, []byte("\r\n\r\n")) {
			break
		}
		if err != nil {
			return errLongTrailer
		}
	}
	_, err = textproto.NewReader(br).ReadMIMEHeader()
	return err
}

// relay serves invocations on a taken-over connection until the caller
// closes it, idles out, or sends something that is not an invocation. The
// first request is the one net/http parsed; the relay reads the following
// ones itself, up to limit bytes of head (maxRequestHead). What it does not
// take (see rawRequest.parse) it hands back to net/http unread, so a
// request gets the same answer here as the first one on a connection.
func (p *Proxy) relay(nc net.Conn, brw *bufio.ReadWriter, r *http.Request, inv *invocation, limit int) {
	handedOff := false
	defer func() {
		p.relays.remove(nc)
		if !handedOff {
			nc.Close()
		}
	}()
	br := brw.Reader
	var req upstreamRequest = newParsedRequest(r)
	raw := &rawRequest{remote: r.RemoteAddr}
	last := r.Method
	for {
		if !p.relayOne(nc, brw.Writer, req, inv) || p.relays.isClosing() {
			return
		}
		raw.release()
		if !p.awaitRequest(nc, br) {
			return
		}
		skipped := 0
		if last == http.MethodPost {
			skipped = skipLineEnds(br)
		}
		next, ok := nextIsInvocation(br)
		if !ok {
			return
		}
		if !next {
			handedOff = p.relays.handoff.give(handBack(nc, br, nil))
			return
		}
		replay, err := raw.read(br, limit-skipped)
		switch {
		case err == nil:
		case errors.Is(err, errHeadTooLarge):
			// net/http's answer, word for word.
			io.WriteString(nc, "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large")
			closeWriteAndWait(nc)
			return
		case isTimeout(err):
			return // net/http does not answer either
		default: // errHandBack, or the caller hung up mid-head
			handedOff = p.relays.handoff.give(handBack(nc, br, replay))
			return
		}
		last = raw.methodSt
		req = raw
		p.begin(raw, inv) // the last one is done with: reuse it
	}
}

// begin resolves the function of a relayed request into inv. When that
// fails, inv carries the answer for relayOne to write.
func (p *Proxy) begin(q *rawRequest, inv *invocation) {
	full, upstream := q.route()
	name, ns := api.SplitName(full)
	began := time.Now()
	*inv = invocation{name: name, ns: ns, path: upstream, began: began, deadline: began.Add(p.cfg.Timeout)}
	if !validRouteName(full) {
		inv.fail = &failure{http.StatusNotFound, "404 page not found", false}
		return
	}
	b, err := p.resolver.Pick(name, ns)
	if err == nil && b == nil {
		ctx, cancel := context.WithDeadline(context.Background(), inv.deadline)
		b, err = p.resolver.Resolve(ctx, name, ns)
		cancel()
	}
	if err != nil {
		f := p.resolveFailure(context.Background(), name, ns, err)
		inv.fail = &f
		return
	}
	inv.backend = b
	inv.start = strconv.FormatInt(time.Now().UnixNano(), 10)
	if !q.hasCall {
		inv.callID = newCallID()
	}
}

// relayOne answers one relayed request and reports whether the connection
// can carry another.
func (p *Proxy) relayOne(nc net.Conn, bw *bufio.Writer, req upstreamRequest, inv *invocation) bool {
	nc.SetDeadline(inv.deadline.Add(5 * time.Second))
	keep := !req.closing()
	if inv.fail != nil {
		keep = keep && req.drain()
		writeFailure(bw, *inv.fail, !keep)
		p.recordFailure(inv.name, inv.ns, *inv.fail, inv.began)
		return bw.Flush() == nil && keep
	}
	defer func() {
		if inv.backend != nil {
			inv.backend.Release()
		}
	}()
	if req.expectsContinue() {
		bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		if bw.Flush() != nil {
			return false
		}
	}
	ctx := context.Background()
	delay := 2 * time.Millisecond
	lost := false
	for attempt := 1; ; attempt++ {
		c, reused, err := p.pool.get(ctx, inv.backend.Host(), inv.deadline)
		if err != nil {
			if refused(err) && attempt <= maxRetries && p.reresolve(ctx, inv, &delay) {
				continue
			}
			keep = keep && req.consumed() == 0 && req.drain()
			writeFailure(bw, p.upstreamFailed(ctx, inv, err), !keep)
			return bw.Flush() == nil && keep
		}
		c.nc.SetDeadline(inv.deadline)
		heard := false
		err = req.write(c.bw, inv)
		if err == nil {
			heard, err = c.readHead(req.method())
		}
		if err != nil {
			c.close()
			if attempt <= maxRetries {
				switch unanswered(err, req.method(), reused, heard, req.consumed(), &lost) {
				case retrySame:
					continue
				case retryOther:
					if p.reresolve(ctx, inv, &delay) {
						continue
					}
				}
			}
			writeFailure(bw, p.upstreamFailed(ctx, inv, err), true)
			bw.Flush()
			return false
		}
		keep = keep && req.drain()
		return p.relayResponse(bw, c, &c.head, inv, !keep) && keep
	}
}

// relayResponse writes the function's answer (head already read into h)
// to the caller as it arrives, and reports whether both connections are
// still usable.
func (p *Proxy) relayResponse(bw *bufio.Writer, c *conn, h *respHead, inv *invocation, closing bool) bool {
	// A body the function ends by closing its connection is re-framed as
	// chunked, like one it sent chunked.
	chunked := !h.bodyless && h.length < 0
	writeStatus(bw, h.code)
	if own := h.own & p.own(inv); own != 0 {
		bw.Write(dropOwn(h.lines, own)) // the proxy's values replace the function's
	} else {
		bw.Write(h.lines)
	}
	if inv.callID != "" {
		writeHeader(bw, "X-Call-Id", inv.callID)
	}
	writeHeader(bw, "X-Start-Time", inv.start)
	if p.cfg.ServedBy != "" {
		writeHeader(bw, "X-Served-By", p.cfg.ServedBy)
	}
	switch {
	case h.bodyless:
		if h.length >= 0 {
			writeHeader(bw, "Content-Length", strconv.FormatInt(h.length, 10))
		}
	case chunked:
		writeHeader(bw, "Transfer-Encoding", "chunked")
	default:
		writeHeader(bw, "Content-Length", strconv.FormatInt(h.length, 10))
	}
	if closing {
		writeHeader(bw, "Connection", "close")
	}
	bw.WriteString("\r\n")

	var dst io.Writer = bw
	var cw io.WriteCloser
	if chunked {
		cw = httputil.NewChunkedWriter(bw)
		dst = cw
	}
	buf := buffers.Get().(*[]byte)
	err := copyBody(dst, bw.Flush, c.br, h, *buf)
	buffers.Put(buf)
	if err == nil && chunked {
		if err = cw.Close(); err == nil {
			bw.WriteString("\r\n")
		}
	}
	if err == nil {
		err = bw.Flush()
	}
	p.record(inv.name, inv.ns, h.code, inv.began)
	if err != nil || h.close {
		c.close()
	} else {
		p.pool.put(c)
	}
	return err == nil
}

// awaitRequest waits for the first byte of the caller's next request, and
// reports false when the connection is done instead.
func (p *Proxy) awaitRequest(nc net.Conn, br *bufio.Reader) bool {
	nc.SetReadDeadline(time.Now().Add(relayIdleTimeout))
	if _, err := br.Peek(1); err != nil || p.relays.isClosing() {
		return false
	}
	nc.SetReadDeadline(time.Now().Add(relayHeaderTimeout))
	return true
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// closeWriteAndWait ends what the relay sends on nc and, as net/http does
// before it closes a connection whose request it refused unread, gives the
// caller a moment (rstAvoidanceDelay) to read the answer: closing with the
// rest of the request unread would send a reset that can destroy it. It
// reads and drops what the caller still sends until then.
func closeWriteAndWait(nc net.Conn) {
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	nc.SetReadDeadline(time.Now().Add(rstAvoidanceDelay))
	io.Copy(io.Discard, nc)
}

// skipLineEnds drops up to four CR or LF bytes before a request, as
// net/http's server does after a POST (old clients send a line end after
// the body), and returns how many.
func skipLineEnds(br *bufio.Reader) int {
	peek, _ := br.Peek(4)
	n := 0
	for n < len(peek) && (peek[n] == '\r' || peek[n] == '\n') {
		n++
	}
	br.Discard(n)
	return n
}

// nextIsInvocation reports whether the request at the start of br is an
// invocation (to relay) or something else (to hand back). ok is false
// when the connection is done.
func nextIsInvocation(br *bufio.Reader) (next, ok bool) {
	for n := br.Buffered(); ; n++ {
		if n > br.Size() {
			return false, true // an oversized request line: net/http answers it
		}
		buf, err := br.Peek(n)
		if err != nil && len(buf) < n {
			return false, false
		}
		if sp := bytes.IndexByte(buf, ' '); sp >= 0 {
			rest := buf[sp+1:]
			if len(rest) >= len("/function/") || bytes.IndexByte(rest, '\n') >= 0 {
				return bytes.HasPrefix(rest, []byte("/function/")), true
			}
		} else if bytes.IndexByte(buf, '\n') >= 0 {
			return false, true // not a request line we relay: let net/http answer it
		}
	}
}

// writeFailure writes a platform answer in HTTP/1.1.
func writeFailure(bw *bufio.Writer, f failure, closing bool) {
	if f.code == 0 {
		return
	}
	bw.WriteString("HTTP/1.1 ")
	bw.WriteString(strconv.Itoa(f.code))
	bw.WriteByte(' ')
	bw.WriteString(http.StatusText(f.code))
	bw.WriteString("\r\n")
	writeHeader(bw, "Content-Type", "text/plain; charset=utf-8")
	writeHeader(bw, "X-Content-Type-Options", "nosniff")
	if f.internal {
		writeHeader(bw, "X-OpenFaaS-Internal", "proxy")
	}
	writeHeader(bw, "Content-Length", strconv.Itoa(len(f.msg)+1))
	if closing {
		writeHeader(bw, "Connection", "close")
	}
	bw.WriteString("\r\n")
	bw.WriteString(f.msg)
	bw.WriteString("\n")
}

// drain reads what is left of a request body, so the next request can be
// read; it reports false when too much is left to be worth it.
func drain(body io.Reader) bool {
	if body == nil || body == http.NoBody {
		return true
	}
	n, err := io.Copy(io.Discard, io.LimitReader(body, maxDrainBytes+1))
	return err == nil && n <= maxDrainBytes
}

// bufferedConn is a connection handed back to net/http with the bytes the
// relay had already read: pending is read first, then Conn. Conn is never
// a bufferedConn itself: handing a connection back again flattens it
// (handBack), so a caller alternating invocations and other requests on
// one connection costs the same memory on the thousandth round as on the
// first.
type bufferedConn struct {
	net.Conn
	pending []byte
}

// handBack is nc to give back to net/http after the relay read from it
// through br, and consumed replay from br, which it now gives back too.
func handBack(nc net.Conn, br *bufio.Reader, replay []byte) *bufferedConn {
	buffered, _ := br.Peek(br.Buffered())
	pending := make([]byte, 0, len(replay)+len(buffered))
	pending = append(append(pending, replay...), buffered...)
	if bc, ok := nc.(*bufferedConn); ok {
		// br read bc's pending bytes before its connection's: what it
		// has not read of them comes after what it holds.
		pending = append(pending, bc.pending...)
		nc = bc.Conn
	}
	if len(pending) == 0 {
		pending = nil
	}
	return &bufferedConn{Conn: nc, pending: pending}
}

func (c *bufferedConn) Read(p []byte) (int, error) {
	if len(c.pending) == 0 {
		return c.Conn.Read(p)
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	if len(c.pending) == 0 {
		c.pending = nil // let the bytes go
	}
	return n, nil
}

// CloseWrite half-closes, so net/http (and the relay) can end a refused
// request without a reset that would lose their answer.
func (c *bufferedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// handoffListener is a net.Listener fed by the relay.
type handoffListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// give passes c to whoever serves the listener; false when it is closed.
func (l *handoffListener) give(c net.Conn) bool {
	c.SetDeadline(time.Time{})
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }
