package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The relay parses the requests after the first on a caller's connection,
// and the function's answers, by hand; net/http parses the first request
// on a connection, and the forwarder reads answers with the same code as
// the relay. These tests run one table of raw requests (and one of raw
// answers) through both paths of a real proxy and require the same
// verdict from both: STYLE.md, "A hand-written parser must give the same
// verdict as the library it replaces".

// parityServer returns funcd's front in miniature: an http.Server set up as
// cmd/funcd/up.go sets it up (MaxHeaderBytes 1 MiB), the gateway's prefix
// check in front of p, and p's Handoff served as well. It returns the
// server's address.
func parityServer(t *testing.T, p *Proxy) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/function/") {
			p.ServeHTTP(w, r)
			return
		}
		io.WriteString(w, "system")
	}))
	srv.Config.MaxHeaderBytes = 1 << 20
	srv.Config.ReadHeaderTimeout = 10 * time.Second
	srv.Start()
	go srv.Config.Serve(p.Handoff())
	t.Cleanup(func() { srv.Close(); p.Close() })
	return strings.TrimPrefix(srv.URL, "http://")
}

// fnSaw is what the function received.
type fnSaw struct {
	Method, Target string
	Length         int64
	Chunked        bool
	Header         http.Header
	Body           string
}

// requestParityEnv is a proxy in front of function f, which records every
// request it reads completely.
type requestParityEnv struct {
	t    *testing.T
	addr string
	seen chan fnSaw
}

func newRequestParityEnv(t *testing.T) *requestParityEnv {
	e := &requestParityEnv{t: t, seen: make(chan fnSaw, 16)}
	fn := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return // a body the proxy cut short: not a request that got through
		}
		e.seen <- fnSaw{Method: r.Method, Target: r.RequestURI, Length: r.ContentLength,
			Chunked: len(r.TransferEncoding) > 0, Header: r.Header, Body: string(body)}
		io.WriteString(w, "fn")
	}))
	fn.Config.MaxHeaderBytes = 4 << 20 // the function must not be the one that refuses
	fn.Start()
	t.Cleanup(fn.Close)
	res := &fakeResolver{hosts: map[string]string{"f.openfaas-fn": strings.TrimPrefix(fn.URL, "http://")}}
	e.addr = parityServer(t, newProxy(res, 5*time.Second))
	return e
}

// answer is one response as the caller read it; code 0 when the
// connection ended without one.
type answer struct {
	code   int
	body   string
	header http.Header
}

// exchange writes raw on a new connection, after the prelude if there is
// one (whose answer is read and dropped), and reads n answers, skipping
// informational ones. It returns them and what the function saw.
func exchange(t *testing.T, addr, prelude, raw string, methods []string, seen chan fnSaw) ([]answer, []fnSaw) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(nc)
	if prelude != "" {
		io.WriteString(nc, prelude)
		if a := readAnswer(br, "GET"); a.code != 200 {
			t.Fatalf("prelude %q = %d %q, want 200", prelude, a.code, a.body)
		}
		for len(seen) > 0 {
			<-seen
		}
	}
	go io.WriteString(nc, raw) // a refused request may not be read to its end
	var got []answer
	for _, m := range methods {
		a := readAnswer(br, m)
		got = append(got, a)
		if a.code == 0 {
			break
		}
	}
	var saw []fnSaw
	for len(seen) > 0 {
		saw = append(saw, <-seen)
	}
	return got, saw
}

// readAnswer reads the next final answer from br.
func readAnswer(br *bufio.Reader, method string) answer {
	for {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			return answer{}
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return answer{}
		}
		if resp.StatusCode >= 200 {
			return answer{resp.StatusCode, string(body), resp.Header}
		}
	}
}

// comparable drops from what the function saw the values that differ from
// one connection to the next: the call id and start time the proxy made,
// the caller's port. It fails when one of the headers the proxy sets is
// missing.
func comparable(t *testing.T, s fnSaw) fnSaw {
	t.Helper()
	h := s.Header.Clone()
	for _, k := range []string{"X-Call-Id", "X-Start-Time", "X-Forwarded-For"} {
		if len(h[k]) != 1 || h[k][0] == "" {
			t.Errorf("the function saw %s = %q, want one value set by the proxy", k, h[k])
		}
	}
	if xff := h.Get("X-Forwarded-For"); xff != "" {
		host, _, _ := net.SplitHostPort(xff)
		h.Set("X-Forwarded-For", host)
	}
	h.Del("X-Call-Id")
	h.Del("X-Start-Time")
	s.Header = h
	return s
}

