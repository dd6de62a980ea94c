package trigger

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/nats-io/nats.go"

	"github.com/funcd/funcd/internal/queue"
)

// Headers set on the jobs triggers make, as OpenFaaS connectors do.
const (
	headerTopic     = "X-Topic"     // the concrete topic of the event
	headerConnector = "X-Connector" // funcd-nats, funcd-mqtt, funcd-cron
	// headerStatus carries the function's HTTP status on a NATS reply.
	headerStatus = "X-Function-Status"
)

// subscription is one NATS subscription, shared by every function whose
// topic maps to its subject.
type subscription struct {
	sub     *nats.Subscription
	targets atomic.Pointer[[]target] // swapped when the function list changes
}

// subscribe subscribes to subject. Messages are handled on the NATS
// client's goroutine of the subscription, one at a time, in order:
// enqueueing is a short JetStream publish, and a queue that stalls makes
// messages wait in the subscription's pending buffer (nats.go's default
// limits), after which NATS drops them as a slow consumer. Request/reply
// invocations run on goroutines of their own.
func (t *Triggers) subscribe(ctx context.Context, subject string, targets []target) (*subscription, error) {
	s := &subscription{}
	s.targets.Store(&targets)
	sub, err := t.conn.Subscribe(subject, func(m *nats.Msg) { t.deliver(ctx, s, m) })
	if err != nil {
		return nil, err
	}
	s.sub = sub
	return s, nil
}

func (t *Triggers) unsubscribe(s *subscription) {
	err := s.sub.Unsubscribe()
	if err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
		t.log.Error("unsubscribe", "subject", s.sub.Subject, "err", err)
	}
}

// deliver hands a message to every function subscribed to its subject.
// A request (a message with a reply subject in an inbox) is answered by
// the first of them in namespace, name order; the others get it
// asynchronously like any other message. A reply subject outside _INBOX
// is not answered: funcd publishes answers only to inboxes, so a client
// cannot have a function's answer published to the JetStream API or to
// an event subject in its place.
func (t *Triggers) deliver(ctx context.Context, s *subscription, m *nats.Msg) {
	if reserved(m.Subject) {
		return // seen through a wildcard; not for functions
	}
	t.gate.RLock()
	defer t.gate.RUnlock()
	if t.stopped {
		return
	}
	targets := *s.targets.Load()
	if strings.HasPrefix(m.Reply, inboxPrefix) && len(targets) > 0 {
		select {
		case t.replies <- struct{}{}:
		case <-ctx.Done():
			return
		}
		j := t.job(targets[0], m)
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			defer func() { <-t.replies }()
			t.reply(ctx, j, m.Reply)
		}()
		targets = targets[1:]
	}
	for _, tg := range targets {
		t.enqueue(ctx, t.job(tg, m))
	}
}

// job makes the invocation of one function for a message. The message's
// headers are copied, except those that frame HTTP or belong to the MQTT
// bridge; X-Topic gives the topic in the form the function wrote its own.
func (t *Triggers) job(tg target, m *nats.Msg) queue.Job {
	source, connector, topic := queue.SourceNATS, "funcd-nats", m.Subject
	if tg.mqtt {
		source, connector, topic = queue.SourceMQTT, "funcd-mqtt", mqttTopic(m.Subject)
	}
	h := make(http.Header, len(m.Header)+3)
	copyHeader(h, m.Header)
	h.Set(headerTopic, topic)
	h.Set(headerConnector, connector)
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/octet-stream")
	}
	return queue.Job{
		Function:  tg.fn.name,
		Namespace: tg.fn.namespace,
		Method:    http.MethodPost,
		Header:    h,
		Source:    source,
		Body:      m.Data,
	}
}

// enqueue hands a job to the queue; failures are counted and logged.
func (t *Triggers) enqueue(ctx context.Context, j queue.Job) {
	t.metrics.invocations[j.Source].Inc()
	err := t.queue.Enqueue(ctx, j)
	if err == nil || ctx.Err() != nil {
		return
	}
	t.metrics.failures[j.Source].Inc()
	t.log.Error("enqueue", "function", j.Function+"."+j.Namespace, "source", j.Source, "err", err)
}

// reply invokes a function for a NATS request and publishes its answer to
// the reply subject: the body as data, the function's headers, and its
// status in X-Function-Status. When nothing answered, the status is 502
// (504 on a timeout) with a short text; the details go to the log. When
// funcd is stopping, no reply is sent and the requester times out.
func (t *Triggers) reply(ctx context.Context, j queue.Job, to string) {
	t.metrics.invocations[j.Source].Inc()
	res := t.queue.Invoke(ctx, j)
	if res.Status == 0 && ctx.Err() != nil {
		return
	}
	fn := j.Function + "." + j.Namespace
	answer := &nats.Msg{Subject: to, Header: nats.Header{}, Data: res.Body}
	status := res.Status
	if status == 0 {
		t.metrics.failures[j.Source].Inc()
		t.log.Error("invoke", "function", fn, "source", j.Source, "err", res.Err)
		status = http.StatusBadGateway
		if errors.Is(res.Err, context.DeadlineExceeded) {
			status = http.StatusGatewayTimeout
		}
		answer.Data = []byte(fmt.Sprintf("%s: function %s did not answer", http.StatusText(status), fn))
	} else {
		copyHeader(answer.Header, res.Header)
	}
	answer.Header.Set(headerStatus, strconv.Itoa(status))
	err := t.conn.PublishMsg(answer)
	if errors.Is(err, nats.ErrMaxPayload) {
		status = http.StatusBadGateway
		answer.Header = nats.Header{headerStatus: {strconv.Itoa(status)}}
		answer.Data = []byte(fmt.Sprintf("%s: the answer of %s (%d bytes) is larger than a NATS message may be",
			http.StatusText(status), fn, len(res.Body)))
		err = t.conn.PublishMsg(answer)
	}
	if err != nil {
		t.log.Error("reply", "function", fn, "subject", to, "err", err)
	}
}

// copyHeader adds src's fields to dst, leaving out those that frame an
// HTTP message or hop between connections, the MQTT bridge's own
// (Nmqtt-*), and anything that is not a valid HTTP field.
func copyHeader[D, S ~map[string][]string](dst D, src S) {
	for k, vs := range src {
		ck := http.CanonicalHeaderKey(k)
		if hopHeaders[ck] || strings.HasPrefix(ck, "Nmqtt-") || !validName(k) {
			continue
		}
		for _, v := range vs {
			if !strings.ContainsAny(v, "\r\n\x00") {
				dst[ck] = append(dst[ck], v)
			}
		}
	}
}

var hopHeaders = map[string]bool{
	"Connection": true, "Content-Length": true, "Host": true, "Keep-Alive": true,
	"Proxy-Connection": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

// validName reports whether k is an HTTP token (RFC 9110 §5.6.2).
func validName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
