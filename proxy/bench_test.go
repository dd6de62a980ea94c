package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// oneBackend resolves every function to one host, without bookkeeping,
// so a benchmark measures the proxy and not its fake.
type oneBackend struct{ host string }

func (b oneBackend) Host() string { return b.host }
func (oneBackend) Release()       {}

func (b oneBackend) Resolve(context.Context, string, string) (Backend, error) { return b, nil }
func (b oneBackend) Pick(string, string) (Backend, error)                     { return b, nil }

// BenchmarkRelayWarm is the warm path: small invocations, one after the
// other on one keep-alive connection, answered by the relay.
//
//	go test -run '^$' -bench RelayWarm -benchmem ./proxy
func BenchmarkRelayWarm(b *testing.B) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok"))
	}))
	defer upstream.Close()
	p := newProxy(oneBackend{strings.TrimPrefix(upstream.URL, "http://")}, 5*time.Second)
	srv := httptest.NewServer(p)
	defer func() { srv.Close(); p.Close() }()

	nc, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	br := bufio.NewReader(nc)
	req := []byte("GET /function/f/ok HTTP/1.1\r\nHost: h\r\n\r\n")
	get := &http.Request{Method: http.MethodGet}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := nc.Write(req); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(br, get)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("answer %d, %v", resp.StatusCode, err)
		}
	}
}
