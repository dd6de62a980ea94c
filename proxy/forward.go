package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"time"
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
	for attempt := 1; ; attempt++ {
		c, reused, err := p.pool.get(ctx, inv.backend.Host(), inv.deadline)
		if err != nil {
			if !refused(err) || attempt > maxRetries || !p.reresolve(ctx, inv, &delay) {
				p.upstreamError(w, r, inv, err)
				return
			}
			continue
		}
		resp, err := roundTrip(ctx, c, r, inv, body)
		if err != nil {
			c.close()
			if reused && body.n == 0 && ctx.Err() == nil && attempt <= maxRetries {
				continue // the function closed an idle connection; try a fresh one
			}
			p.upstreamError(w, r, inv, err)
			return
		}
		p.copyResponse(ctx, w, c, resp, inv)
		return
	}
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

// roundTrip writes the request on c and reads the response head. The
// connection fails at the invocation's deadline, or as soon as the caller
// goes away (ctx).
func roundTrip(ctx context.Context, c *conn, r *http.Request, inv *invocation, body *countingBody) (*http.Response, error) {
	c.nc.SetDeadline(inv.deadline)
	c.watch(ctx)
	if err := writeRequest(c.bw, r, inv, body); err != nil {
		return nil, err
	}
	for {
		resp, err := http.ReadResponse(c.br, r)
		if err != nil {
			return nil, err
		}
		// Informational answers (100 Continue, 103 Early Hints) precede
		// the real one.
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
	}
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
		if skipRequestHeader(k, connTokens) {
			continue
		}
		for _, v := range vv {
			writeHeader(bw, k, v)
		}
	}
	if _, ok := r.Header["X-Forwarded-For"]; !ok {
		writeHeader(bw, "X-Forwarded-For", r.RemoteAddr)
	}
	if _, ok := r.Header["X-Forwarded-Host"]; !ok {
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
	for _, v := range connTokens {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), k) {
				return true
			}
		}
	}
	return false
}

// copyResponse writes the function's answer to w as it arrives. The
// connection goes back to the pool when the answer was read to its end.
func (p *Proxy) copyResponse(ctx context.Context, w http.ResponseWriter, c *conn, resp *http.Response, inv *invocation) {
	h := w.Header()
	connTokens := resp.Header["Connection"]
	for k, vv := range resp.Header {
		switch k {
		case "Connection", "Proxy-Connection", "Keep-Alive", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
			continue
		}
		if len(connTokens) > 0 && listed(k, connTokens) {
			continue
		}
		h[k] = vv
	}
	w.WriteHeader(resp.StatusCode)

	buf := buffers.Get().(*[]byte)
	defer buffers.Put(buf)
	// Flushing after every read streams whatever the function sends, and
	// costs nothing for a small answer: its head and body leave in one
	// write.
	err := copyFlushing(w, resp.Body, *buf)
	resp.Body.Close()
	p.record(inv.name, inv.ns, resp.StatusCode, inv.began)
	if err != nil || resp.Close || c.unwatch() != nil {
		c.close()
		if err != nil && ctx.Err() == nil {
			// The answer is cut short; make the caller see it.
			panic(http.ErrAbortHandler)
		}
		return
	}
	p.pool.put(c)
}

// copyFlushing copies src to w, flushing after every read.
func copyFlushing(w http.ResponseWriter, src io.Reader, buf []byte) error {
	rc := http.NewResponseController(w)
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
			if err := rc.Flush(); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32*1024); return &b }}

// countingBody counts what was read of the request body.
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
	return n, err
}

// refused reports whether err happened while connecting, before anything
// was sent.
func refused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial" && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}
