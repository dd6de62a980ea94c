// Package proxy carries synchronous invocations, /function/NAME[.NS]/PATH,
// to a ready replica and streams the answer back. It finds the replica
// through a Resolver (an in-memory table: no containerd call on this path)
// and adds the OpenFaaS gateway headers (X-Call-Id, X-Start-Time,
// X-Forwarded-*).
//
// Forwarding is done by a small HTTP/1.1 client of its own (forward.go)
// rather than httputil.ReverseProxy over http.Transport: on a 2-core box the
// gateway hop is the throughput limit, and Transport's per-connection
// reader and writer goroutines cost more CPU per request than the function
// itself. Here one goroutine writes the request and reads the answer on a
// pooled keep-alive connection.
//
// It must not import the provider or the gateway; it declares the little it
// needs from them.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/funcd/funcd/internal/api"
)

// Backend is the replica chosen for one request.
type Backend interface {
	Host() string // "ip:port"
	Release()     // the request is done
}

// Resolver finds ready replicas. Both methods return an error matching
// ErrNotFound for unknown functions.
type Resolver interface {
	// Pick returns a ready replica without waiting, or nil when none is
	// ready. It is the hot path.
	Pick(name, namespace string) (Backend, error)
	// Resolve waits until a replica is ready or ctx ends.
	Resolve(ctx context.Context, name, namespace string) (Backend, error)
}

// ErrNotFound is what a Resolver wraps for a function that does not exist.
var ErrNotFound = errors.New("function not found")

// Config tunes the proxy.
type Config struct {
	// Timeout bounds one invocation, including the wait for a ready
	// replica, unless the request's context has a deadline of its own.
	Timeout time.Duration
	// ServedBy is the value of the X-Served-By response header.
	ServedBy string
	// Metrics, when set, records every invocation.
	Metrics Recorder
}

// Proxy is an http.Handler for /function/NAME[.NS][/PATH...].
type Proxy struct {
	resolver Resolver
	cfg      Config
	log      *slog.Logger
	pool     *pool
	relays   relays
}

// New returns a proxy that resolves functions with r.
func New(r Resolver, cfg Config, log *slog.Logger) *Proxy {
	p := &Proxy{resolver: r, cfg: cfg, log: log, pool: newPool(maxIdlePerHost)}
	p.relays.handoff = newHandoffListener(&net.TCPAddr{})
	return p
}

// Close ends the relays (idle ones at once, busy ones after their current
// answer), stops handing connections back and closes idle upstream
// connections. Call it after the http.Server has shut down.
func (p *Proxy) Close() {
	p.relays.close()
	p.relays.handoff.Close()
	p.pool.closeIdle()
}

// ServeHTTP forwards one invocation.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	full := functionName(r.URL.Path)
	if !validRouteName(full) {
		http.NotFound(w, r)
		return
	}
	name, ns := api.SplitName(full)
	began := time.Now()
	deadline := began.Add(p.cfg.Timeout)
	if d, ok := r.Context().Deadline(); ok {
		// Only callers inside funcd (the queue) set one: requests from
		// the network carry none. It replaces --timeout, longer or not.
		deadline = d
	}
	b, err := p.resolver.Pick(name, ns)
	if err == nil && b == nil {
		// No replica is ready: wait for one, within the same budget.
		ctx, cancel := context.WithDeadline(r.Context(), deadline)
		b, err = p.resolver.Resolve(ctx, name, ns)
		cancel()
	}
	if err != nil {
		f := p.resolveFailure(r.Context(), name, ns, err)
		p.recordFailure(name, ns, f, began)
		f.write(w)
		return
	}
	inv := &invocation{
		name:     name,
		ns:       ns,
		path:     upstreamPath(r),
		backend:  b,
		deadline: deadline,
		began:    began,
		start:    strconv.FormatInt(time.Now().UnixNano(), 10),
	}
	defer func() {
		if inv.backend != nil {
			inv.backend.Release()
		}
	}()
	h := w.Header()
	if !hasCallID(r) {
		inv.callID = newCallID()
		h.Set("X-Call-Id", inv.callID)
	}
	h.Set("X-Start-Time", inv.start)
	if p.cfg.ServedBy != "" {
		h.Set("X-Served-By", p.cfg.ServedBy)
	}
	if p.hijack(w, r, inv) {
		inv.backend = nil // the relay owns it now
		return
	}
	p.forward(w, r, inv)
}

