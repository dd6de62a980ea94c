package queue

import (
	"bytes"
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"
)

// NewCallID returns a random UUID for X-Call-Id.
func NewCallID() string { return uuid.NewString() }

// Invoke makes one synchronous invocation of j through the proxy, as a
// caller of /function/NAME.NS would, so that a function at zero replicas
// is woken and the invocation is counted in the gateway metrics. A
// deadline on ctx replaces the proxy's --timeout. The answer's body is
// kept up to the queue's body cap.
func (q *Queue) Invoke(ctx context.Context, j Job) Result {
	target := "/function/" + j.Function + "." + j.Namespace + j.Path
	if j.Query != "" {
		target += "?" + j.Query
	}
	method := j.Method
	if method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(j.Body))
	if err != nil {
		return Result{Err: err}
	}
	req.Header = j.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if j.CallID != "" {
		req.Header.Set("X-Call-Id", j.CallID)
	}
	req.ContentLength = int64(len(j.Body))
	req.RemoteAddr = "127.0.0.1:0"
	req.Host = "gateway"
	rec := &recorder{header: http.Header{}, limit: int(q.cfg.MaxBody)}
	start := time.Now()
	q.cfg.Invoker.ServeHTTP(rec, req)
	if rec.code == 0 {
		rec.code = http.StatusOK // a handler that writes nothing answers 200, as in net/http
	}
	res := Result{Status: rec.code, Header: rec.header, Body: rec.body.Bytes(), Duration: time.Since(start)}
	if ctx.Err() != nil && res.Status >= 500 {
		res.Err = ctx.Err()
	}
	return res
}

// recorder is the http.ResponseWriter an invocation from the queue
// writes to. It keeps at most limit bytes of the body and drops the rest.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
	limit  int
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	if room := r.limit - r.body.Len(); room < len(p) {
		r.body.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return r.body.Write(p)
}

// Flush lets the proxy stream; there is nothing to flush to.
func (r *recorder) Flush() {}