// bigHead returns a GET whose head (request line through the blank line)
// is exactly size bytes.
func bigHead(size int) string {
	const start, end = "GET /function/f/big HTTP/1.1\r\nHost: h\r\nX-Big: ", "\r\n\r\n"
	return start + strings.Repeat("b", size-len(start)-len(end)) + end
}

// maxHead is the largest request head net/http accepts with funcd's
// MaxHeaderBytes: 1 MiB and the 4 KiB of slack it allows for buffering.
const maxHead = 1<<20 + 4096

// requestCase is a raw request and the codes of net/http's answers to it,
// and to the requests pipelined after it.
type requestCase struct {
	name    string
	raw     string
	methods []string // of the requests in raw whose answers are read; GET when nil
	want    []int    // the codes, one per answer
}

// requestCases are the requests TestRequestParity sends and
// FuzzRelayParity starts from.
func requestCases() []requestCase {
	jwt := "Bearer " + strings.Repeat("j", 4800)
	return []requestCase{
		// Accepted, and the function must see the same request either way.
		{name: "get", raw: "GET /function/f/a/b?x=1&y=%20 HTTP/1.1\r\nHost: h:8080\r\nAccept: */*\r\n\r\n", want: []int{200}},
		{name: "post length", raw: "POST /function/f HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", want: []int{200}},
		{name: "chunked with extensions and trailers", raw: "POST /function/f HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1;a=\"b\"\r\n!\r\n0\r\nX-Trailer: t\r\n\r\n", want: []int{200}},
		{name: "header line of 4.8 KB", raw: "GET /function/f HTTP/1.1\r\nHost: h\r\nAuthorization: " + jwt + "\r\n\r\n", want: []int{200}},
		{name: "header lines of 4.8 KB, pipelined", raw: "GET /function/f/1 HTTP/1.1\r\nHost: h\r\nAuthorization: " + jwt + "\r\n\r\nGET /function/f/2 HTTP/1.1\r\nHost: h\r\nCookie: " + jwt + "\r\n\r\n", methods: []string{"GET", "GET"}, want: []int{200, 200}},
		{name: "head of exactly the limit", raw: bigHead(maxHead), want: []int{200}},
		{name: "obs-fold", raw: "GET /function/f HTTP/1.1\r\nHost: h\r\nX-Fold: a\r\n  b\r\n\r\n", want: []int{200}},
		{name: "expect continue", raw: "POST /function/f HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\ndata", want: []int{200}},
		{name: "head", raw: "HEAD /function/f HTTP/1.1\r\nHost: h\r\n\r\n", methods: []string{"HEAD"}, want: []int{200}},
		{name: "keep-alive after a body", raw: "POST /function/f HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /function/f/next HTTP/1.1\r\nHost: h\r\n\r\n", methods: []string{"POST", "GET"}, want: []int{200, 200}},
		{name: "pipelined", raw: "GET /function/f/1 HTTP/1.1\r\nHost: h\r\n\r\nGET /function/f/2 HTTP/1.1\r\nHost: h\r\n\r\nGET /system/x HTTP/1.1\r\nHost: h\r\n\r\n", methods: []string{"GET", "GET", "GET"}, want: []int{200, 200, 200}},
		{name: "blank line after a POST body", raw: "POST /function/f HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc\r\nGET /function/f/next HTTP/1.1\r\nHost: h\r\n\r\n", methods: []string{"POST", "GET"}, want: []int{200, 200}},
		{name: "duplicate equal lengths", raw: "POST /function/f HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", want: []int{200}},
		{name: "chunked and a length", raw: "POST /function/f HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", want: []int{200}},
		{name: "bare LF line ends", raw: "GET /function/f HTTP/1.1\nHost: h\nX-A: 1\n\n", want: []int{200}},
		{name: "obs-text in a value", raw: "GET /function/f HTTP/1.1\r\nHost: h\r\nX-Name: caf\xc3\xa9\r\n\r\n", want: []int{200}},
		{name: "empty host", raw: "GET /function/f HTTP/1.1\r\nHost:\r\n\r\n", want: []int{200}},
		{name: "pragma", raw: "GET /function/f HTTP/1.1\r\nHost: h\r\nPragma: no-cache\r\n\r\n", want: []int{200}},
		{name: "path escaped by net/http", raw: "GET /function/f/a|b%41{c}\"d HTTP/1.1\r\nHost: h\r\n\r\n", want: []int{200}},
		{name: "sub-delims in the path", raw: "GET /function/f/a!$&'()*+,;=:@[]~b?q=|{}\"^ HTTP/1.1\r\nHost: h\r\n\r\n", want: []int{200}},
		{name: "empty query", raw: "GET /function/f/x? HTTP/1.1\r\nHost: h\r\n\r\n", want: []int{200}},
		{name: "caller's Connection names X-Forwarded-For and X-Call-Id", raw: "GET /function/f HTTP/1.1\r\nHost: h\r\nConnection: X-Forwarded-For, x-call-id\r\nX-Forwarded-For: 6.6.6.6\r\nX-Call-Id: mine\r\nX-Keep: k\r\n\r\n", want: []int{200}},
		{name: "caller's Connection names a header", raw: "GET /function/f HTTP/1.1\r\nHost: h\r\nConnection: X-Secret\r\nX-Secret: s\r\nX-Keep: k\r\n\r\n", want: []int{200}},
		{name: "upgrade dropped", raw: "GET /function/f HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", want: []int{200}},
		{name: "HTTP/1.2", raw: "GET /function/f HTTP/1.2\r\nHost: h\r\n\r\n", want: []int{200}},
		{name: "absolute form", raw: "GET http://h/function/f/abs HTTP/1.1\r\nHost: h\r\n\r\n", want: []int{200}},
		{name: "first empty call id", raw: "GET /function/f HTTP/1.1\r\nHost: h\r\nX-Call-Id:\r\nX-Call-Id: second\r\n\r\n", want: []int{200}},

		// Refused, with net/http's code.
		{name: "head over the limit", raw: bigHead(maxHead + 1), want: []int{431}},
		{name: "head far over the limit", raw: bigHead(maxHead + 512<<10), want: []int{431}},
		{name: "conflicting lengths", raw: "POST /function/f HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", want: []int{400}},
		{name: "length with a sign", raw: "POST /function/f HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello", want: []int{400}},
		{name: "length not a number", raw: "POST /function/f HTTP/1.1\r\nHost: h\r\nContent-Length: 5x\r\n\r\nhello", want: []int{400}},
		{name: "empty length", raw: "POST /function/f HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", want: []int{400}},
		{name: "bare CR in a value", raw: "GET /function/f HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n", want: []int{400}},
		{name: "NUL in a value", raw: "GET /function/f HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\n\r\n", want: []int{400}},
		{name: "DEL in a name", raw: "GET /function/f HTTP/1.1\r\nHost: h\r\nX-\x7fA: 1\r\n\r\n", want: []int{400}},
		{name: "CR in a name", raw: "GET /function/f HTTP/1.1\r\nHost: h\r\nX-\rA: 1\r\n\r\n", want: []int{400}},
		{name: "space before the colon", raw: "GET /function/f HTTP/1.1\r\nHost: h\r\nX-A : 1\r\n\r\n", want: []int{400}},
		{name: "space in a name", raw: "GET /function/f HTTP/1.1\r\nHost: h\r\nX A: 1\r\n\r\n", want: []int{400}},
		{name: "leading space on the first header", raw: "GET /function/f HTTP/1.1\r\n Host: h\r\n\r\n", want: []int{400}},
		{name: "no colon", raw: "GET /function/f HTTP/1.1\r\nHost: h\r\nbroken\r\n\r\n", want: []int{400}},
		{name: "empty name", raw: "GET /function/f HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", want: []int{400}},
		{name: "control byte in the method", raw: "G\x01T /function/f HTTP/1.1\r\nHost: h\r\n\r\n", want: []int{400}},
		{name: "separator in the method", raw: "GE(T /function/f HTTP/1.1\r\nHost: h\r\n\r\n", want: []int{400}},
		{name: "space in the target", raw: "GET /function/f/a b HTTP/1.1\r\nHost: h\r\n\r\n", want: []int{400}},
		{name: "CR in the target", raw: "GET /function/f/a\rb HTTP/1.1\r\nHost: h\r\n\r\n", want: []int{400}},
		{name: "NUL in the query", raw: "GET /function/f?a=\x00 HTTP/1.1\r\nHost: h\r\n\r\n", want: []int{400}},
		{name: "bad escape in the path", raw: "GET /function/f/%zz HTTP/1.1\r\nHost: h\r\n\r\n", want: []int{400}},
		{name: "missing host", raw: "GET /function/f HTTP/1.1\r\nX-A: 1\r\n\r\n", want: []int{400}},
		{name: "duplicate host", raw: "GET /function/f HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", want: []int{400}},
		{name: "bad host", raw: "GET /function/f HTTP/1.1\r\nHost: a b\r\n\r\n", want: []int{400}},
		{name: "malformed version", raw: "GET /function/f HTTP/1.1x\r\nHost: h\r\n\r\n", want: []int{400}},
		{name: "HTTP/2.0", raw: "GET /function/f HTTP/2.0\r\nHost: h\r\n\r\n", want: []int{505}},
		{name: "unknown transfer encoding", raw: "POST /function/f HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", want: []int{501}},
		{name: "two transfer encodings", raw: "POST /function/f HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", want: []int{501}},
		{name: "chunked and a bad length", raw: "POST /function/f HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", want: []int{400}},
		{name: "bad trailer key", raw: "POST /function/f HTTP/1.1\r\nHost: h\r\nTrailer: Content-Length\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", want: []int{400}},
		{name: "unknown expectation", raw: "POST /function/f HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx", want: []int{417}},
		{name: "bad chunk size", raw: "POST /function/f HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", want: []int{400}},
	}
}

