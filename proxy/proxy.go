// Package proxy carries synchronous invocations, /function/NAME[.NS]/PATH,
// to a ready replica and streams the answer back. It finds the replica
// through a Resolver (an in-memory table: no containerd call on this path),
// forwards over one pooled keep-alive transport and adds the OpenFaaS
// gateway headers (X-Call-Id, X-Start-Time, X-Forwarded-*).
//
// It must not import the provider or the gateway; it declares the little it
// needs from them.
package proxy

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync"
	"time"

	"github.com/funcd/funcd/internal/api"
)

// Backend is the replica chosen for one request.
type Backend interface {
	Host() string // "ip:port"
	Release()     // the request is done
}

// Resolver finds a ready replica, waiting for one until ctx ends. It
// returns an error matching ErrNotFound for unknown functions.
type Resolver interface {
	Resolve(ctx context.Context, name, namespace string) (Backend, error)
}

// ErrNotFound is what a Resolver wraps for a function that does not exist.
var ErrNotFound = errors.New("function not found")

// Config tunes the proxy.
type Config struct {
	// Timeout bounds one invocation, including the wait for a ready
	// replica.
	Timeout time.Duration
	// ServedBy is the value of the X-Served-By response header.
	ServedBy string
}

// Proxy is an http.Handler for /function/{name} and /function/{name}/{rest...}.
type Proxy struct {
	resolver Resolver
	cfg      Config
	log      *slog.Logger
	rp       *httputil.ReverseProxy
}

type ctxKey struct{}

// target is what ServeHTTP hands to Rewrite through the request context.
type target struct {
	host, path, function string
	name, ns             string
	backend              Backend // may be swapped by a retry
}

// New returns a proxy that resolves functions with r.
func New(r Resolver, cfg Config, log *slog.Logger) *Proxy {
	p := &Proxy{resolver: r, cfg: cfg, log: log}
	p.rp = &httputil.ReverseProxy{
		Rewrite:       rewrite,
		Transport:     &retryTransport{base: NewTransport(), resolver: r},
		FlushInterval: -1,
		BufferPool:    bufferPool{},
		ErrorHandler:  p.upstreamError,
	}
	return p
}

// NewTransport returns the transport tuned for many short requests to a few
// hosts: a keep-alive pool sized for high concurrency, no compression, no
// HTTP/2 (functions speak HTTP/1.1).
func NewTransport() *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ExpectContinueTimeout: time.Second,
	}
}

// ServeHTTP forwards one invocation.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	full := r.PathValue("name")
	if !validRouteName(full) {
		http.NotFound(w, r)
		return
	}
	name, ns := api.SplitName(full)
	ctx, cancel := context.WithTimeout(r.Context(), p.cfg.Timeout)
	defer cancel()

	b, err := p.resolver.Resolve(ctx, name, ns)
	if err != nil {
		p.resolveError(w, r, name, ns, err)
		return
	}

	h := w.Header()
	if r.Header.Get("X-Call-Id") == "" {
		id := newCallID()
		r.Header.Set("X-Call-Id", id)
		h.Set("X-Call-Id", id)
	}
	start := strconv.FormatInt(time.Now().UnixNano(), 10)
	r.Header.Set("X-Start-Time", start)
	h.Set("X-Start-Time", start)
	if p.cfg.ServedBy != "" {
		h.Set("X-Served-By", p.cfg.ServedBy)
	}
	t := &target{host: b.Host(), path: "/" + r.PathValue("rest"), function: name + "." + ns, name: name, ns: ns, backend: b}
	defer func() {
		if t.backend != nil {
			t.backend.Release()
		}
	}()
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(ctx, ctxKey{}, t)))
}

func rewrite(pr *httputil.ProxyRequest) {
	t := pr.In.Context().Value(ctxKey{}).(*target)
	u := pr.Out.URL
	u.Scheme = "http"
	u.Host = t.host
	u.Path = t.path
	u.RawPath = ""
	// ReverseProxy re-encodes queries it cannot parse (dropping pairs with
	// ';'); OpenFaaS passes the query through untouched.
	u.RawQuery = pr.In.URL.RawQuery
	pr.Out.Host = ""
	// ReverseProxy drops Forwarded and X-Forwarded-* before Rewrite;
	// OpenFaaS keeps the caller's values and only fills them in when absent.
	in, out := pr.In.Header, pr.Out.Header
	for _, h := range forwardedHeaders {
		if v, ok := in[h]; ok {
			out[h] = v
		}
	}
	if _, ok := out["X-Forwarded-For"]; !ok {
		out.Set("X-Forwarded-For", pr.In.RemoteAddr)
	}
	if _, ok := out["X-Forwarded-Host"]; !ok {
		out.Set("X-Forwarded-Host", pr.In.Host)
	}
}

// forwardedHeaders are the caller's headers ReverseProxy strips and
// OpenFaaS passes on.
var forwardedHeaders = [...]string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded"}

func (p *Proxy) resolveError(w http.ResponseWriter, r *http.Request, name, ns string, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		http.Error(w, fmt.Sprintf("error finding function %s.%s: function not found", name, ns), http.StatusNotFound)
	case errors.Is(err, context.DeadlineExceeded):
		internal(w)
		http.Error(w, fmt.Sprintf("No endpoints available for: %s.%s: no replica became ready within %s", name, ns, p.cfg.Timeout), http.StatusGatewayTimeout)
	case r.Context().Err() != nil:
		// The client went away while we waited; nobody reads an answer.
	default:
		p.log.Error("resolve function", "function", name+"."+ns, "err", err)
		internal(w)
		http.Error(w, "No endpoints available for: "+name+"."+ns, http.StatusServiceUnavailable)
	}
}

func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	t := r.Context().Value(ctxKey{}).(*target)
	switch {
	case r.Context().Err() != nil && errors.Is(r.Context().Err(), context.DeadlineExceeded):
		internal(w)
		http.Error(w, fmt.Sprintf("function %s did not answer within %s", t.function, p.cfg.Timeout), http.StatusGatewayTimeout)
	case r.Context().Err() != nil:
		// Client gone.
	default:
		p.log.Warn("invoke", "function", t.function, "replica", t.host, "err", err)
		internal(w)
		http.Error(w, "Can't reach service for: "+t.function+".", http.StatusBadGateway)
	}
}

func internal(w http.ResponseWriter) { w.Header().Set("X-OpenFaaS-Internal", "proxy") }

// validRouteName reports whether s uses only the characters OpenFaaS
// routes accept: -a-zA-Z_0-9.
func validRouteName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// newCallID returns a random (version 4) UUID.
func newCallID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	var s [36]byte
	j := 0
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[j] = '-'
			j++
		}
		s[j], s[j+1] = hex[c>>4], hex[c&0x0f]
		j += 2
	}
	return string(s[:])
}

// bufferPool recycles the 32 KiB copy buffers ReverseProxy uses.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32*1024); return &b }}

func (bufferPool) Get() []byte  { return *buffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }
