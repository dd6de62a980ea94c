package trigger

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/queue"
)

func TestPublishEnqueues(t *testing.T) {
	h := newHarness(t)
	h.fns.set(fn("orders", "topic", "orders.created"))
	h.start()
	h.waitSubs(1)

	m := nats.NewMsg("orders.created")
	m.Data = []byte(`{"id":1}`)
	m.Header.Set("Content-Type", "application/json")
	m.Header.Set("trace-id", "abc")
	m.Header.Set("Content-Length", "999")
	m.Header.Set("X-Topic", "spoofed")
	h.publish(m)
	h.publish(&nats.Msg{Subject: "orders.created", Data: []byte("raw")})

	jobs := h.queue.waitJobs(t, 2)
	j := jobs[0]
	if j.Function != "orders" || j.Namespace != api.DefaultNamespace || j.Method != http.MethodPost ||
		j.Path != "" || j.Source != queue.SourceNATS || string(j.Body) != `{"id":1}` {
		t.Errorf("job = %+v, want a POST of the message to orders.openfaas-fn from nats", j)
	}
	wantHeader := http.Header{
		"Content-Type": {"application/json"},
		"Trace-Id":     {"abc"},
		"X-Topic":      {"orders.created"},
		"X-Connector":  {"funcd-nats"},
	}
	if !maps.EqualFunc(j.Header, wantHeader, slices.Equal) {
		t.Errorf("header = %v, want %v", j.Header, wantHeader)
	}
	if got := jobs[1].Header.Get("Content-Type"); got != "application/octet-stream" || string(jobs[1].Body) != "raw" {
		t.Errorf("second job: Content-Type %q body %q, want application/octet-stream and raw", got, jobs[1].Body)
	}
	if got := h.counter("funcd_trigger_invocations_total", "nats"); got != 2 {
		t.Errorf("funcd_trigger_invocations_total{trigger=nats} = %v, want 2", got)
	}
}

func TestReservedSubjectsIgnored(t *testing.T) {
	h := newHarness(t)
	h.fns.set(fn("all", "topic", ">"))
	h.start()
	h.waitSubs(1)

	// One subscription delivers in order: once "last" is in, the others
	// would have been too.
	for _, s := range []string{"funcd.jobs.x", "$custom.x", "_INBOX.abc", "ok.x", "last"} {
		h.publish(&nats.Msg{Subject: s})
	}
	waitFor(t, "the job for last", func() bool {
		jobs := h.queue.Jobs()
		return len(jobs) > 0 && jobs[len(jobs)-1].Header.Get("X-Topic") == "last"
	})
	var topics []string
	for _, j := range h.queue.Jobs() {
		topics = append(topics, j.Header.Get("X-Topic"))
	}
	if want := []string{"ok.x", "last"}; !slices.Equal(topics, want) {
		t.Errorf("jobs for %q, want %q", topics, want)
	}
}

func TestTwoFunctionsOneTopic(t *testing.T) {
	h := newHarness(t)
	h.fns.set(
		fn("a", "topic", "events.x"),
		fn("b.dev", "topic", "other, events.x"),
		fn("c", "topic", "events.*"),
	)
	h.start()
	h.waitSubs(3) // events.x once, other, events.*

	h.publish(&nats.Msg{Subject: "events.x", Data: []byte("e")})
	jobs := h.queue.waitJobs(t, 3)
	var got []string
	for _, j := range jobs {
		got = append(got, j.Function+"."+j.Namespace+":"+string(j.Body))
	}
	slices.Sort(got)
	if want := []string{"a.openfaas-fn:e", "b.dev:e", "c.openfaas-fn:e"}; !slices.Equal(got, want) {
		t.Errorf("jobs %q, want %q", got, want)
	}
}

