package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"strconv"

	"golang.org/x/net/http/httpguts"
)

// Message heads. The relay reads the caller's request heads (request.go)
// and the function's response heads (here) itself, for speed. It only
// parses heads it is sure net/http accepts and reads the same way; any
// other head is left to net/http: a request head is handed back unread to
// the http.Server (Handoff), a response head is read with
// http.ReadResponse. So every head gets net/http's verdict, and the
// ordinary ones get it quickly. FuzzRelayParity and FuzzReadHead check the
// hand-written part against net/http.

// Bytes as net/http allows them, from its own helpers.
var (
	tokenBytes [256]bool // methods and header names (RFC 9110 token)
	valueBytes [256]bool // header values: anything but control bytes other than tab
	hostBytes  [256]bool // the Host header
)

func init() {
	for c := range 256 {
		s := string([]byte{byte(c)})
		tokenBytes[c] = httpguts.ValidHeaderFieldName(s)
		valueBytes[c] = httpguts.ValidHeaderFieldValue(s)
		hostBytes[c] = httpguts.ValidHostHeader(s)
	}
}

// peekHead returns the head at the start of br (its lines through the
// first empty one) without consuming it. It returns nil and no error when
// the head is longer than br's buffer, and the read error when the
// connection fails before the head ends.
func peekHead(br *bufio.Reader) ([]byte, error) {
	from := 0
	for {
		buf, _ := br.Peek(br.Buffered())
		if end := headEnd(buf, &from); end > 0 {
			return buf[:end], nil
		}
		if len(buf) == br.Size() {
			return nil, nil
		}
		if _, err := br.Peek(len(buf) + 1); err != nil {
			return nil, err
		}
	}
}

// headEnd returns the length of the head at the start of buf, through the
// end of its first empty line, or 0 when buf does not hold all of it yet.
// *from is where the first line not looked at yet starts.
func headEnd(buf []byte, from *int) int {
	for {
		i := bytes.IndexByte(buf[*from:], '\n')
		if i < 0 {
			return 0
		}
		start := *from
		*from += i + 1
		if i == 0 || i == 1 && buf[start] == '\r' {
			return *from
		}
	}
}

// cutLine returns the first line of b without its line end (LF or CRLF),
// and the rest.
func cutLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

// headerLine splits a header line into its name and its value (without
// the spaces and tabs around it). ok is false unless net/http takes the
// line as it is: token characters up to the colon, no control bytes but
// tab after it. That also refuses a line starting with white space (an
// obs-fold continuation, which net/http joins to the line before).
func headerLine(line []byte) (name, value []byte, ok bool) {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return nil, nil, false
	}
	name, value = line[:colon], line[colon+1:]
	for _, c := range name {
		if !tokenBytes[c] {
			return nil, nil, false
		}
	}
	for _, c := range value {
		if !valueBytes[c] {
			return nil, nil, false
		}
	}
	return name, trimOWS(value), true
}

// parseLength parses a Content-Length value as net/http does: decimal
// digits only, at most 63 bits.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return int64(n), n <= 1<<63-1
}

// maxResponseHeadBytes bounds a function's response head, with the
// informational answers before it: http.Transport's default
// MaxResponseHeaderBytes.
const maxResponseHeadBytes = 10 << 20

var (
	errBadResponse         = errors.New("malformed response from function")
	errSwitchedProtocols   = errors.New("function switched protocols, which the proxy never asks for")
	errResponseHeadTooLong = fmt.Errorf("function's response head is over %d bytes", maxResponseHeadBytes)
)

// respHead is a function's response head as the relay passes it on: the
// status, the end-to-end header lines verbatim, and the framing.
type respHead struct {
	code     int
	lines    []byte // header lines to pass on, each ending in CRLF
	length   int64  // Content-Length, or -1
	chunked  bool
	close    bool // the function will close the connection
	bodyless bool // HEAD, 1xx, 204, 304
	own      ownHeaders
	body     io.LimitedReader // copyBody's reader of a Content-Length body, reused
}

// ownHeaders is a set of the response headers the proxy sets itself.
type ownHeaders uint8

const (
	ownCallID ownHeaders = 1 << iota
	ownStartTime
	ownServedBy
)

// ownHeader returns the proxy's header that name is, or 0.
func ownHeader(name []byte) ownHeaders {
	switch {
	case equalFold(name, "X-Call-Id"):
		return ownCallID
	case equalFold(name, "X-Start-Time"):
		return ownStartTime
	case equalFold(name, "X-Served-By"):
		return ownServedBy
	}
	return 0
}

