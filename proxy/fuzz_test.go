package proxy

import (
	"bufio"
	"bytes"
	"io"
	"log"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http/httpguts"
)

// FuzzRelayParity feeds the same bytes to net/http's server, as the first
// request on a connection, and to the relay's reader, as a request after
// it. Whatever the relay takes itself, net/http must take too, and read
// the same way: the same request reaches the function. Whatever the relay
// hands back must be left for net/http to read as it came. What net/http
// refuses for its size, the relay must refuse too.
func FuzzRelayParity(f *testing.F) {
	for _, tt := range requestCases() {
		if len(tt.raw) < 64<<10 {
			f.Add(tt.raw)
		}
	}
	ref := newReferenceServer(f)
	f.Fuzz(func(t *testing.T, raw string) {
		const limit = 1<<20 + 4096 // maxRequestHead of funcd's http.Server
		br := bufio.NewReaderSize(strings.NewReader(raw), 4096)
		if next, ok := nextIsInvocation(br); !ok || !next {
			return // handed back unread
		}
		var q rawRequest
		replay, err := q.read(br, limit)
		switch err {
		case nil:
		case errHeadTooLarge:
			if code := ref.serve(t, raw).code; code != http.StatusRequestHeaderFieldsTooLarge {
				t.Fatalf("the relay refuses %.200q as too large, net/http answers %d", raw, code)
			}
			return
		default:
			rest, _ := io.ReadAll(br)
			if got := string(replay) + string(rest); got != raw {
				t.Fatalf("the relay handed %.200q back as %.200q", raw, got)
			}
			return
		}
		got := ref.serve(t, raw)
		if got.req == nil {
			t.Fatalf("the relay takes %.200q, net/http answers %d", raw, got.code)
		}
		r := got.req
		name, upstream := q.route()
		if want := functionName(r.URL.Path); name != want {
			t.Errorf("relay's function %q, net/http's %q for %.200q", name, want, raw)
		}
		if want := upstreamPath(r); upstream != want {
			t.Errorf("relay's upstream path %q, net/http's %q for %.200q", upstream, want, raw)
		}
		if q.method() != r.Method || string(q.host) != r.Host || q.closing() != r.Close ||
			q.chunked != (len(r.TransferEncoding) > 0) || !q.chunked && q.length != r.ContentLength ||
			q.expectsContinue() != newParsedRequest(r).expectsContinue() {
			t.Errorf("relay reads %.200q as %s host %q close %v chunked %v length %d continue %v; net/http as %s host %q close %v encoding %q length %d continue %v",
				raw, q.method(), q.host, q.closing(), q.chunked, q.length, q.expectsContinue(),
				r.Method, r.Host, r.Close, r.TransferEncoding, r.ContentLength, newParsedRequest(r).expectsContinue())
		}

		// What the function receives: the relay's request and the
		// forwarder's, written for the same invocation.
		inv := &invocation{path: upstream, backend: &fakeBackend{host: "fn:8080"}, start: "1"}
		if !q.hasCall {
			inv.callID = "made-by-the-relay"
		}
		q.remote = r.RemoteAddr
		var relayed bytes.Buffer
		relayErr := q.write(bufio.NewWriter(&relayed), inv)
		inv.callID = ""
		if !hasCallID(r) {
			inv.callID = "made-by-the-relay"
		}
		var forwarded bytes.Buffer
		fwdErr := writeRequest(bufio.NewWriter(&forwarded), r, inv, &countingBody{r: strings.NewReader(got.body)})
		if (relayErr != nil) != (got.bodyErr != nil) {
			t.Fatalf("reading the body of %.200q: relay %v, net/http %v", raw, relayErr, got.bodyErr)
		}
		if relayErr != nil {
			return
		}
		if fwdErr != nil {
			t.Fatalf("forwarding %.200q: %v", raw, fwdErr)
		}
		a, b := readBack(t, relayed.String()), readBack(t, forwarded.String())
		if !reflect.DeepEqual(a, b) {
			t.Errorf("for %.200q the function receives\n%+v\nfrom the relay, and\n%+v\nfrom the forwarder", raw, a, b)
		}
	})
}

// received is a request as a function reads it.
type received struct {
	Method, Target string
	Header         http.Header
	Body           string
}

func readBack(t *testing.T, raw string) received {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatalf("the function cannot read %.300q: %v", raw, err)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatalf("the function cannot read the body of %.300q: %v", raw, err)
	}
	return received{r.Method, r.RequestURI, r.Header, string(body)}
}

// referenceServer is a plain http.Server, set up as funcd's, whose handler
// records the request and its body: net/http's verdict on a connection's
// first request.
type referenceServer struct {
	ln *handoffListener

	mu  sync.Mutex
	got *refResult
}

// refResult is net/http's verdict: its answer's code, and the request the
// handler got (nil when it refused the request itself).
type refResult struct {
	seen    bool
	code    int
	req     *http.Request
	body    string
	bodyErr error
}

