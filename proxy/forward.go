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
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
)

// maxIdlePerHost bounds the idle keep-alive connections kept per replica.
const maxIdlePerHost = 256

// maxRetries bounds the retries of refused connections (about 60 ms of
// back-off in all): enough for the supervisor to notice an exited replica,
// after which Resolve waits for a ready one.
const maxRetries = 5

// forward sends r to inv's replica and copies the answer to w. A refused
// connection (nothing sent) is retried on a replica resolved afresh; a
// pooled connection the function had closed is retried on a new one when
// nothing of the request body was consumed.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, inv *invocation) {
	ctx := r.Context()
	body := &countingBody{r: r.Body}
	delay := 2 * time.Millisecond
	lost := false
	for attempt := 1; ; attempt++ {
		c, reused, err := p.pool.get(ctx, inv.backend.Host(), inv.deadline)
		if err != nil {
			if !refused(err) || attempt > maxRetries || !p.reresolve(ctx, inv, &delay) {
				p.upstreamError(w, r, inv, err)
				return
			}
			continue
		}
		heard, err := roundTrip(ctx, c, r, inv, body)
		if err != nil {
			c.close()
			if ctx.Err() == nil && attempt <= maxRetries {
				switch unanswered(err, r.Method, reused, heard, body.n, &lost) {
				case retrySame:
					continue
				case retryOther:
					if p.reresolve(ctx, inv, &delay) {
						continue
					}
				}
			}
			p.upstreamError(w, r, inv, err)
			return
		}
		p.copyResponse(ctx, w, c, inv)
		return
	}
}

// retry says how a request whose connection failed before the function
// answered may be sent again.
type retry int

const (
	noRetry    retry = iota
	retrySame        // on a fresh connection to the same replica
	retryOther       // on a replica resolved afresh
)

// unanswered decides whether a request may be sent again after its
// connection failed with err before the function answered (heard false),
// with consumed bytes of its body already read.
//
// A pooled connection the function had closed while idle is retried at
// once. A fresh connection closed without a word means the replica died
// between accepting and reading, as when its process exits: an idempotent
// request that sent no body is retried once on a replica resolved afresh,
// as nginx's proxy_next_upstream does. *lost records that one retry.
// Timeouts, and anything the function may have acted on, are not retried.
func unanswered(err error, method string, reused, heard bool, consumed int64, lost *bool) retry {
	if heard || consumed != 0 || isBodyError(err) || isTimeout(err) {
		return noRetry
	}
	if reused {
		return retrySame
	}
	if *lost || !idempotent(method) {
		return noRetry
	}
	*lost = true
	return retryOther
}

// idempotent reports whether a request with method may be repeated
// without a different effect (RFC 9110, section 9.2.2). PUT and DELETE
// are left out: functions rarely honour their semantics.
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// reresolve gives the failed replica back and picks another after a short
// back-off. It reports false when that is not possible.
func (p *Proxy) reresolve(ctx context.Context, inv *invocation, delay *time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(*delay):
	}
	*delay = min(*delay*2, 100*time.Millisecond)
	inv.backend.Release()
	inv.backend = nil
	ctx, cancel := context.WithDeadline(ctx, inv.deadline)
	defer cancel()
	b, err := p.resolver.Resolve(ctx, inv.name, inv.ns)
	if err != nil {
		return false
	}
	inv.backend = b
	return true
}

// roundTrip writes the request on c and reads the response head into
// c.head, as the relay does (conn.readHead). The connection fails at the
// invocation's deadline, or as soon as the caller goes away (ctx). heard
// reports whether the function sent anything.
func roundTrip(ctx context.Context, c *conn, r *http.Request, inv *invocation, body *countingBody) (heard bool, err error) {
	c.nc.SetDeadline(inv.deadline)
	c.watch(ctx)
	if err := writeRequest(c.bw, r, inv, body); err != nil {
		return false, err
	}
	return c.readHead(r.Method)
}

// writeRequest writes r as an HTTP/1.1 request for inv to bw and flushes.
func writeRequest(bw *bufio.Writer, r *http.Request, inv *invocation, body *countingBody) error {
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(inv.path)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(inv.backend.Host())
	bw.WriteString("\r\n")
	connTokens := r.Header["Connection"]
	for k, vv := range r.Header {
		if skipRequestHeader(k, connTokens) || k == "X-Call-Id" && inv.callID != "" {
			continue
		}
		for _, v := range vv {
			writeHeader(bw, k, v)
		}
	}
	// A header the caller named in Connection is gone: the proxy sets its
	// own.
	if !hasHeader(r, "X-Forwarded-For") {
		writeHeader(bw, "X-Forwarded-For", r.RemoteAddr)
	}
	if !hasHeader(r, "X-Forwarded-Host") && r.Host != "" {
		writeHeader(bw, "X-Forwarded-Host", r.Host)
	}
	if inv.callID != "" {
		writeHeader(bw, "X-Call-Id", inv.callID)
	}
	writeHeader(bw, "X-Start-Time", inv.start)

	if err := writeBody(bw, r.Method, r.ContentLength, body); err != nil {
		return err
	}
	return bw.Flush()
}