func TestRequestParity(t *testing.T) {
	tests := requestCases()
	e := newRequestParityEnv(t)
	const prelude = "GET /function/f/prelude HTTP/1.1\r\nHost: h\r\n\r\n"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			methods := tt.methods
			if methods == nil {
				methods = []string{"GET"}
			}
			first, firstSaw := exchange(t, e.addr, "", tt.raw, methods, e.seen)
			relayed, relayedSaw := exchange(t, e.addr, prelude, tt.raw, methods, e.seen)
			for i, want := range tt.want {
				var f, r int
				if i < len(first) {
					f = first[i].code
				}
				if i < len(relayed) {
					r = relayed[i].code
				}
				if f != want || r != want {
					t.Errorf("answer %d: first request on a connection (net/http) %d, relayed %d; want %d", i+1, f, r, want)
				}
			}
			if len(firstSaw) != len(relayedSaw) {
				t.Fatalf("the function saw %d requests from the first, %d from the relayed connection:\n%.300s\n%.300s", len(firstSaw), len(relayedSaw), fmt.Sprintf("%+v", firstSaw), fmt.Sprintf("%+v", relayedSaw))
			}
			for i := range firstSaw {
				f, r := comparable(t, firstSaw[i]), comparable(t, relayedSaw[i])
				if !reflect.DeepEqual(f, r) {
					t.Errorf("the function saw\n%.300s\nfrom the first request on a connection (net/http), and\n%.300s\nfrom the relayed one", fmt.Sprintf("%+v", f), fmt.Sprintf("%+v", r))
				}
			}
		})
	}
}

