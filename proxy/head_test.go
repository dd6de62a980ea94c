package proxy

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

func TestReadHead(t *testing.T) {
	tests := []struct {
		name, raw, method string
		wantCode          int
		wantLines         string
		wantLength        int64
		chunked, close    bool
		bodyless          bool
		wantErr           bool
	}{
		{name: "plain", raw: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok", wantCode: 200,
			wantLines: "Content-Type: text/plain\r\n", wantLength: 2},
		{name: "hop-by-hop dropped", raw: "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nConnection: keep-alive, X-Secret\r\nX-Secret: s\r\nX-Keep: k\r\nTransfer-Encoding: chunked\r\n\r\n",
			wantCode: 200, wantLines: "X-Keep: k\r\n", wantLength: -1, chunked: true},
		{name: "close", raw: "HTTP/1.0 500 Internal Server Error\r\nConnection: close\r\n\r\n", wantCode: 500, wantLength: -1, close: true},
		{name: "informational skipped", raw: "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", wantCode: 201, wantLength: 0},
		{name: "head", raw: "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", method: "HEAD", wantCode: 200, wantLength: 99, bodyless: true},
		{name: "no content", raw: "HTTP/1.1 204 No Content\r\n\r\n", wantCode: 204, wantLength: -1, bodyless: true},
		{name: "bare LF", raw: "HTTP/1.1 200 OK\nA: b\n\n", wantCode: 200, wantLines: "A: b\r\n", wantLength: -1, close: true},
		{name: "conflicting lengths", raw: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", wantErr: true},
		{name: "garbage", raw: "SSH-2.0-x\r\n\r\n", wantErr: true},
		{name: "no colon", raw: "HTTP/1.1 200 OK\r\nbroken\r\n\r\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "GET"
			}
			var h respHead
			err := readHead(bufio.NewReader(strings.NewReader(tt.raw)), method, &h)
			if (err != nil) != tt.wantErr {
				t.Fatalf("readHead(%q) = %v, want error %v", tt.raw, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if h.code != tt.wantCode || string(h.lines) != tt.wantLines || h.length != tt.wantLength ||
				h.chunked != tt.chunked || h.close != tt.close || h.bodyless != tt.bodyless {
				t.Errorf("readHead(%q) = code %d lines %q length %d chunked %v close %v bodyless %v", tt.raw,
					h.code, h.lines, h.length, h.chunked, h.close, h.bodyless)
			}
		})
	}
}

func TestCopyBody(t *testing.T) {
	tests := []struct {
		name, raw string
		h         respHead
		want      string
		wantErr   bool
	}{
		{"length", "hello, extra", respHead{length: 5}, "hello", false},
		{"short", "hel", respHead{length: 5}, "hel", true},
		{"chunked", "3\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\nNEXT", respHead{length: -1, chunked: true}, "abcde", false},
		{"until close", "all of it", respHead{length: -1}, "all of it", false},
		{"bodyless", "nothing", respHead{length: 7, bodyless: true}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tt.raw))
			var out bytes.Buffer
			flushes := 0
			err := copyBody(&out, func() error { flushes++; return nil }, br, &tt.h, make([]byte, 4))
			if (err != nil) != tt.wantErr || out.String() != tt.want {
				t.Errorf("copyBody(%q) = %q, %v; want %q, error %v", tt.raw, out.String(), err, tt.want, tt.wantErr)
			}
			if tt.name == "chunked" {
				rest, _ := br.ReadString(0)
				if rest != "NEXT" {
					t.Errorf("after a chunked body the reader is at %q, want NEXT (trailers consumed)", rest)
				}
			}
			// Every read but the one that ends the body is flushed.
			if len(tt.want) > 4 && flushes < (len(tt.want)-1)/4 {
				t.Errorf("copyBody flushed %d times for %d bytes in 4-byte reads, want one per read before the last", flushes, len(tt.want))
			}
		})
	}
}

// TestCopyBodyLastReadUnflushed: a body that ends in the read that brings
// it (a small chunked answer, whole in the buffer) is left for the caller
// to flush with the end of the answer, so both leave in one write.
func TestCopyBodyLastReadUnflushed(t *testing.T) {
	br := bufio.NewReader(strings.NewReader("2\r\nok\r\n0\r\n\r\n"))
	var out bytes.Buffer
	flushes := 0
	err := copyBody(&out, func() error { flushes++; return nil }, br, &respHead{length: -1, chunked: true}, make([]byte, 1024))
	if err != nil || out.String() != "ok" || flushes != 0 {
		t.Errorf("copyBody = %q, %v after %d flushes; want \"ok\", no error, no flush", out.String(), err, flushes)
	}
}
