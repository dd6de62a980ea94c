package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
)

// upstreamRequest is a caller's request as the relay forwards it: either
// the one net/http parsed before the connection was taken over, or one the
// relay read itself.
type upstreamRequest interface {
	method() string
	// write sends the request for inv on bw and flushes.
	write(bw *bufio.Writer, inv *invocation) error
	consumed() int64 // bytes of the body read so far
	drain() bool     // read the rest of the body; false if there is too much
	closing() bool   // the caller asked to close after this request
	expectsContinue() bool
}

// parsedRequest is a request net/http parsed.
type parsedRequest struct {
	r    *http.Request
	body *countingBody
}

func newParsedRequest(r *http.Request) *parsedRequest {
	return &parsedRequest{r: r, body: &countingBody{r: r.Body}}
}

func (p *parsedRequest) method() string { return p.r.Method }
func (p *parsedRequest) write(bw *bufio.Writer, inv *invocation) error {
	return writeRequest(bw, p.r, inv, p.body)
}
func (p *parsedRequest) consumed() int64 { return p.body.n }
func (p *parsedRequest) drain() bool     { return drain(p.r.Body) }
func (p *parsedRequest) closing() bool   { return p.r.Close }

// expectsContinue: net/http answers 417 to any other expectation before
// the handler runs, so an Expect header here asks for 100 Continue.
func (p *parsedRequest) expectsContinue() bool {
	return p.r.Header.Get("Expect") != "" && p.r.ContentLength != 0
}

// rawRequest is a request head the relay read itself: the request line's
// parts, the end-to-end header lines verbatim, and the framing. Its
// buffers are reused from one request to the next.
type rawRequest struct {
	meth     []byte
	target   []byte // as sent: /function/NAME/rest?query
	lines    []byte // header lines to pass on, each ending in CRLF
	host     []byte
	conn     []byte // the Connection header's tokens
	big      []byte // a head longer than the connection's buffer
	length   int64  // Content-Length, or -1 when chunked, 0 when absent
	chunked  bool
	close    bool
	expect   bool // Expect: 100-continue
	hasXFF   bool
	hasXFH   bool
	hasCall  bool // the caller set the call id
	remote   string
	body     countingBody
	bodySrc  io.Reader
	methodSt string
}

var (
	// errHandBack: the relay leaves this request to net/http, which
	// judges it as it judges the first request on a connection.
	errHandBack = errors.New("request left to net/http")
	// errHeadTooLarge: the head is longer than the http.Server allows.
	errHeadTooLarge = errors.New("request head too large")
)

// read reads the next request head from br into q. limit is the longest
// head net/http's server accepts. A head the relay takes is consumed. On
// errHandBack, or when the connection fails, the head is left in br, or,
// when it was too long to stay in br's buffer, returned as replay; either
// way net/http can read it again.
func (q *rawRequest) read(br *bufio.Reader, limit int) (replay []byte, err error) {
	head, err := peekHead(br)
	if err != nil {
		return nil, err
	}
	consumed := head == nil
	if consumed {
		if head, err = q.readLong(br, limit); err != nil {
			return head, err
		}
	} else if len(head) > limit {
		return nil, errHeadTooLarge
	}
	if err := q.parse(head); err != nil {
		if consumed {
			return head, err
		}
		return nil, err
	}
	if !consumed {
		br.Discard(len(head))
	}
	switch {
	case q.chunked:
		q.bodySrc = &chunkedBody{cr: httputil.NewChunkedReader(br), br: br}
	case q.length > 0:
		q.bodySrc = io.LimitReader(br, q.length)
	default:
		q.bodySrc = nil
	}
	q.body = countingBody{r: q.bodySrc}
	return nil, nil
}

// readLong reads a head longer than br's buffer out of it into q.big, one
// line at a time so nothing after the head is read. It fails as soon as
// more than limit bytes came without the head ending, as net/http does.
func (q *rawRequest) readLong(br *bufio.Reader, limit int) ([]byte, error) {
	q.big = q.big[:0]
	from := 0
	for {
		if _, err := br.Peek(1); err != nil {
			return q.big, err
		}
		buf, _ := br.Peek(br.Buffered())
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[:i+1]
		}
		q.big = append(q.big, buf...)
		br.Discard(len(buf))
		if len(q.big) > limit {
			return q.big, errHeadTooLarge
		}
		if end := headEnd(q.big, &from); end > 0 {
			return q.big, nil
		}
	}
}