// readHead reads a response head from br into h, reusing h's buffers. It
// skips informational (1xx) answers, and refuses a 101 (the proxy never
// passes Upgrade on) and a status under 100 (which net/http's server
// cannot write). Header lines are copied verbatim, except hop-by-hop ones
// and those the function's Connection header names.
func readHead(br *bufio.Reader, method string, h *respHead) error {
	for {
		if err := readOneHead(br, method, h); err != nil {
			return err
		}
		switch {
		case h.code < 100:
			return fmt.Errorf("%w: status %03d", errBadResponse, h.code)
		case h.code == http.StatusSwitchingProtocols:
			return errSwitchedProtocols
		case h.code >= 200:
			return nil
		}
	}
}

// readOneHead reads one response head: an ordinary one in place, any
// other with http.ReadResponse.
func readOneHead(br *bufio.Reader, method string, h *respHead) error {
	head, err := peekHead(br)
	if err != nil {
		return err
	}
	if head != nil && h.parse(head, method) {
		br.Discard(len(head))
		return nil
	}
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return fmt.Errorf("%w: %w", errBadResponse, err)
	}
	h.fromResponse(resp, method)
	return nil
}

// parse reads a head the relay reads itself into h: status line
// "HTTP/1.1 NNN[ reason]", header lines headerLine accepts, at most one
// Connection line (not both close and names), one Content-Length and one
// Transfer-Encoding (chunked) line, no Trailer line with a chunked body.
// It reports false for any other, which it leaves to http.ReadResponse.
func (h *respHead) parse(head []byte, method string) bool {
	line, rest := cutLine(head)
	if len(line) < 12 || string(line[:9]) != "HTTP/1.1 " || len(line) > 12 && line[12] != ' ' {
		return false
	}
	code := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return false
		}
		code = code*10 + int(c-'0')
	}
	h.code, h.lines, h.own = code, h.lines[:0], 0
	h.length, h.chunked, h.close = -1, false, false
	var conn []byte
	lengths, trailer, pragma, noCache, cacheControl := 0, false, false, false, false
	for {
		line, rest = cutLine(rest)
		if len(line) == 0 {
			break
		}
		name, value, ok := headerLine(line)
		if !ok {
			return false
		}
		switch {
		case equalFold(name, "Content-Length"):
			n, ok := parseLength(value)
			lengths++
			if !ok || lengths > 1 {
				return false
			}
			h.length = n
		case equalFold(name, "Transfer-Encoding"):
			if h.chunked || !equalFold(value, "chunked") {
				return false
			}
			h.chunked = true
		case equalFold(name, "Connection"):
			h.close = containsToken(value, "close")
			if conn != nil || h.close && namesHeaders(value) {
				// http.ReadResponse drops a Connection header that says
				// close, and with it the names of the headers to drop.
				return false
			}
			conn = value
		case equalFold(name, "Trailer"):
			trailer = true
		case hopByHop(name):
		default:
			if equalFold(name, "Pragma") && !pragma {
				pragma, noCache = true, string(value) == "no-cache"
			}
			cacheControl = cacheControl || equalFold(name, "Cache-Control")
			h.own |= ownHeader(name)
			h.lines = append(append(h.lines, line...), '\r', '\n')
		}
	}
	if trailer && h.chunked {
		return false
	}
	if noCache && !cacheControl { // as net/http's ReadResponse does
		h.lines = append(h.lines, "Cache-Control: no-cache\r\n"...)
	}
	if namesHeaders(conn) {
		h.lines = dropListed(h.lines, conn)
	}
	if h.chunked {
		h.length = -1 // net/http ignores a valid Content-Length then
	}
	h.frame(method)
	return true
}

// fromResponse takes a head http.ReadResponse read into h, with the header
// lines net/http's server would write: valid names only, without the
// hop-by-hop ones.
func (h *respHead) fromResponse(resp *http.Response, method string) {
	h.code, h.lines, h.own = resp.StatusCode, h.lines[:0], 0
	conn := resp.Header["Connection"]
	for name, values := range resp.Header {
		if !httpguts.ValidHeaderFieldName(name) || hopByHop([]byte(name)) || httpguts.HeaderValuesContainsToken(conn, name) {
			continue
		}
		h.own |= ownHeader([]byte(name))
		for _, v := range values {
			h.lines = append(append(append(append(h.lines, name...), ": "...), v...), "\r\n"...)
		}
	}
	h.chunked = len(resp.TransferEncoding) > 0
	h.length = resp.ContentLength
	h.close = resp.Close
	h.frame(method)
	if h.bodyless {
		// The length the function declared, if any, is passed on.
		h.length = -1
		if n, ok := parseLength([]byte(resp.Header.Get("Content-Length"))); ok {
			h.length = n
		}
	}
}

// frame sets what follows the head: no body for HEAD, 1xx, 204 and 304;
// a body that ends when the function closes the connection when neither
// its length nor chunks frame it.
func (h *respHead) frame(method string) {
	h.bodyless = method == http.MethodHead || h.code < 200 || h.code == http.StatusNoContent || h.code == http.StatusNotModified
	if !h.bodyless && !h.chunked && h.length < 0 {
		h.close = true
	}
}

