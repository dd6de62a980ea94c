package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/egress"
)

// callbackWorkers caps callbacks being delivered at once. They do not
// take global worker slots: a slow callback receiver never holds up
// invocations.
const callbackWorkers = 16

// delivery is a result waiting to be POSTed to an X-Callback-Url.
type delivery struct {
	URL      string      `json:"url"`
	Function string      `json:"function"` // X-Function-Name
	CallID   string      `json:"callId"`
	Status   int         `json:"status"`
	Header   http.Header `json:"header,omitempty"`
	Seconds  float64     `json:"seconds"`
	Stored   time.Time   `json:"stored"`
}

// queueCallback stores res for delivery to j.Callback. seq is the
// invocation's stream sequence.
func (q *Queue) queueCallback(j Job, seq uint64, res Result) error {
	status := res.Status
	if status == 0 {
		status = http.StatusServiceUnavailable // nothing answered, as OpenFaaS reports it
	}
	name := j.Function
	if j.Namespace != api.DefaultNamespace {
		name += "." + j.Namespace
	}
	d := delivery{URL: j.Callback, Function: name, CallID: j.CallID, Status: status,
		Header: res.Header, Seconds: res.Duration.Seconds(), Stored: time.Now()}
	data, err := frame(&d, res.Body)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Only an invocation's final outcome gets here, so the id dedupes a
	// repeat after a crash; a redriven invocation has a new sequence.
	id := j.CallID + ".callback." + strconv.FormatUint(seq, 10)
	_, err = q.js.Publish(ctx, callbackSubject, data, jetstream.WithMsgID(id))
	return err
}

// startCallbacks starts the loop that delivers stored callbacks.
func (q *Queue) startCallbacks(ctx context.Context) error {
	cons, err := q.cb.CreateOrUpdateConsumer(ctx, q.callbackConsumer())
	if err != nil {
		return fmt.Errorf("queue: callback consumer: %w", err)
	}
	q.start(&loop{
		name:   "callbacks",
		cons:   cons,
		limit:  func() int { return callbackWorkers },
		handle: q.deliver,
	})
	return nil
}

// callbackConsumer is the durable pull consumer of stored callbacks.
func (q *Queue) callbackConsumer() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       "callbacks",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       q.cfg.AckWait + q.callbackClient.Timeout,
		MaxDeliver:    -1,
		MaxAckPending: 100_000,
	}
}

// deliver POSTs one stored result to its callback URL. Failures are
// retried with back-off until the result is CallbackTTL old, then logged
// and dropped; a receiver answering 4xx (other than 408 and 429) is not
// asked again.
func (q *Queue) deliver(msg jetstream.Msg) {
	var d delivery
	body, err := unframe(msg.Data(), &d)
	if err != nil {
		q.log.Error("dropping a stored callback that cannot be read", "err", err)
		_ = msg.Term()
		return
	}
	md, err := msg.Metadata()
	if err != nil {
		_ = msg.Term()
		return
	}
	attempt := int(md.NumDelivered)
	code, err := q.post(d, body)
	switch {
	case err == nil && code < 300:
		q.metrics.callback("delivered")
		q.log.Debug("callback delivered", "url", d.URL, "call_id", d.CallID, "status", code)
		_ = msg.Ack()
		return
	case errors.Is(err, egress.ErrForbidden):
		// The name resolves to a forbidden address now; asking again
		// would not make it safe.
		q.metrics.callback("refused")
		q.log.Warn("callback refused; not retried", "url", d.URL, "call_id", d.CallID, "err", err)
		_ = msg.Ack()
		return
	case err == nil && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests:
		q.metrics.callback("refused")
		q.log.Warn("callback refused; not retried", "url", d.URL, "call_id", d.CallID, "status", code)
		_ = msg.Ack()
		return
	}
	if time.Since(d.Stored) < q.cfg.CallbackTTL {
		wait := Policy{MinWait: q.cfg.CallbackWait, MaxWait: time.Minute}.delay(attempt, Result{})
		q.metrics.callback("retried")
		q.log.Info("callback failed; will retry", "url", d.URL, "call_id", d.CallID, "attempt", attempt, "status", code, "err", err, "in", wait)
		_ = msg.NakWithDelay(wait)
		return
	}
	q.metrics.callback("dropped")
	q.log.Error("callback failed for good; dropped", "url", d.URL, "call_id", d.CallID, "attempts", attempt, "status", code, "err", err)
	_ = msg.Ack()
}

// post sends one callback: the function's body and headers, with the
// OpenFaaS callback headers set over them.
func (q *Queue) post(d delivery, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(q.workCtx, q.callbackClient.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	for k, v := range d.Header {
		req.Header[k] = v
	}
	req.Header.Del("Content-Length")
	req.Header.Set("X-Function-Status", strconv.Itoa(d.Status))
	req.Header.Set("X-Function-Name", d.Function)
	req.Header.Set("X-Duration-Seconds", strconv.FormatFloat(d.Seconds, 'f', 6, 64))
	if d.CallID != "" {
		req.Header.Set("X-Call-Id", d.CallID)
	}
	res, err := q.callbackClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	return res.StatusCode, nil
}
