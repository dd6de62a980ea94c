package queue

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/funcd/funcd/internal/egress"
)

// TestCallbackToTheHostRefused: by default a callback may not reach the
// host itself. Refused at accept time, nothing is stored; a stored
// callback whose address is forbidden when it is sent (its name resolves
// elsewhere by then) is dropped at once, never retried, never sent.
func TestCallbackToTheHostRefused(t *testing.T) {
	var hits atomic.Int32
	receiver := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer receiver.Close()
	fns := &fakeFunctions{}
	fns.set("f", nil)
	iv := &invoker{}
	q := newQueue(t, t.TempDir(), iv, fns, func(c *Config) { c.Callbacks = nil }) // the default policy
	defer closeQueue(t, q)
	ctx := context.Background()

	for _, cb := range []string{receiver.URL, "http://localhost:9/", "http://[::1]:9/", "http://169.254.169.254/latest/"} {
		err := q.Enqueue(ctx, Job{CallID: "refused", Function: "f", Callback: cb})
		if !errors.Is(err, ErrCallback) || !errors.Is(err, egress.ErrForbidden) {
			t.Errorf("Enqueue with callback %s = %v, want ErrCallback", cb, err)
		}
	}
	st, err := q.Stats(ctx)
	if err != nil || st.Depth != 0 || iv.count() != 0 {
		t.Errorf("after refusals: stats %+v, %v; %d invocations; want nothing stored", st, err, iv.count())
	}

	// As if the receiver's name resolved to a public address when the
	// invocation was accepted, and to loopback now.
	if err := q.queueCallback(Job{CallID: "late", Function: "f", Callback: receiver.URL}, 1, Result{Status: http.StatusOK}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the callback refused", func() bool {
		return testutil.ToFloat64(q.metrics.callbacks.WithLabelValues("refused")) == 1
	})
	// Refused is the whole outcome of that attempt: acknowledged, not
	// handed back for a retry, and no connection was made.
	if n := hits.Load(); n != 0 || testutil.ToFloat64(q.metrics.callbacks.WithLabelValues("retried")) != 0 {
		t.Errorf("receiver on loopback reached %d times; want the callback dropped unsent", n)
	}
}
