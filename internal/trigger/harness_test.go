package trigger

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/queue"
)

// fakeQueue records what Triggers asks of the queue.
type fakeQueue struct {
	mu       sync.Mutex
	jobs     []queue.Job
	invoked  []queue.Job
	invoke   func(ctx context.Context, j queue.Job) queue.Result // nil: 200 "ok"
	enqueued func(j queue.Job)                                   // called after recording, if set
}

func (q *fakeQueue) Enqueue(_ context.Context, j queue.Job) error {
	q.mu.Lock()
	q.jobs = append(q.jobs, j)
	hook := q.enqueued
	q.mu.Unlock()
	if hook != nil {
		hook(j)
	}
	return nil
}

func (q *fakeQueue) Invoke(ctx context.Context, j queue.Job) queue.Result {
	q.mu.Lock()
	q.invoked = append(q.invoked, j)
	invoke := q.invoke
	q.mu.Unlock()
	if invoke == nil {
		return queue.Result{Status: http.StatusOK, Body: []byte("ok")}
	}
	return invoke(ctx, j)
}

func (q *fakeQueue) Jobs() []queue.Job {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.jobs)
}

func (q *fakeQueue) Invoked() []queue.Job {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.invoked)
}

// waitJobs waits until n jobs are enqueued and returns them.
func (q *fakeQueue) waitJobs(t *testing.T, n int) []queue.Job {
	t.Helper()
	waitFor(t, strconv.Itoa(n)+" jobs", func() bool { return len(q.Jobs()) >= n })
	return q.Jobs()
}

// fakeFunctions is a function list the test changes as it goes.
type fakeFunctions struct {
	mu  sync.Mutex
	fns map[string][]api.FunctionStatus
}

func (f *fakeFunctions) set(fns ...api.FunctionStatus) {
	byNS := map[string][]api.FunctionStatus{}
	for _, fn := range fns {
		ns := fn.Namespace
		if ns == "" {
			ns = api.DefaultNamespace
		}
		byNS[ns] = append(byNS[ns], fn)
	}
	f.mu.Lock()
	f.fns = byNS
	f.mu.Unlock()
}

func (f *fakeFunctions) Namespaces() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.fns))
}

func (f *fakeFunctions) List(ns string) []api.FunctionStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.fns[ns])
}

// fn is a function with the given annotations, as key, value pairs.
func fn(name string, kv ...string) api.FunctionStatus {
	name, ns, _ := strings.Cut(name, ".")
	st := api.FunctionStatus{Name: name, Namespace: ns, Annotations: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		st.Annotations[kv[i]] = kv[i+1]
	}
	return st
}

// startNATS runs an embedded server with JetStream and an MQTT listener on
// a free port, like funcd's, and returns it with the MQTT address.
func startNATS(t *testing.T) (*server.Server, string) {
	t.Helper()
	opts := &server.Options{
		ServerName: "t",
		DontListen: true,
		JetStream:  true,
		StoreDir:   t.TempDir(),
		NoSigs:     true,
		NoLog:      true,
		MQTT:       server.MQTTOpts{Host: "127.0.0.1", Port: -1},
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	// Start set the port the MQTT listener got.
	return ns, net.JoinHostPort(opts.MQTT.Host, strconv.Itoa(opts.MQTT.Port))
}

func connect(t *testing.T, ns *server.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect("", nats.InProcessServer(ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// harness is Triggers running on a real embedded server, with a fake
// queue and function list.
type harness struct {
	t        *testing.T
	ns       *server.Server
	mqttAddr string
	conn     *nats.Conn // Triggers'
	pub      *nats.Conn // a client's
	queue    *fakeQueue
	fns      *fakeFunctions
	reg      *prometheus.Registry
	clock    func() time.Time // nil: time.Now
	log      *slog.Logger     // nil: discard
	tr       *Triggers
	cancel   context.CancelFunc
	done     chan error
}

func newHarness(t *testing.T) *harness {
	ns, mqttAddr := startNATS(t)
	return &harness{
		t: t, ns: ns, mqttAddr: mqttAddr,
		conn: connect(t, ns), pub: connect(t, ns),
		queue: &fakeQueue{}, fns: &fakeFunctions{}, reg: prometheus.NewRegistry(),
	}
}

// start runs Triggers, polling every 10ms, until the test ends.
func (h *harness) start() {
	h.t.Helper()
	tr, err := New(Config{
		Conn: h.conn, Queue: h.queue, Functions: h.fns, Poll: 10 * time.Millisecond,
		Registerer: h.reg, Now: h.clock, Log: h.log,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.tr = tr
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- tr.Run(ctx) }()
	h.t.Cleanup(func() { _ = h.stop() })
}

// stop cancels Run and waits for it to return.
func (h *harness) stop() error {
	h.cancel()
	select {
	case err, ok := <-h.done:
		if ok {
			close(h.done)
		}
		return err
	case <-time.After(10 * time.Second):
		return errors.New("Run did not return within 10s of its context ending")
	}
}

// waitSubs waits until Triggers holds n subscriptions, all known to the
// server.
func (h *harness) waitSubs(n int) {
	h.t.Helper()
	waitFor(h.t, strconv.Itoa(n)+" subscriptions", func() bool { return h.conn.NumSubscriptions() == n })
	if err := h.conn.Flush(); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) publish(m *nats.Msg) {
	h.t.Helper()
	if err := h.pub.PublishMsg(m); err != nil {
		h.t.Fatal(err)
	}
	if err := h.pub.Flush(); err != nil {
		h.t.Fatal(err)
	}
}

// counter reads a funcd_trigger_* counter for one trigger.
func (h *harness) counter(name, trigger string) float64 {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "trigger" && l.GetValue() == trigger {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// waitFor polls cond until it holds, failing the test after 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func numGoroutines() int { return runtime.NumGoroutine() }

// settledGoroutines returns the number of goroutines once it has held
// still for 50ms (at most 2s).
func settledGoroutines() int {
	n, still := numGoroutines(), 0
	for deadline := time.Now().Add(2 * time.Second); still < 10 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		if m := numGoroutines(); m != n {
			n, still = m, 0
		} else {
			still++
		}
	}
	return n
}

// syncBuffer is a log destination the test reads while Triggers writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) count(s string) int {
	return strings.Count(b.String(), s)
}