// TestReplyOnlyToInboxes: a "request" whose reply subject is not an inbox
// (here the JetStream API, where an answer would delete a stream) is an
// ordinary event: queued, not answered.
func TestReplyOnlyToInboxes(t *testing.T) {
	h := newHarness(t)
	h.fns.set(fn("a", "topic", "rpc.make"))
	h.start()
	h.waitSubs(1)
	answered, err := h.pub.SubscribeSync("$JS.API.>")
	if err != nil {
		t.Fatal(err)
	}
	h.publish(&nats.Msg{Subject: "rpc.make", Reply: "$JS.API.STREAM.DELETE.X", Data: []byte("please")})
	jobs := h.queue.waitJobs(t, 1)
	if jobs[0].Function != "a" || string(jobs[0].Body) != "please" {
		t.Errorf("enqueued %+v, want the message for a", jobs)
	}
	if inv := h.queue.Invoked(); len(inv) != 0 {
		t.Errorf("invoked %d times to answer a reply subject outside _INBOX", len(inv))
	}
	if m, err := answered.NextMsg(100 * time.Millisecond); err == nil {
		t.Errorf("funcd published %q to %s", m.Data, m.Subject)
	}
}

func TestRequestReply(t *testing.T) {
	tests := []struct {
		name       string
		result     queue.Result
		wantStatus string
		wantBody   string
		wantType   string
		failures   float64
	}{
		{
			name:       "answered",
			result:     queue.Result{Status: http.StatusCreated, Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte("made")},
			wantStatus: "201", wantBody: "made", wantType: "text/plain",
		},
		{
			name:       "function error",
			result:     queue.Result{Status: http.StatusInternalServerError, Body: []byte("oops")},
			wantStatus: "500", wantBody: "oops",
		},
		{
			name:       "no answer",
			result:     queue.Result{Err: errors.New("dial 10.62.0.7:8080: connection refused")},
			wantStatus: "502", wantBody: "Bad Gateway: function a.openfaas-fn did not answer",
			failures: 1,
		},
		{
			name:       "timeout",
			result:     queue.Result{Err: context.DeadlineExceeded},
			wantStatus: "504", wantBody: "Gateway Timeout: function a.openfaas-fn did not answer",
			failures: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.queue.invoke = func(context.Context, queue.Job) queue.Result { return tt.result }
			// b sorts after a: a answers, b gets the message through the queue.
			h.fns.set(fn("b", "topic", "rpc.make"), fn("a", "topic", "rpc.make"))
			h.start()
			h.waitSubs(1)

			req := nats.NewMsg("rpc.make")
			req.Data = []byte("please")
			req.Header.Set("Content-Type", "text/plain")
			resp, err := h.pub.RequestMsg(req, 5*time.Second)
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			if got := resp.Header.Get(headerStatus); got != tt.wantStatus {
				t.Errorf("%s = %q, want %q", headerStatus, got, tt.wantStatus)
			}
			if string(resp.Data) != tt.wantBody {
				t.Errorf("reply body = %q, want %q", resp.Data, tt.wantBody)
			}
			if got := resp.Header.Get("Content-Type"); got != tt.wantType {
				t.Errorf("reply Content-Type = %q, want %q", got, tt.wantType)
			}

			invoked := h.queue.Invoked()
			if len(invoked) != 1 || invoked[0].Function != "a" || string(invoked[0].Body) != "please" ||
				invoked[0].Header.Get("X-Topic") != "rpc.make" {
				t.Errorf("invoked %+v, want one invocation of a with the request", invoked)
			}
			jobs := h.queue.waitJobs(t, 1)
			if len(jobs) != 1 || jobs[0].Function != "b" || string(jobs[0].Body) != "please" {
				t.Errorf("enqueued %+v, want the request for b", jobs)
			}
			if got := h.counter("funcd_trigger_invocations_total", "nats"); got != 2 {
				t.Errorf("funcd_trigger_invocations_total{trigger=nats} = %v, want 2", got)
			}
			if got := h.counter("funcd_trigger_errors_total", "nats"); got != tt.failures {
				t.Errorf("funcd_trigger_errors_total{trigger=nats} = %v, want %v", got, tt.failures)
			}
		})
	}
}

