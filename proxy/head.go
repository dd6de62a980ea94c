package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"strconv"
)

// respHead is a function's response head as the relay passes it on: the
// status, the end-to-end header lines verbatim, and the framing.
type respHead struct {
	status   []byte // "200 OK": the status line after the protocol
	code     int
	lines    []byte // header lines to pass on, each ending in CRLF
	length   int64  // Content-Length, or -1
	chunked  bool
	close    bool // the function will close the connection
	bodyless bool // HEAD, 1xx, 204, 304
}

var errBadResponse = errors.New("malformed response from function")

// readHead reads a response head from br into h, reusing h's buffers. It
// skips informational (1xx) answers. Header lines are copied verbatim,
// except hop-by-hop ones and those the function's Connection header names.
func readHead(br *bufio.Reader, method string, h *respHead) error {
	for {
		if err := readOneHead(br, h); err != nil {
			return err
		}
		if h.code >= 200 || h.code == http.StatusSwitchingProtocols {
			break
		}
	}
	h.bodyless = method == http.MethodHead || h.code == http.StatusNoContent || h.code == http.StatusNotModified
	return nil
}

func readOneHead(br *bufio.Reader, h *respHead) error {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	line = trimCRLF(line)
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return errBadResponse
	}
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil || code < 100 {
		return errBadResponse
	}
	h.code = code
	h.status = append(h.status[:0], line[9:]...)
	h.lines = h.lines[:0]
	h.length, h.chunked, h.close = -1, false, false
	var connTokens []byte
	err = scanHeaders(br, func(line, key, value []byte) error {
		switch {
		case equalFold(key, "Content-Length"):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 || h.length >= 0 && h.length != n {
				return errBadResponse
			}
			h.length = n
		case equalFold(key, "Transfer-Encoding"):
			h.chunked = bytes.HasSuffix(bytes.ToLower(value), []byte("chunked"))
		case equalFold(key, "Connection"):
			h.close = h.close || containsToken(value, "close")
			connTokens = append(append(connTokens, value...), ',')
		case hopByHop(key):
		default:
			h.lines = append(append(h.lines, line...), '\r', '\n')
		}
		return nil
	})
	if err != nil {
		return err
	}
	if h.chunked {
		h.length = -1
	}
	if len(connTokens) > 0 {
		h.lines = dropListed(h.lines, connTokens)
	}
	return nil
}

// copyBody copies the body h frames from br to w, calling flush after
// every read so the caller sees it as it comes. Chunked bodies are decoded
// (and their trailers skipped); w re-frames them.
func copyBody(w io.Writer, flush func() error, br *bufio.Reader, h *respHead, buf []byte) error {
	var src io.Reader
	switch {
	case h.bodyless:
		return nil
	case h.chunked:
		src = &chunkedBody{cr: httputil.NewChunkedReader(br), br: br}
	case h.length >= 0:
		src = io.LimitReader(br, h.length)
	default:
		src = br // until the function closes the connection
	}
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
			if err := flush(); err != nil {
				return err
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

// scanHeaders reads header lines up to the blank line that ends a head and
// calls fn with each line (without its line end), name and trimmed value.
func scanHeaders(br *bufio.Reader, fn func(line, key, value []byte) error) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = trimCRLF(line)
		if len(line) == 0 {
			return nil
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || bytes.ContainsAny(line[:colon], " \t") {
			return errMalformedHeader
		}
		if err := fn(line, line[:colon], bytes.TrimSpace(line[colon+1:])); err != nil {
			return err
		}
	}
}

var errMalformedHeader = errors.New("malformed header line")

// hopByHop reports whether a header only concerns one connection (those
// the Connection header lists are handled separately).
func hopByHop(key []byte) bool {
	return equalFold(key, "Connection") || equalFold(key, "Keep-Alive") || equalFold(key, "Proxy-Connection") ||
		equalFold(key, "Te") || equalFold(key, "Trailer") || equalFold(key, "Upgrade") ||
		equalFold(key, "Transfer-Encoding") || equalFold(key, "Content-Length")
}

func trimCRLF(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// equalFold compares ASCII case-insensitively without allocating.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(s) {
		c, d := b[i], s[i]
		if c|0x20 != d|0x20 {
			return false
		}
	}
	return true
}

func containsToken(list []byte, tok string) bool {
	for _, t := range bytes.Split(list, []byte(",")) {
		if equalFold(bytes.TrimSpace(t), tok) {
			return true
		}
	}
	return false
}

// dropListed removes header lines whose names appear in the Connection
// tokens.
func dropListed(lines, tokens []byte) []byte {
	out := lines[:0:0]
	for len(lines) > 0 {
		end := bytes.Index(lines, []byte("\r\n")) + 2
		line := lines[:end]
		lines = lines[end:]
		name := line[:bytes.IndexByte(line, ':')]
		if !containsToken(tokens, string(name)) {
			out = append(out, line...)
		}
	}
	return out
}
