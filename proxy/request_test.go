package proxy

import (
	"bufio"
	"io"
	"strings"
	"testing"
)

func TestRawRequestRead(t *testing.T) {
	raw := "POST /function/fn.dev/a/b%2Fc?x=1&y=%20 HTTP/1.1\r\n" +
		"Host: gw:8080\r\nConnection: keep-alive, X-Hop\r\nX-Hop: h\r\nKeep-Alive: 5\r\n" +
		"X-Start-Time: 1\r\nX-Forwarded-For: 1.2.3.4\r\nAuthorization: Bearer t\r\nContent-Length: 3\r\n\r\nabcNEXT"
	br := bufio.NewReader(strings.NewReader(raw))
	var q rawRequest
	if _, err := q.read(br, 1<<20); err != nil {
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

func TestRawRequestHandsBack(t *testing.T) {
	for _, raw := range []string{
		"GET /function/f\r\nHost: h\r\n\r\n",
		"GET /function/f HTTP/2.0\r\nHost: h\r\n\r\n",
		"GET /function/f HTTP/1.0\r\nHost: h\r\n\r\n",
		"GET /function/f HTTP/1.1\r\nHost: h\r\nBad Header: x\r\n\r\n",
		"GET /function/f HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
		"GET /function/f HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
		"GET /function/f HTTP/1.1\r\n\r\n",
		"CONNECT /function/f HTTP/1.1\r\nHost: h\r\n\r\n",
	} {
		var q rawRequest
		br := bufio.NewReader(strings.NewReader(raw))
		if replay, err := q.read(br, 1<<20); err != errHandBack || replay != nil || br.Buffered() != len(raw) {
			t.Errorf("read(%q) = %q, %v with %d bytes left in the buffer; want errHandBack and the request unread", raw, replay, err, br.Buffered())
		}
	}
}

func TestRawRequestLongHead(t *testing.T) {
	long := "GET /function/f HTTP/1.1\r\nHost: h\r\nCookie: " + strings.Repeat("c", 6000) + "\r\n\r\n"
	tests := []struct {
		name, raw  string
		limit      int
		wantErr    error
		wantReplay bool
	}{
		{"taken", long + "NEXT", len(long), nil, false},
		{"one byte over", long + "NEXT", len(long) - 1, errHeadTooLarge, true},
		{"handed back", strings.Replace(long, "Host: h", "Host: <", 1) + "NEXT", len(long), errHandBack, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var q rawRequest
			br := bufio.NewReaderSize(strings.NewReader(tt.raw), 4096)
			replay, err := q.read(br, tt.limit)
			if err != tt.wantErr || (len(replay) > 0) != tt.wantReplay {
				t.Fatalf("read = %d bytes to replay, %v; want %v, replay %v", len(replay), err, tt.wantErr, tt.wantReplay)
			}
			rest, _ := io.ReadAll(br)
			if got := string(replay) + string(rest); err != nil && got != tt.raw {
				t.Errorf("replay and what is left = %.40q..., want the request as sent", got)
			}
			if err == nil && string(rest) != "NEXT" {
				t.Errorf("after the head the reader is at %.40q, want NEXT", rest)
			}
		})
	}
}