// responseParityFn is a function that answers request /case/N with the raw
// bytes of case N, then closes the connection when the case says so. It
// reports whether a connection was used again after a 101 answer.
type responseParityFn struct {
	addr       string
	answers    []string
	closeAfter []bool
	afterUp    atomic.Int32 // requests read on a connection after it answered 101
}

func newResponseParityFn(t *testing.T, answers []string, closeAfter []bool) *responseParityFn {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &responseParityFn{addr: ln.Addr().String(), answers: answers, closeAfter: closeAfter}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go f.serve(nc)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return f
}

func (f *responseParityFn) serve(nc net.Conn) {
	defer nc.Close()
	br := bufio.NewReader(nc)
	upgraded := false
	for {
		r, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, r.Body)
		if upgraded {
			f.afterUp.Add(1)
		}
		var i int
		if _, err := fmt.Sscanf(r.URL.Path, "/case/%d", &i); err != nil || i >= len(f.answers) {
			io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			continue
		}
		io.WriteString(nc, f.answers[i])
		upgraded = strings.HasPrefix(f.answers[i], "HTTP/1.1 101")
		if f.closeAfter[i] {
			return
		}
	}
}

// responseCase is a function's raw answer and the verdict the caller must
// get.
type responseCase struct {
	name       string
	raw        string
	method     string // GET when empty
	closeAfter bool   // the function closes the connection after the answer
	want       int
	wantBody   string
	wantHeader map[string][]string // nil values: must be absent
	ours       string              // why the verdict is not just http.ReadResponse's
}