// writeBody ends a request head with its framing and writes the body:
// length bytes, chunked when length is negative, or none (with an explicit
// zero length for methods that normally carry a body).
func writeBody(bw *bufio.Writer, method string, length int64, body io.Reader) error {
	var err error
	switch {
	case length > 0:
		writeHeader(bw, "Content-Length", strconv.FormatInt(length, 10))
		bw.WriteString("\r\n")
		_, err = io.CopyN(bw, body, length)
	case length < 0:
		writeHeader(bw, "Transfer-Encoding", "chunked")
		bw.WriteString("\r\n")
		cw := httputil.NewChunkedWriter(bw)
		if _, err = io.Copy(cw, body); err == nil {
			if err = cw.Close(); err == nil {
				_, err = bw.WriteString("\r\n")
			}
		}
	default:
		if method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
			writeHeader(bw, "Content-Length", "0")
		}
		bw.WriteString("\r\n")
	}
	return err
}

func writeHeader(bw *bufio.Writer, k, v string) {
	bw.WriteString(k)
	bw.WriteString(": ")
	bw.WriteString(v)
	bw.WriteString("\r\n")
}

// skipRequestHeader reports whether header k is not passed to the
// function: hop-by-hop headers, those the caller's Connection header names,
// the framing this proxy writes itself, and X-Start-Time, which it sets.
func skipRequestHeader(k string, connTokens []string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length", "Host", "Expect", "X-Start-Time":
		return true
	}
	return listed(k, connTokens)
}

// listed reports whether k is one of the comma-separated header names in
// the Connection header values.
func listed(k string, connTokens []string) bool {
	return httpguts.HeaderValuesContainsToken(connTokens, k)
}

// hasHeader reports whether r has header k and the caller did not name it
// in Connection.
func hasHeader(r *http.Request, k string) bool {
	_, ok := r.Header[k]
	return ok && !listed(k, r.Header["Connection"])
}

// copyResponse writes the function's answer (head in c.head) to w as it
// arrives, with the same headers the relay passes on. The connection goes
// back to the pool when the answer was read to its end.
func (p *Proxy) copyResponse(ctx context.Context, w http.ResponseWriter, c *conn, inv *invocation) {
	h := &c.head
	hdr := w.Header()
	own := p.own(inv)
	for lines := h.lines; len(lines) > 0; {
		var line []byte
		line, lines = cutLine(lines)
		name, value, _ := bytes.Cut(line, []byte(":"))
		if ownHeader(name)&own != 0 {
			continue // the proxy's values replace the function's
		}
		k := http.CanonicalHeaderKey(string(name))
		hdr[k] = append(hdr[k], string(trimOWS(value)))
	}
	if h.length >= 0 && !h.chunked {
		hdr["Content-Length"] = []string{strconv.FormatInt(h.length, 10)}
	}
	w.WriteHeader(h.code)

	buf := buffers.Get().(*[]byte)
	defer buffers.Put(buf)
	// Flushing as copyBody does streams whatever the function sends, and
	// costs nothing for a small answer: its head and body leave in one
	// write. Its last read is flushed here, before the handler returns, so
	// net/http frames the answer as it did when it flushed every read.
	flush := http.NewResponseController(w).Flush
	err := copyBody(w, flush, c.br, h, *buf)
	if err == nil {
		err = flush()
	}
	p.record(inv.name, inv.ns, h.code, inv.began)
	if err != nil || h.close || c.unwatch() != nil {
		c.close()
		if err != nil && ctx.Err() == nil {
			// The answer is cut short; make the caller see it.
			panic(http.ErrAbortHandler)
		}
		return
	}
	p.pool.put(c)
}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32*1024); return &b }}

// countingBody counts what was read of the request body, and marks the
// errors reading it as the caller's (bodyError).
type countingBody struct {
	r io.Reader
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	if b.r == nil {
		return 0, io.EOF
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if err != nil && err != io.EOF {
		err = bodyError{err}
	}
	return n, err
}

// bodyError is a failure to read the caller's request body: a malformed
// one (bad chunked encoding) is the caller's fault, and answered 400.
type bodyError struct{ err error }

func (e bodyError) Error() string { return "read request body: " + e.err.Error() }
func (e bodyError) Unwrap() error { return e.err }

func isBodyError(err error) bool {
	var be bodyError
	return errors.As(err, &be)
}

// refused reports whether err happened while connecting, before anything
// was sent.
func refused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial" && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}