func newReferenceServer(f *testing.F) *referenceServer {
	s := &referenceServer{ln: newHandoffListener(&net.TCPAddr{})}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			s.mu.Lock()
			if !s.got.seen { // the first request on the connection
				s.got.seen, s.got.req, s.got.body, s.got.bodyErr = true, r, string(body), err
			}
			s.mu.Unlock()
		}),
		MaxHeaderBytes:    1 << 20,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	done := make(chan struct{})
	go func() { srv.Serve(s.ln); close(done) }()
	f.Cleanup(func() { s.ln.Close(); srv.Close(); <-done })
	return s
}

// serve runs raw through the server as a connection's only bytes and
// returns its verdict on the first request.
func (s *referenceServer) serve(t *testing.T, raw string) refResult {
	t.Helper()
	c := &memConn{in: strings.NewReader(raw), done: make(chan struct{})}
	s.mu.Lock()
	s.got = &refResult{}
	s.mu.Unlock()
	if !s.ln.give(c) {
		t.Fatal("reference server gone")
	}
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("net/http did not finish with %.200q", raw)
	}
	s.mu.Lock()
	got := *s.got
	s.mu.Unlock()
	got.code = readAnswer(bufio.NewReader(bytes.NewReader(c.out.Bytes())), http.MethodGet).code
	if got.code != http.StatusOK {
		got.req = nil
	}
	return got
}

// memConn is a connection whose peer sent in and then closed its side.
type memConn struct {
	in   io.Reader
	out  bytes.Buffer
	once sync.Once
	done chan struct{}
}

func (c *memConn) Read(p []byte) (int, error)  { return c.in.Read(p) }
func (c *memConn) Write(p []byte) (int, error) { return c.out.Write(p) }
func (c *memConn) Close() error {
	c.once.Do(func() { close(c.done) })
	return nil
}
func (c *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1} }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzReadHead feeds the same bytes, as a function's answer, to readHead
// (both paths read answers with it) and to http.ReadResponse, and requires
// the same verdict and the same reading: status, framing, and the headers
// passed on (net/http's server writes only valid names; hop-by-hop ones
// and those Connection names are dropped). Besides http.ReadResponse,
// readHead refuses a status under 100 and a 101.
func FuzzReadHead(f *testing.F) {
	for _, tt := range responseCases() {
		if len(tt.raw) < 64<<10 {
			f.Add(tt.raw, tt.method == http.MethodHead)
		}
	}
	f.Fuzz(func(t *testing.T, raw string, head bool) {
		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		var h respHead
		br := bufio.NewReaderSize(strings.NewReader(raw), 16<<10)
		err := readHead(br, method, &h)

		ref := bufio.NewReaderSize(strings.NewReader(raw), 16<<10)
		var resp *http.Response
		var refErr error
		for {
			resp, refErr = http.ReadResponse(ref, &http.Request{Method: method})
			if refErr != nil || resp.StatusCode < 100 || resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
				break
			}
		}
		if refErr == nil && (resp.StatusCode < 100 || resp.StatusCode == http.StatusSwitchingProtocols) {
			refErr = errBadResponse
		}
		if (err != nil) != (refErr != nil) {
			t.Fatalf("readHead(%.200q) = %v, http.ReadResponse: %v", raw, err, refErr)
		}
		if err != nil {
			return
		}
		bodyless := method == http.MethodHead || resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified
		length := resp.ContentLength
		if bodyless {
			length = -1
			if n, ok := parseLength([]byte(resp.Header.Get("Content-Length"))); ok {
				length = n
			}
		}
		if h.code != resp.StatusCode || h.bodyless != bodyless || h.chunked != (len(resp.TransferEncoding) > 0) ||
			h.length != length || h.close != resp.Close {
			t.Errorf("readHead(%.200q) = %d bodyless %v chunked %v length %d close %v; http.ReadResponse: %d bodyless %v encoding %q length %d close %v",
				raw, h.code, h.bodyless, h.chunked, h.length, h.close, resp.StatusCode, bodyless, resp.TransferEncoding, length, resp.Close)
		}
		want := http.Header{}
		for k, vv := range resp.Header {
			if httpguts.ValidHeaderFieldName(k) && !hopByHop([]byte(k)) && !listed(k, resp.Header["Connection"]) {
				for _, v := range vv {
					// net/http's server trims values as it writes them
					// (an obs-fold of spaces leaves one at the end).
					want.Add(k, strings.Trim(v, " \t"))
				}
			}
		}
		got := http.Header{}
		for lines := h.lines; len(lines) > 0; {
			var line []byte
			line, lines = cutLine(lines)
			name, value, _ := bytes.Cut(line, []byte(":"))
			got.Add(string(name), string(trimOWS(value)))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("readHead(%.200q) passes on %q, net/http %q", raw, got, want)
		}
		// What follows the head is where http.ReadResponse left it.
		rest, _ := io.ReadAll(br)
		refRest, _ := io.ReadAll(ref)
		if !bytes.Equal(rest, refRest) {
			t.Errorf("after the head of %.200q readHead is at %.100q, http.ReadResponse at %.100q", raw, rest, refRest)
		}
	})
}