// responseCases are the answers TestResponseParity runs through both
// paths and FuzzReadHead starts from.
func responseCases() []responseCase {
	big := strings.Repeat("h", 20<<10)
	huge := strings.Repeat("h", 10<<20+1)
	return []responseCase{
		{name: "length", raw: "HTTP/1.1 200 OK\r\nX-Fn: 1\r\nContent-Length: 2\r\n\r\nok", want: 200, wantBody: "ok", wantHeader: map[string][]string{"X-Fn": {"1"}}},
		{name: "chunked with trailers", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\nok\r\n1\r\n!\r\n0\r\nX-T: 1\r\n\r\n", want: 200, wantBody: "ok!"},
		{name: "until close", raw: "HTTP/1.1 200 OK\r\n\r\nall of it", closeAfter: true, want: 200, wantBody: "all of it"},
		{name: "no reason phrase", raw: "HTTP/1.1 201\r\nContent-Length: 0\r\n\r\n", want: 201},
		{name: "own reason phrase", raw: "HTTP/1.1 202 Fine Thanks\r\nContent-Length: 0\r\n\r\n", want: 202},
		{name: "informational first", raw: "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", want: 200, wantBody: "ok"},
		{name: "head of 20 KiB", raw: "HTTP/1.1 200 OK\r\nX-Big: " + big + "\r\nContent-Length: 2\r\n\r\nok", want: 200, wantBody: "ok", wantHeader: map[string][]string{"X-Big": {big}}},
		{name: "duplicate equal lengths", raw: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", want: 200, wantBody: "ok"},
		{name: "obs-fold", raw: "HTTP/1.1 200 OK\r\nX-Fold: a\r\n b\r\nContent-Length: 2\r\n\r\nok", want: 200, wantBody: "ok", wantHeader: map[string][]string{"X-Fold": {"a b"}}},
		{name: "HTTP/1.0", raw: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", closeAfter: true, want: 200, wantBody: "ok"},
		{name: "HTTP/1.0 ignores Transfer-Encoding", raw: "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", closeAfter: true, want: 200, wantBody: "2\r\nok\r\n0\r\n\r\n"},
		{name: "head", raw: "HTTP/1.1 200 OK\r\nX-Fn: 1\r\nContent-Length: 99\r\n\r\n", method: "HEAD", want: 200, wantHeader: map[string][]string{"X-Fn": {"1"}}},
		{name: "no content", raw: "HTTP/1.1 204 No Content\r\nX-Fn: 1\r\n\r\n", want: 204, wantHeader: map[string][]string{"X-Fn": {"1"}}},
		{name: "Connection names a header", raw: "HTTP/1.1 200 OK\r\nConnection: X-Secret\r\nX-Secret: s\r\nX-Keep: k\r\nContent-Length: 2\r\n\r\nok", want: 200, wantBody: "ok", wantHeader: map[string][]string{"X-Secret": nil, "X-Keep": {"k"}}},
		{name: "Connection names the proxy's headers", raw: "HTTP/1.1 200 OK\r\nConnection: X-Call-Id, X-Start-Time\r\nContent-Length: 2\r\n\r\nok", want: 200, wantBody: "ok"},
		{name: "function sends the proxy's headers", raw: "HTTP/1.1 200 OK\r\nX-Start-Time: 1\r\nX-Served-By: fn\r\nContent-Length: 2\r\n\r\nok", want: 200, wantBody: "ok", wantHeader: map[string][]string{"X-Served-By": {"funcd/test"}}},
		{name: "invalid name dropped", raw: "HTTP/1.1 200 OK\r\nBad Name: x\r\nX-Fn: 1\r\nContent-Length: 2\r\n\r\nok", want: 200, wantBody: "ok", wantHeader: map[string][]string{"Bad Name": nil, "X-Fn": {"1"}}},
		{name: "pragma", raw: "HTTP/1.1 200 OK\r\nPragma: no-cache\r\nContent-Length: 2\r\n\r\nok", want: 200, wantBody: "ok", wantHeader: map[string][]string{"Cache-Control": {"no-cache"}}},

		{name: "bare CR in a value", raw: "HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 2\r\n\r\nok", want: 502},
		{name: "NUL in a value", raw: "HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok", want: 502},
		{name: "status 2000", raw: "HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok", want: 502},
		{name: "status 042", raw: "HTTP/1.1 042 Odd\r\nContent-Length: 2\r\n\r\nok", want: 502, ours: "net/http's server cannot write a status under 100"},
		{name: "status not a number", raw: "HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok", want: 502},
		{name: "bad version", raw: "HTTP/1.x 200 OK\r\nContent-Length: 2\r\n\r\nok", want: 502},
		{name: "no space", raw: "HTTP/1.1\r\n\r\n", want: 502},
		{name: "conflicting lengths", raw: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nok", want: 502},
		{name: "length with a sign", raw: "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok", want: 502},
		{name: "gzip, chunked", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", want: 502},
		{name: "no colon", raw: "HTTP/1.1 200 OK\r\nbroken\r\nContent-Length: 2\r\n\r\nok", want: 502},
		{name: "switching protocols", raw: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n", want: 502, ours: "the proxy does not pass Upgrade on: an answer that switches protocols was not asked for (httputil.ReverseProxy answers 502 too)"},
		{name: "head over 10 MiB", raw: "HTTP/1.1 200 OK\r\nX-Huge: " + huge + "\r\nContent-Length: 2\r\n\r\nok", want: 502, ours: "http.Transport's limit on response heads (MaxResponseHeaderBytes, 10 MiB by default)"},
	}
}

// TestResponseParity runs the function's answers through the relay (the
// second request on a connection) and the forwarder (a request with
// Connection: close, which is not taken over), and checks the verdict
// against http.ReadResponse's.
func TestResponseParity(t *testing.T) {
	tests := responseCases()
	answers, closeAfter := make([]string, len(tests)), make([]bool, len(tests))
	for i, tt := range tests {
		answers[i], closeAfter[i] = tt.raw, tt.closeAfter
	}
	fn := newResponseParityFn(t, answers, closeAfter)
	res := &fakeResolver{hosts: map[string]string{"f.openfaas-fn": fn.addr}}
	addr := parityServer(t, newProxy(res, 5*time.Second))
	const prelude = "GET /function/f/prelude HTTP/1.1\r\nHost: h\r\n\r\n"
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "GET"
			}
			if tt.ours == "" {
				_, err := http.ReadResponse(bufio.NewReader(strings.NewReader(tt.raw)), &http.Request{Method: method})
				if refused := err != nil; refused != (tt.want == 502) {
					t.Fatalf("the table says %d, but http.ReadResponse gives error %v", tt.want, err)
				}
			}
			req := fmt.Sprintf("%s /function/f/case/%d HTTP/1.1\r\nHost: h\r\n", method, i)
			forwarded, _ := exchange(t, addr, "", req+"Connection: close\r\n\r\n", []string{method}, nil)
			relayed, _ := exchange(t, addr, prelude, req+"\r\n", []string{method}, nil)
			for _, p := range []struct {
				path string
				a    []answer
			}{{"forwarder", forwarded}, {"relay", relayed}} {
				a := p.a[0]
				if a.code != tt.want || tt.want < 300 && a.body != tt.wantBody {
					t.Errorf("%s: %d %q, want %d %q", p.path, a.code, a.body, tt.want, tt.wantBody)
				}
				if a.code >= 300 {
					continue
				}
				for k, want := range tt.wantHeader {
					if got := a.header[k]; !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
						t.Errorf("%s: header %s = %q, want %q", p.path, k, got, want)
					}
				}
				if got := a.header["X-Start-Time"]; len(got) != 1 || got[0] == "1" {
					t.Errorf("%s: X-Start-Time = %q, want the proxy's one value", p.path, got)
				}
				if got := a.header["X-Call-Id"]; len(got) != 1 {
					t.Errorf("%s: X-Call-Id = %q, want the proxy's one value", p.path, got)
				}
			}
		})
	}
	if n := fn.afterUp.Load(); n != 0 {
		t.Errorf("%d requests were sent on a function's connection after it answered 101", n)
	}
}