// invocation is one request on its way to a replica.
type invocation struct {
	name, ns string
	path     string    // escaped path and query for the request line
	backend  Backend   // may be swapped when a replica refuses
	fail     *failure  // set when the relay could not resolve the function
	callID   string    // generated here, or "" when the caller sent one
	start    string    // X-Start-Time
	deadline time.Time // the whole invocation's
	began    time.Time // when the request arrived, for metrics
}

func (inv *invocation) function() string { return inv.name + "." + inv.ns }

// hasCallID reports whether the caller set the call id: the first X-Call-Id
// header is not empty, and not named in Connection.
func hasCallID(r *http.Request) bool {
	return r.Header.Get("X-Call-Id") != "" && !listed("X-Call-Id", r.Header["Connection"])
}

// own returns the response headers the proxy sets for inv, whose values
// replace any the function sends.
func (p *Proxy) own(inv *invocation) ownHeaders {
	own := ownStartTime
	if inv.callID != "" {
		own |= ownCallID
	}
	if p.cfg.ServedBy != "" {
		own |= ownServedBy
	}
	return own
}

// functionName returns NAME[.NS] from /function/NAME[.NS][/...], or "".
func functionName(path string) string {
	rest, ok := strings.CutPrefix(path, "/function/")
	if !ok {
		return ""
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// upstreamPath is the request's path below /function/NAME, as the caller
// encoded it, with the raw query: "/function/f/a%2Fb?x=1" → "/a%2Fb?x=1".
func upstreamPath(r *http.Request) string {
	rest := ""
	if seg, ok := strings.CutPrefix(r.URL.EscapedPath(), "/function/"); ok {
		if i := strings.IndexByte(seg, '/'); i >= 0 {
			rest = seg[i:]
		}
	}
	if rest == "" {
		rest = "/"
	}
	if r.URL.RawQuery != "" {
		rest += "?" + r.URL.RawQuery
	}
	return rest
}

// failure is a platform-generated answer: status, text, and whether it
// carries X-OpenFaaS-Internal. A zero code means nobody is listening.
type failure struct {
	code     int
	msg      string
	internal bool
}

// resolveFailure classifies a failed Pick or Resolve.
func (p *Proxy) resolveFailure(ctx context.Context, name, ns string, err error) failure {
	switch {
	case errors.Is(err, ErrNotFound):
		return failure{http.StatusNotFound, fmt.Sprintf("error finding function %s.%s: function not found", name, ns), false}
	case errors.Is(err, context.DeadlineExceeded):
		return failure{http.StatusGatewayTimeout, fmt.Sprintf("No endpoints available for: %s.%s: no replica became ready within %s", name, ns, p.cfg.Timeout), true}
	case ctx.Err() != nil:
		return failure{} // the client went away while we waited
	default:
		p.log.Error("resolve function", "function", name+"."+ns, "err", err)
		return failure{http.StatusServiceUnavailable, "No endpoints available for: " + name + "." + ns, true}
	}
}

// upstreamFailure classifies a failure before any of the function's
// answer was written.
func (p *Proxy) upstreamFailure(ctx context.Context, inv *invocation, err error) failure {
	var be bodyError
	switch {
	case ctx.Err() != nil:
		return failure{}
	case errors.As(err, &be) && !errors.Is(err, os.ErrDeadlineExceeded):
		return failure{http.StatusBadRequest, "Bad request body: " + be.err.Error(), false}
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return failure{http.StatusGatewayTimeout, fmt.Sprintf("function %s did not answer within %s", inv.function(), p.cfg.Timeout), true}
	default:
		p.log.Warn("invoke", "function", inv.function(), "err", err)
		return failure{http.StatusBadGateway, "Can't reach service for: " + inv.function() + ".", true}
	}
}

func (f failure) write(w http.ResponseWriter) {
	if f.code == 0 {
		return
	}
	if f.internal {
		w.Header().Set("X-OpenFaaS-Internal", "proxy")
	}
	http.Error(w, f.msg, f.code)
}

func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, inv *invocation, err error) {
	p.upstreamFailed(r.Context(), inv, err).write(w)
}

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

// newCallID returns a random (version 4) UUID. Call ids need to be unique,
// not secret, so the runtime's fast generator serves.
func newCallID() string {
	var b [16]byte
	hi, lo := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		b[i], b[8+i] = byte(hi>>(8*i)), byte(lo>>(8*i))
	}
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