// parse reads a head the relay relays itself into q: request line
// "METHOD /function/... HTTP/1.1" with a token for a method (not CONNECT)
// and a target relayable leaves as it is; header lines headerLine accepts;
// exactly one valid Host; at most one Content-Length (digits), one
// Transfer-Encoding (chunked) and one Expect (100-continue); no Trailer
// with a chunked body. Anything else is errHandBack. It interprets the
// head as net/http does, down to adding Cache-Control: no-cache for
// Pragma: no-cache.
func (q *rawRequest) parse(head []byte) error {
	line, rest := cutLine(head)
	meth, line, ok1 := bytes.Cut(line, []byte(" "))
	target, proto, ok2 := bytes.Cut(line, []byte(" "))
	if !ok1 || !ok2 || string(proto) != "HTTP/1.1" || len(meth) == 0 || string(meth) == http.MethodConnect || !relayable(target) {
		return errHandBack
	}
	for _, c := range meth {
		if !tokenBytes[c] {
			return errHandBack
		}
	}
	q.meth = append(q.meth[:0], meth...)
	if string(q.meth) != q.methodSt {
		q.methodSt = string(q.meth)
	}
	q.target = append(q.target[:0], target...)
	q.lines, q.host, q.conn = q.lines[:0], q.host[:0], q.conn[:0]
	q.length, q.chunked, q.close, q.expect = 0, false, false, false
	q.hasXFF, q.hasXFH, q.hasCall = false, false, false
	hosts, lengths, expects, calls := 0, 0, 0, 0
	trailer, pragma, noCache, cacheControl := false, false, false, false
	for {
		line, rest = cutLine(rest)
		if len(line) == 0 {
			break
		}
		name, value, ok := headerLine(line)
		if !ok {
			return errHandBack
		}
		switch {
		case equalFold(name, "Host"):
			for _, c := range value {
				if !hostBytes[c] {
					return errHandBack
				}
			}
			hosts++
			q.host = append(q.host[:0], value...)
		case equalFold(name, "Content-Length"):
			n, ok := parseLength(value)
			lengths++
			if !ok || lengths > 1 {
				return errHandBack
			}
			q.length = n
		case equalFold(name, "Transfer-Encoding"):
			if q.chunked || !equalFold(value, "chunked") {
				return errHandBack
			}
			q.chunked = true
		case equalFold(name, "Connection"):
			q.close = q.close || containsToken(value, "close")
			q.conn = append(append(q.conn, value...), ',')
		case equalFold(name, "Expect"):
			expects++
			if expects > 1 || !equalFold(value, "100-continue") {
				return errHandBack
			}
			q.expect = true
		case equalFold(name, "Trailer"):
			trailer = true
		case hopByHop(name), equalFold(name, "Proxy-Authenticate"), equalFold(name, "Proxy-Authorization"),
			equalFold(name, "X-Start-Time"):
		case equalFold(name, "X-Call-Id"):
			// The first one decides: the caller's call id, or none and
			// the proxy makes one.
			if calls++; calls == 1 {
				q.hasCall = len(value) > 0
			}
			if q.hasCall {
				q.lines = append(append(q.lines, line...), '\r', '\n')
			}
		default:
			switch {
			case equalFold(name, "X-Forwarded-For"):
				q.hasXFF = true
			case equalFold(name, "X-Forwarded-Host"):
				q.hasXFH = true
			case equalFold(name, "Pragma") && !pragma:
				pragma, noCache = true, string(value) == "no-cache"
			case equalFold(name, "Cache-Control"):
				cacheControl = true
			}
			q.lines = append(append(q.lines, line...), '\r', '\n')
		}
	}
	if hosts != 1 || trailer && q.chunked {
		return errHandBack
	}
	if q.chunked {
		q.length = -1 // net/http ignores a valid Content-Length then
	}
	if noCache && !cacheControl {
		q.lines = append(q.lines, "Cache-Control: no-cache\r\n"...)
	}
	if namesHeaders(q.conn) {
		q.lines = dropListed(q.lines, q.conn)
		// A header the caller named in Connection is gone: the proxy
		// sets its own.
		q.hasXFF = q.hasXFF && !containsToken(q.conn, "X-Forwarded-For")
		q.hasXFH = q.hasXFH && !containsToken(q.conn, "X-Forwarded-Host")
		q.hasCall = q.hasCall && !containsToken(q.conn, "X-Call-Id")
	}
	return nil
}