// responseLimit fails a connection's reads past a budget while it is on:
// the proxy reads a function's response head through it, as http.Transport
// does with MaxResponseHeaderBytes.
type responseLimit struct {
	r    io.Reader
	on   bool
	left int64
}

func (l *responseLimit) Read(p []byte) (int, error) {
	if !l.on {
		return l.r.Read(p)
	}
	if l.left <= 0 {
		return 0, errResponseHeadTooLong
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// copyBody copies the body h frames from br to w, calling flush after
// every read that may be followed by a wait, so the caller sees the body
// as it comes. The read that ends the body is not flushed: the caller
// flushes it with whatever ends the answer (a chunked body's last chunk),
// so a small answer leaves in one write. Chunked bodies are decoded (and
// their trailers skipped); w re-frames them.
func copyBody(w io.Writer, flush func() error, br *bufio.Reader, h *respHead, buf []byte) error {
	var src io.Reader
	switch {
	case h.bodyless:
		return nil
	case h.chunked:
		src = &chunkedBody{cr: httputil.NewChunkedReader(br), br: br}
	case h.length >= 0:
		h.body = io.LimitedReader{R: br, N: h.length}
		src = &h.body
	default:
		src = br // until the function closes the connection
	}
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
			if rerr == nil {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if rerr == io.EOF {
			if h.length > 0 && !h.chunked {
				if lr, ok := src.(*io.LimitedReader); ok && lr.N > 0 {
					return io.ErrUnexpectedEOF
				}
			}
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// writeStatus writes an HTTP/1.1 status line as net/http's server does,
// with the standard reason phrase. code has three digits.
func writeStatus(bw *bufio.Writer, code int) {
	bw.WriteString("HTTP/1.1 ")
	bw.WriteByte(byte('0' + code/100))
	bw.WriteByte(byte('0' + code/10%10))
	bw.WriteByte(byte('0' + code%10))
	bw.WriteByte(' ')
	if text := http.StatusText(code); text != "" {
		bw.WriteString(text)
	} else {
		bw.WriteString("status code " + strconv.Itoa(code))
	}
	bw.WriteString("\r\n")
}

// hopByHop reports whether a header only concerns one connection (those
// the Connection header lists are handled separately).
func hopByHop(key []byte) bool {
	return equalFold(key, "Connection") || equalFold(key, "Keep-Alive") || equalFold(key, "Proxy-Connection") ||
		equalFold(key, "Te") || equalFold(key, "Trailer") || equalFold(key, "Upgrade") ||
		equalFold(key, "Transfer-Encoding") || equalFold(key, "Content-Length")
}

// trimOWS trims the spaces and tabs around b.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold compares ASCII case-insensitively without allocating.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(s) {
		if lowerASCII(b[i]) != lowerASCII(s[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// containsToken reports whether the comma-separated list holds tok, as
// httpguts.HeaderValuesContainsToken does.
func containsToken(list []byte, tok string) bool {
	for len(list) > 0 {
		t := list
		if i := bytes.IndexByte(list, ','); i >= 0 {
			t, list = list[:i], list[i+1:]
		} else {
			list = nil
		}
		if equalFold(trimOWS(t), tok) {
			return true
		}
	}
	return false
}

// namesHeaders reports whether a Connection header's tokens name headers
// to drop: anything but close and keep-alive.
func namesHeaders(tokens []byte) bool {
	for len(tokens) > 0 {
		t := tokens
		if i := bytes.IndexByte(tokens, ','); i >= 0 {
			t, tokens = tokens[:i], tokens[i+1:]
		} else {
			tokens = nil
		}
		if t = trimOWS(t); len(t) > 0 && !equalFold(t, "close") && !equalFold(t, "keep-alive") {
			return true
		}
	}
	return false
}

// dropListed removes, in place, the header lines whose names appear in the
// Connection tokens.
func dropListed(lines, tokens []byte) []byte {
	out := lines[:0]
	for len(lines) > 0 {
		end := bytes.IndexByte(lines, '\n') + 1
		line := lines[:end]
		lines = lines[end:]
		if !containsToken(tokens, string(line[:bytes.IndexByte(line, ':')])) {
			out = append(out, line...)
		}
	}
	return out
}

// dropOwn removes the header lines of the proxy's own headers in own.
func dropOwn(lines []byte, own ownHeaders) []byte {
	out := make([]byte, 0, len(lines))
	for len(lines) > 0 {
		end := bytes.IndexByte(lines, '\n') + 1
		line := lines[:end]
		lines = lines[end:]
		if ownHeader(line[:bytes.IndexByte(line, ':')])&own == 0 {
			out = append(out, line...)
		}
	}
	return out
}
