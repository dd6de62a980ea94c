package proxy

import (
	"context"
	"net/http"
	"time"
)

// Recorder receives every finished invocation of a function that exists:
// its name and namespace, the status code the caller got, and the time
// since the request arrived. It is called on the hot path and must be
// cheap.
type Recorder interface {
	Invocation(name, ns string, code int, d time.Duration)
}

// record reports one invocation to the configured Recorder, if any.
func (p *Proxy) record(name, ns string, code int, began time.Time) {
	if p.cfg.Metrics != nil {
		p.cfg.Metrics.Invocation(name, ns, code, time.Since(began))
	}
}

// recordFailure reports a platform answer. Nothing is recorded when nobody
// was listening (code 0) or for a 404: the function does not exist, and
// its name, taken from the URL, would make the label set unbounded.
func (p *Proxy) recordFailure(name, ns string, f failure, began time.Time) {
	if f.code != 0 && f.code != http.StatusNotFound {
		p.record(name, ns, f.code, began)
	}
}

// upstreamFailed classifies a failure to get inv's answer, as
// upstreamFailure, and records it.
func (p *Proxy) upstreamFailed(ctx context.Context, inv *invocation, err error) failure {
	f := p.upstreamFailure(ctx, inv, err)
	p.recordFailure(inv.name, inv.ns, f, inv.began)
	return f
}
