package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// retryTransport retries a request whose replica refused the connection,
// on a replica resolved afresh. Nothing has reached the function then, so
// any method may be retried. It covers the moments between a replica's
// process exiting and the supervisor taking it out of the table: the retry
// lands on another replica, or waits for the restarted one.
// maxRetries bounds the retries of refused connections (about 60 ms of
// back-off in all): enough for the supervisor to notice an exited replica,
// after which Resolve waits for a ready one.
const maxRetries = 5

type retryTransport struct {
	base     http.RoundTripper
	resolver Resolver
}

func (rt *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t, _ := req.Context().Value(ctxKey{}).(*target)
	if t == nil {
		return rt.base.RoundTrip(req)
	}
	var body *keepBody
	if req.Body != nil {
		// The transport closes the body on a failed dial; keep it open
		// for the retry. The server closes the real one.
		body = &keepBody{r: req.Body}
		req.Body = body
	}
	delay := 2 * time.Millisecond
	for attempt := 1; ; attempt++ {
		resp, err := rt.base.RoundTrip(req)
		if err == nil || !refused(err) || body != nil && body.read || attempt > maxRetries {
			return resp, err
		}
		select {
		case <-req.Context().Done():
			return nil, err
		case <-time.After(delay):
		}
		delay = min(delay*2, 100*time.Millisecond)
		t.backend.Release()
		t.backend = nil
		b, rerr := rt.resolver.Resolve(req.Context(), t.name, t.ns)
		if rerr != nil {
			return nil, err
		}
		t.backend, t.host = b, b.Host()
		req = req.Clone(req.Context())
		req.URL.Host = t.host
	}
}

// refused reports whether err happened while connecting, before anything
// was sent.
func refused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial" && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// keepBody passes reads through, remembers whether any happened, and
// ignores Close.
type keepBody struct {
	r    io.Reader
	read bool
}

func (b *keepBody) Read(p []byte) (int, error) {
	b.read = true
	return b.r.Read(p)
}

func (b *keepBody) Close() error { return nil }
