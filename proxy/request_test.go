package proxy

import (
	"bufio"
	"strings"
	"testing"
)

func TestRawRequestRead(t *testing.T) {
	raw := "POST /function/fn.dev/a/b%2Fc?x=1&y=%20 HTTP/1.1\r\n" +
		"Host: gw:8080\r\nConnection: keep-alive, X-Hop\r\nX-Hop: h\r\nKeep-Alive: 5\r\n" +
		"X-Start-Time: 1\r\nX-Forwarded-For: 1.2.3.4\r\nAuthorization: Bearer t\r\nContent-Length: 3\r\n\r\nabcNEXT"
	br := bufio.NewReader(strings.NewReader(raw))
	var q rawRequest
	if err := q.read(br); err != nil {
		t.Fatalf("read = %v", err)
	}
	if q.method() != "POST" || string(q.host) != "gw:8080" || q.length != 3 || q.close || !q.hasXFF || q.hasXFH {
		t.Errorf("read = method %q host %q length %d close %v xff %v xfh %v", q.method(), q.host, q.length, q.close, q.hasXFF, q.hasXFH)
	}
	if got, want := string(q.lines), "X-Forwarded-For: 1.2.3.4\r\nAuthorization: Bearer t\r\n"; got != want {
		t.Errorf("lines = %q, want %q", got, want)
	}
	name, upstream := q.route()
	if name != "fn.dev" || upstream != "/a/b%2Fc?x=1&y=%20" {
		t.Errorf("route() = %q, %q", name, upstream)
	}
	if !q.drain() {
		t.Fatal("drain = false")
	}
	if rest, _ := br.ReadString(0); rest != "NEXT" {
		t.Errorf("after the body the reader is at %q, want NEXT", rest)
	}
}

func TestRawRequestRoute(t *testing.T) {
	tests := map[string][2]string{
		"/function/f":           {"f", "/"},
		"/function/f/":          {"f", "/"},
		"/function/f?q=1":       {"f", "/?q=1"},
		"/function/%66n/x":      {"fn", "/x"},
		"/function/a.b.c/x/y?z": {"a.b.c", "/x/y?z"},
	}
	for target, want := range tests {
		q := rawRequest{target: []byte(target)}
		if name, up := q.route(); name != want[0] || up != want[1] {
			t.Errorf("route(%q) = %q, %q; want %q, %q", target, name, up, want[0], want[1])
		}
	}
}

func TestRawRequestRejects(t *testing.T) {
	for _, raw := range []string{
		"GET /function/f\r\n\r\n",
		"GET /function/f HTTP/2.0\r\n\r\n",
		"GET /function/f HTTP/1.1\r\nBad Header: x\r\n\r\n",
		"GET /function/f HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
		"GET /function/f HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
	} {
		var q rawRequest
		if err := q.read(bufio.NewReader(strings.NewReader(raw))); err == nil {
			t.Errorf("read(%q) = nil, want an error", raw)
		}
	}
	var q rawRequest
	if err := q.read(bufio.NewReader(strings.NewReader("GET /function/f HTTP/1.0\r\n\r\n"))); err != nil || !q.closing() {
		t.Errorf("HTTP/1.0 request: err %v, closing %v; want it to close", err, q.closing())
	}
}
