// Package trigger invokes functions on events: NATS messages, MQTT
// messages (which the embedded server's MQTT bridge turns into NATS
// messages) and cron schedules. A function asks for them with the OpenFaaS
// annotations "topic" (a comma-separated list of NATS subjects, MQTT topic
// filters and "cron-function") and "schedule".
//
// Triggers reads the function list every poll and subscribes once per
// subject on the in-process NATS connection. A message goes to every
// function whose topic matches, through the queue (Enqueue). A NATS
// request (a message with a reply subject) is answered by one function,
// the first in namespace, name order, invoked at once; the others get it
// through the queue. A function whose topics overlap ("a.*" and "a.b") is
// invoked once per matching topic, as NATS delivers once per subscription.
//
// Schedules are read in the host's local time zone, as cron does, unless
// they start with CRON_TZ=Zone. They start from the present: runs missed
// while funcd was down are not made up.
//
// It knows functions and the queue only through the small interfaces
// below; it must not import the gateway, the proxy or the provider.
package trigger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/queue"
)

// Queue is where triggers send invocations.
type Queue interface {
	// Enqueue stores a job durably for an asynchronous invocation. It
	// fills CallID and Accepted when empty, and drops a job whose CallID
	// it has seen within the last two minutes.
	Enqueue(ctx context.Context, j queue.Job) error
	// Invoke runs a job now and returns the function's answer.
	Invoke(ctx context.Context, j queue.Job) queue.Result
}

// Functions lists the deployed functions.
type Functions interface {
	Namespaces() []string
	List(namespace string) []api.FunctionStatus
}

// Config configures Triggers. Conn, Queue and Functions are required.
type Config struct {
	Conn       *nats.Conn            // in-process connection to the embedded server
	Queue      Queue                 // receives the invocations
	Functions  Functions             // read every Poll
	Poll       time.Duration         // default 1s
	Registerer prometheus.Registerer // optional; gets funcd_trigger_* metrics
	Log        *slog.Logger          // default: discard
	Now        func() time.Time      // the clock of schedules; default time.Now
}

// maxReplies bounds the request/reply invocations in flight. A request
// that finds them all busy waits for one to end.
const maxReplies = 64

// Triggers turns events into function invocations. Make it with New and
// start it with Run.
type Triggers struct {
	conn      *nats.Conn
	queue     Queue
	functions Functions
	poll      time.Duration
	log       *slog.Logger
	now       func() time.Time
	metrics   *metrics
	replies   chan struct{} // semaphore of request/reply invocations
	running   atomic.Bool

	// Only Run's goroutine uses these.
	subs   map[string]*subscription // by subject
	crons  map[function]*cronEntry
	warned map[function]string // annotations already logged as bad

	// gate is held for reading by message handlers, which run on the NATS
	// client's goroutines; stop takes it to wait them out and sets stopped
	// so that none starts any more work.
	gate    sync.RWMutex
	stopped bool
	wg      sync.WaitGroup // request/reply invocations and schedules
}

// New checks cfg, registers the metrics and returns Triggers ready to Run.
func New(cfg Config) (*Triggers, error) {
	switch {
	case cfg.Conn == nil:
		return nil, errors.New("trigger: no NATS connection")
	case cfg.Queue == nil:
		return nil, errors.New("trigger: no queue")
	case cfg.Functions == nil:
		return nil, errors.New("trigger: no function list")
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	t := &Triggers{
		conn:      cfg.Conn,
		queue:     cfg.Queue,
		functions: cfg.Functions,
		poll:      cfg.Poll,
		log:       cfg.Log,
		now:       cfg.Now,
		metrics:   m,
		replies:   make(chan struct{}, maxReplies),
		subs:      make(map[string]*subscription),
		crons:     make(map[function]*cronEntry),
		warned:    make(map[function]string),
	}
	if t.poll <= 0 {
		t.poll = time.Second
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if t.now == nil {
		t.now = time.Now
	}
	return t, nil
}

// Run follows the function list until ctx ends, then unsubscribes, stops
// the schedules, waits for the invocations it started and returns nil.
// It may be called once.
func (t *Triggers) Run(ctx context.Context) error {
	if !t.running.CompareAndSwap(false, true) {
		return errors.New("trigger: Run called twice")
	}
	defer t.stop()
	tick := time.NewTicker(t.poll)
	defer tick.Stop()
	for {
		t.reconcile(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// stop undoes everything Run set up and waits for the goroutines it owns.
func (t *Triggers) stop() {
	for subject, s := range t.subs {
		t.unsubscribe(s)
		delete(t.subs, subject)
	}
	for fn, c := range t.crons {
		c.stop()
		delete(t.crons, fn)
	}
	t.gate.Lock()
	t.stopped = true
	t.gate.Unlock()
	t.wg.Wait()
}

// metrics counts invocations by trigger: "cron", "nats", "mqtt".
type metrics struct {
	invocations map[string]prometheus.Counter
	failures    map[string]prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	invocations := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "funcd_trigger_invocations_total",
		Help: "Function invocations asked for by event triggers (enqueued or invoked), by trigger: cron, nats, mqtt.",
	}, []string{"trigger"})
	failures := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "funcd_trigger_errors_total",
		Help: "Invocations a trigger could not hand over: the queue refused the job, or nothing answered a request.",
	}, []string{"trigger"})
	if reg != nil {
		for _, c := range []prometheus.Collector{invocations, failures} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("trigger: register metrics: %w", err)
			}
		}
	}
	m := &metrics{invocations: map[string]prometheus.Counter{}, failures: map[string]prometheus.Counter{}}
	for _, source := range []string{queue.SourceCron, queue.SourceNATS, queue.SourceMQTT} {
		m.invocations[source] = invocations.WithLabelValues(source)
		m.failures[source] = failures.WithLabelValues(source)
	}
	return m, nil
}