// pathBytes are the bytes net/url leaves as they are in a request's path
// (url.URL.EscapedPath), but for '%', which must start an escape.
var pathBytes = func() (t [256]bool) {
	for _, c := range []byte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/[]") {
		t[c] = true
	}
	return t
}()

// relayable reports whether the relay can pass target on as it is: a path
// under /function/ that net/http would read and write back unchanged (no
// escape in the function's name, valid escapes elsewhere), and a query
// without control bytes.
func relayable(target []byte) bool {
	rest, ok := bytes.CutPrefix(target, []byte("/function/"))
	if !ok {
		return false
	}
	path, query, _ := bytes.Cut(rest, []byte("?"))
	if name, _, _ := bytes.Cut(path, []byte("/")); bytes.IndexByte(name, '%') >= 0 {
		return false
	}
	for i := 0; i < len(path); i++ {
		switch c := path[i]; {
		case c == '%':
			if i+2 >= len(path) || !isHex(path[i+1]) || !isHex(path[i+2]) {
				return false
			}
			i += 2
		case !pathBytes[c]:
			return false
		}
	}
	for _, c := range query {
		if c < ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// route splits the target into the function's NAME[.NS] and the path and
// query the function sees, as ServeHTTP does from net/http's URL (an
// empty query is dropped, as url.URL drops it).
func (q *rawRequest) route() (name, upstream string) {
	rest, ok := bytes.CutPrefix(q.target, []byte("/function/"))
	if !ok {
		return "", ""
	}
	if n := len(rest); n > 0 && rest[n-1] == '?' && bytes.IndexByte(rest, '?') == n-1 {
		rest = rest[:n-1]
	}
	seg, tail := rest, []byte(nil)
	if i := bytes.IndexAny(rest, "/?"); i >= 0 {
		seg, tail = rest[:i], rest[i:]
	}
	name = string(seg)
	if bytes.IndexByte(seg, '%') >= 0 {
		if dec, err := url.PathUnescape(name); err == nil {
			name = dec
		}
	}
	switch {
	case len(tail) == 0:
		upstream = "/"
	case tail[0] == '?':
		upstream = "/" + string(tail)
	default:
		upstream = string(tail)
	}
	return name, upstream
}

// release drops buffers a large head left, so an idle connection does not
// keep them.
func (q *rawRequest) release() {
	if cap(q.big) > maxKeptBuffer {
		q.big = nil
	}
	if cap(q.lines) > maxKeptBuffer {
		q.lines = nil
	}
}

func (q *rawRequest) method() string        { return q.methodSt }
func (q *rawRequest) consumed() int64       { return q.body.n }
func (q *rawRequest) closing() bool         { return q.close }
func (q *rawRequest) expectsContinue() bool { return q.expect && q.length != 0 }
func (q *rawRequest) drain() bool {
	if q.bodySrc == nil {
		return true
	}
	return drain(&q.body)
}

func (q *rawRequest) write(bw *bufio.Writer, inv *invocation) error {
	bw.Write(q.meth)
	bw.WriteByte(' ')
	bw.WriteString(inv.path)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(inv.backend.Host())
	bw.WriteString("\r\n")
	bw.Write(q.lines)
	if !q.hasXFF {
		writeHeader(bw, "X-Forwarded-For", q.remote)
	}
	if !q.hasXFH && len(q.host) > 0 {
		bw.WriteString("X-Forwarded-Host: ")
		bw.Write(q.host)
		bw.WriteString("\r\n")
	}
	if inv.callID != "" {
		writeHeader(bw, "X-Call-Id", inv.callID)
	}
	writeHeader(bw, "X-Start-Time", inv.start)
	if err := writeBody(bw, q.methodSt, q.length, &q.body); err != nil {
		return err
	}
	return bw.Flush()
}
