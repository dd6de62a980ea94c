package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
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
func (p *parsedRequest) expectsContinue() bool {
	return p.r.Header.Get("Expect") == "100-continue" && p.r.ContentLength != 0
}

// rawRequest is a request head the relay read itself: the request line's
// parts, the end-to-end header lines verbatim, and the framing. Its
// buffers are reused from one request to the next.
type rawRequest struct {
	meth     []byte
	target   []byte // as sent: /function/NAME/rest?query
	lines    []byte // header lines to pass on, each ending in CRLF
	host     []byte
	length   int64 // Content-Length, or -1 when chunked, 0 when absent
	chunked  bool
	close    bool
	expect   bool // Expect: 100-continue
	hasXFF   bool
	hasXFH   bool
	hasCall  bool
	remote   string
	body     countingBody
	bodySrc  io.Reader
	methodSt string
}

var errBadRequest = errors.New("malformed request")

// read parses a request head from br.
func (q *rawRequest) read(br *bufio.Reader) error {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	line = trimCRLF(line)
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp1 <= 0 || sp2 <= sp1 {
		return errBadRequest
	}
	proto := line[sp2+1:]
	if !bytes.Equal(proto, []byte("HTTP/1.1")) && !bytes.Equal(proto, []byte("HTTP/1.0")) {
		return errBadRequest
	}
	q.meth = append(q.meth[:0], line[:sp1]...)
	if string(q.meth) != q.methodSt {
		q.methodSt = string(q.meth)
	}
	q.target = append(q.target[:0], line[sp1+1:sp2]...)
	q.close = proto[7] == '0'
	q.lines, q.host = q.lines[:0], q.host[:0]
	q.length, q.chunked, q.expect, q.hasXFF, q.hasXFH, q.hasCall = 0, false, false, false, false, false
	var connTokens []byte
	err = scanHeaders(br, func(line, key, value []byte) error {
		switch {
		case equalFold(key, "Host"):
			q.host = append(q.host[:0], value...)
		case equalFold(key, "Content-Length"):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 {
				return errBadRequest
			}
			q.length = n
		case equalFold(key, "Transfer-Encoding"):
			if !equalFold(value, "chunked") {
				return errBadRequest
			}
			q.chunked = true
		case equalFold(key, "Connection"):
			q.close = q.close || containsToken(value, "close")
			connTokens = append(append(connTokens, value...), ',')
		case equalFold(key, "Expect"):
			q.expect = equalFold(value, "100-continue")
		case hopByHop(key), equalFold(key, "Proxy-Authenticate"), equalFold(key, "Proxy-Authorization"),
			equalFold(key, "X-Start-Time"):
		default:
			q.hasXFF = q.hasXFF || equalFold(key, "X-Forwarded-For")
			q.hasXFH = q.hasXFH || equalFold(key, "X-Forwarded-Host")
			q.hasCall = q.hasCall || equalFold(key, "X-Call-Id") && len(value) > 0
			q.lines = append(append(q.lines, line...), '\r', '\n')
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(connTokens) > 0 {
		q.lines = dropListed(q.lines, connTokens)
	}
	switch {
	case q.chunked:
		q.length = -1
		q.bodySrc = &chunkedBody{cr: httputil.NewChunkedReader(br), br: br}
	case q.length > 0:
		q.bodySrc = io.LimitReader(br, q.length)
	default:
		q.bodySrc = nil
	}
	q.body = countingBody{r: q.bodySrc}
	return nil
}

// route splits the target into the function's NAME[.NS] (decoded) and the
// path and query the function sees.
func (q *rawRequest) route() (name, upstream string) {
	rest, ok := bytes.CutPrefix(q.target, []byte("/function/"))
	if !ok {
		return "", ""
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