func TestFunctionListChanges(t *testing.T) {
	h := newHarness(t)
	h.fns.set(fn("a", "topic", "one"), fn("b", "topic", "two"))
	h.start()
	h.waitSubs(2)

	// a moves from "one" to "three"; b is removed.
	h.fns.set(fn("a", "topic", "three"))
	waitFor(t, "the subscriptions to change", func() bool { return h.conn.NumSubscriptions() == 1 })
	if err := h.conn.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"one", "two"} {
		h.publish(&nats.Msg{Subject: s, Data: []byte(s)})
	}
	waitFor(t, "a's subscription to three", func() bool {
		h.publish(&nats.Msg{Subject: "three", Data: []byte("three")})
		return len(h.queue.Jobs()) > 0
	})
	for _, j := range h.queue.Jobs() {
		if j.Function != "a" || string(j.Body) != "three" {
			t.Errorf("job for %s with %q after the change, want only a with three", j.Function, j.Body)
		}
	}

	h.fns.set()
	h.waitSubs(0)
}

func TestBadAnnotations(t *testing.T) {
	h := newHarness(t)
	var logs syncBuffer
	h.log = slog.New(slog.NewTextHandler(&logs, nil))
	h.fns.set(
		fn("mixed", "topic", "a..b, good.x"),
		fn("nocron", "topic", "cron-function"),
	)
	h.start()
	h.waitSubs(1) // good.x: the valid topic is kept

	// A later pass (it subscribes to marker) does not log again.
	h.fns.set(
		fn("mixed", "topic", "a..b, good.x"),
		fn("nocron", "topic", "cron-function"),
		fn("marker", "topic", "marker"),
	)
	h.waitSubs(2)
	if n := logs.count("bad trigger annotations"); n != 2 {
		t.Errorf("%d warnings, want 2 (one per function):\n%s", n, logs.String())
	}
	if n := logs.count("required with topic cron-function"); n != 1 {
		t.Errorf("%d warnings about nocron's missing schedule, want 1", n)
	}

	// A new bad value is logged again.
	h.fns.set(fn("mixed", "topic", "a..c, good.x"), fn("marker", "topic", "marker"))
	waitFor(t, "a warning about a..c", func() bool { return logs.count(`\"a..c\"`) == 1 })
	if n := logs.count("bad trigger annotations"); n != 3 {
		t.Errorf("%d warnings, want 3", n)
	}
}

func TestRunStops(t *testing.T) {
	h := newHarness(t)
	baseline := settledGoroutines()

	started := make(chan struct{})
	var returned atomic.Bool
	h.queue.invoke = func(ctx context.Context, j queue.Job) queue.Result {
		defer returned.Store(true)
		close(started)
		<-ctx.Done()
		time.Sleep(50 * time.Millisecond) // a slow unwind that Run must wait for
		return queue.Result{Err: ctx.Err()}
	}
	h.fns.set(
		fn("slow", "topic", "slow.req"),
		fn("tick", "topic", "cron-function", "schedule", "@yearly"),
		fn("sensor", "topic", "sensors/+/temp"),
	)
	h.start()
	h.waitSubs(2)
	if err := h.pub.PublishRequest("slow.req", "_INBOX.nowhere", []byte("x")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the request was not invoked")
	}

	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	if !returned.Load() {
		t.Error("Run returned before the invocation it started")
	}
	if n := h.conn.NumSubscriptions(); n != 0 {
		t.Errorf("%d subscriptions left after Run returned", n)
	}
	waitFor(t, "goroutines to end", func() bool { return numGoroutines() <= baseline })
}

func TestNew(t *testing.T) {
	ns, _ := startNATS(t)
	nc := connect(t, ns)
	reg := prometheus.NewRegistry()
	good := Config{Conn: nc, Queue: &fakeQueue{}, Functions: &fakeFunctions{}, Registerer: reg}
	if _, err := New(good); err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := New(good); err == nil {
		t.Error("New registered its metrics twice on one registry without an error")
	}
	for _, cfg := range []Config{
		{Queue: &fakeQueue{}, Functions: &fakeFunctions{}},
		{Conn: nc, Functions: &fakeFunctions{}},
		{Conn: nc, Queue: &fakeQueue{}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) = nil error, want one", cfg)
		}
	}
}
