// Package queue keeps funcd's asynchronous invocations: an embedded NATS
// server with JetStream on file storage under the state directory, the
// worker pool that invokes functions through the same proxy as
// synchronous calls, retries with back-off, a dead-letter stream, and
// callbacks.
//
// Streams (all file storage):
//
//	FUNCD_INVOKE   funcd.invoke.NS.NAME  work queue: accepted invocations
//	FUNCD_DEAD     funcd.dead.NS.NAME    invocations that ran out of attempts
//	FUNCD_CALLBACK funcd.callback        results waiting to be POSTed back
//
// Each function with queued work has a durable pull consumer fn_NS_NAME
// and a loop that fetches only while the function is below its
// concurrency cap, so a slow function never holds up another one.
//
// Delivery is at least once: a message leaves the stream only after the
// function answered and the outcome (callback, dead letter) was stored.
// Every attempt carries the same X-Call-Id, so a function can recognise
// the rare repeat (funcd dying between the answer and the acknowledgement).
//
// The queue watches the disk under its store (health.go). While that disk
// is full, or after the store failed to write, the queue is degraded:
// Enqueue refuses at once (ErrUnavailable, with syscall.ENOSPC for a full
// disk) and nothing queued starts; what was accepted stays stored. Once
// there is room it recovers by itself, reloading the store from disk if a
// write failed (store.go), without restarting funcd.
//
// It must not import the provider, the proxy or the gateway: it invokes
// through an http.Handler and reads functions through Functions.
package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/egress"
)

const (
	invokeStream   = "FUNCD_INVOKE"
	deadStream     = "FUNCD_DEAD"
	callbackStream = "FUNCD_CALLBACK"

	invokePrefix    = "funcd.invoke."
	deadPrefix      = "funcd.dead."
	callbackSubject = "funcd.callback"

	// dedupeWindow is how long a call id is remembered: enqueuing the same
	// X-Call-Id again within it is accepted once.
	dedupeWindow = 2 * time.Minute
)

// Errors Enqueue returns that callers map to client errors.
var (
	ErrTooLarge = errors.New("request too large")
	ErrClosed   = errors.New("queue is shutting down")
	ErrFull     = errors.New("queue is full")
	// ErrCallback: the callback URL is not one funcd may call (see
	// package egress).
	ErrCallback = errors.New("X-Callback-Url refused")
	// ErrUnavailable: the queue cannot store invocations for now (see
	// Health); it recovers by itself. When the disk is full, the error
	// also wraps syscall.ENOSPC.
	ErrUnavailable = errors.New("queue is unavailable")
)

// Functions is what the queue needs to know about functions.
type Functions interface {
	// Function returns a function's labels and annotations, and false
	// when it does not exist.
	Function(name, namespace string) (labels, annotations map[string]string, ok bool)
}

// Config describes the queue. Zero values take the defaults noted.
type Config struct {
	StoreDir   string // JetStream's files
	NATSListen string // host:port for outside NATS clients; "" keeps NATS in-process
	MQTTListen string // host:port for MQTT clients; "" for none
	Password   string // of User, required with either listener

	Workers    int   // invocations running at once, all functions together (default 32)
	MaxBody    int64 // request body cap (default 1 MiB)
	MaxBytes   int64 // what the invocations waiting may take on disk (0: no cap of funcd's)
	Policy     Policy
	Timeout    time.Duration // one queued invocation, wait for a replica included (default 5m)
	AckWait    time.Duration // redelivery after a silent worker (default 5s); running work heartbeats at a third of it
	SyncAlways bool          // fsync every stored message before answering 202
	Invoker    http.Handler  // serves /function/NAME.NS/...: the proxy
	Functions  Functions
	// Callbacks decides which callback URLs are accepted and reached; nil
	// refuses loopback, link-local and the like (egress.New with no bridge).
	Callbacks    *egress.Policy
	Registerer   prometheus.Registerer // may be nil
	Log          *slog.Logger
	CallbackTTL  time.Duration // how long callbacks are retried (default 10m)
	CallbackWait time.Duration // first wait between callback attempts (default 1s), doubling to a minute

	freeSpace func(dir string) (int64, error) // bytes free on dir's disk; tests fake a full one
}

// Queue is the running queue.
type Queue struct {
	cfg     Config
	log     *slog.Logger
	srv     *natsServer
	js      jetstream.JetStream
	invoke  jetstream.Stream
	dead    jetstream.Stream
	cb      jetstream.Stream
	metrics *metrics
	global  chan struct{} // one token per running invocation

	// fetchCtx stops the loops from taking more work; workCtx, cancelled
	// only when the shutdown grace runs out, aborts running invocations.
	fetchCtx, workCtx    context.Context
	stopFetch, abortWork context.CancelFunc
	loops, running       sync.WaitGroup
	mu                   sync.Mutex
	workers              map[fnKey]*loop
	closed               bool
	maxPayload           int32
	maxBytes             int64 // the invoke stream's cap: Config.MaxBytes, or less when the disk is smaller
	callbackClient       *http.Client
	watch                *watch
	jsConfig             server.JetStreamConfig // to start JetStream again (reload)
}

type fnKey struct{ ns, name string }

func (k fnKey) subject() string  { return invokePrefix + k.ns + "." + k.name }
func (k fnKey) consumer() string { return "fn_" + k.ns + "_" + k.name }

// keyOf reads the function from a subject's last two tokens.
func keyOf(subject string) (fnKey, bool) {
	parts := strings.Split(subject, ".")
	if len(parts) != 4 {
		return fnKey{}, false
	}
	return fnKey{ns: parts[2], name: parts[3]}, true
}

// New starts the embedded server, makes sure the streams exist and starts
// the loops for work left from before a restart.
func New(ctx context.Context, cfg Config) (*Queue, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = 32
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.Policy.Attempts == 0 {
		cfg.Policy = DefaultPolicy
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Minute
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = 5 * time.Second
	}
	if cfg.CallbackTTL <= 0 {
		cfg.CallbackTTL = 10 * time.Minute
	}
	if cfg.CallbackWait <= 0 {
		cfg.CallbackWait = time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Callbacks == nil {
		cfg.Callbacks = egress.New(netip.Prefix{}, nil)
	}
	if cfg.freeSpace == nil {
		cfg.freeSpace = freeSpace
	}
	q := &Queue{
		cfg:        cfg,
		log:        cfg.Log,
		global:     make(chan struct{}, cfg.Workers),
		workers:    map[fnKey]*loop{},
		maxPayload: int32(cfg.MaxBody + 2<<20), // the body, plus room for headers up to net/http's 1 MiB
		callbackClient: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			Proxy:               nil, // the policy judges the receiver itself, not a proxy in between
			DialContext:         cfg.Callbacks.Dialer().DialContext,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second,
		}},
	}
	q.metrics = newMetrics(q)
	q.fetchCtx, q.stopFetch = context.WithCancel(context.Background())
	q.workCtx, q.abortWork = context.WithCancel(context.Background())
	var err error
	natsLog := cfg.Log.With("component", "nats")
	if q.srv, err = startServer(cfg, q.maxPayload, natsLog); err != nil {
		return nil, err
	}
	// Room for the largest invocation and a copy of it (its dead letter
	// or callback).
	reserve := 2 * int64(q.maxPayload)
	q.watch = newWatch(cfg.StoreDir, reserve, cfg.freeSpace, q.storeError, q.reload, cfg.Log)
	q.srv.ns.SetLoggerV2(watchedLogger{natsLogger{natsLog}, q.watch}, false, false, false)
	err = q.setup(ctx)
	if err == nil && cfg.Registerer != nil {
		err = q.metrics.register(cfg.Registerer)
	}
	if err != nil {
		q.stopFetch()
		q.abortWork()
		q.loops.Wait()
		q.srv.close()
		return nil, err
	}
	return q, nil
}

func (q *Queue) setup(ctx context.Context) error {
	var err error
	js := q.srv.ns.JetStreamConfig()
	if js == nil {
		return fmt.Errorf("queue: JetStream did not start on %s (see the log)", q.cfg.StoreDir)
	}
	q.jsConfig = server.JetStreamConfig{StoreDir: q.cfg.StoreDir, MaxStore: js.MaxStore, MaxMemory: js.MaxMemory,
		SyncInterval: js.SyncInterval, SyncAlways: js.SyncAlways, Strict: js.Strict}
	if q.js, err = jetstream.New(q.srv.queue); err != nil {
		return err
	}
	q.maxBytes = q.fitMaxBytes(ctx)
	streams := q.streamConfigs()
	for i, to := range []*jetstream.Stream{&q.invoke, &q.dead, &q.cb} {
		if *to, err = q.js.CreateOrUpdateStream(ctx, streams[i]); err != nil {
			return fmt.Errorf("queue: stream %s: %w", streams[i].Name, err)
		}
	}
	// Work left from before: every consumer, and every function with
	// messages but no consumer yet.
	keys := map[fnKey]bool{}
	names := q.invoke.ConsumerNames(ctx)
	for name := range names.Name() {
		if ns, fn, ok := strings.Cut(strings.TrimPrefix(name, "fn_"), "_"); ok {
			keys[fnKey{ns: ns, name: fn}] = true
		}
	}
	if err := names.Err(); err != nil {
		return fmt.Errorf("queue: list consumers: %w", err)
	}
	info, err := q.invoke.Info(ctx, jetstream.WithSubjectFilter(invokePrefix+">"))
	if err != nil {
		return fmt.Errorf("queue: stream info: %w", err)
	}
	for subj := range info.State.Subjects {
		if k, ok := keyOf(subj); ok {
			keys[k] = true
		}
	}
	for k := range keys {
		if _, err := q.worker(ctx, k); err != nil {
			return err
		}
	}
	q.mu.Lock()
	for _, l := range q.workers {
		l.publishing = 0 // worker counted a publish that setup does not make
	}
	q.mu.Unlock()
	q.sweep(ctx)
	q.watch.tick(ctx)
	q.loops.Add(2)
	go func() {
		defer q.loops.Done()
		q.sweeper()
	}()
	go func() {
		defer q.loops.Done()
		q.watch.run(q.fetchCtx)
	}()
	if info.State.Msgs > 0 {
		q.log.Info("resuming queued invocations", "messages", info.State.Msgs, "functions", len(keys))
	}
	return q.startCallbacks(ctx)
}

// Events is funcd's in-process connection to the events account, where
// outside NATS and MQTT clients publish: triggers subscribe and answer
// requests on it. It cannot reach the queue's streams.
func (q *Queue) Events() *nats.Conn { return q.srv.events }

// streamConfigs are the streams: FUNCD_INVOKE, FUNCD_DEAD, FUNCD_CALLBACK.
func (q *Queue) streamConfigs() []jetstream.StreamConfig {
	return []jetstream.StreamConfig{
		{Name: invokeStream, Subjects: []string{invokePrefix + "*.*"},
			Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage, Duplicates: dedupeWindow,
			MaxBytes: maxBytes(q.maxBytes), Discard: jetstream.DiscardNew},
		{Name: deadStream, Subjects: []string{deadPrefix + "*.*"},
			Retention: jetstream.LimitsPolicy, Storage: jetstream.FileStorage, Duplicates: dedupeWindow,
			MaxMsgs: 100_000, MaxAge: 30 * 24 * time.Hour, Discard: jetstream.DiscardOld},
		{Name: callbackStream, Subjects: []string{callbackSubject},
			Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage, Duplicates: dedupeWindow},
	}
}

// Health reports whether the queue can store new invocations.
func (q *Queue) Health() Health { return q.watch.status() }

// MaxBody is the request body cap.
func (q *Queue) MaxBody() int64 { return q.cfg.MaxBody }

// Enqueue stores j durably and returns once it is stored. It fills in
// CallID and Accepted when empty. A CallID seen within the last two
// minutes is accepted without being stored twice.
func (q *Queue) Enqueue(ctx context.Context, j Job) error {
	if j.CallID == "" {
		j.CallID = NewCallID()
	}
	if j.Accepted.IsZero() {
		j.Accepted = time.Now()
	}
	if j.Namespace == "" {
		j.Namespace = api.DefaultNamespace
	}
	if j.Method == "" {
		j.Method = http.MethodPost
	}
	if j.Callback != "" {
		if err := q.cfg.Callbacks.CheckURL(ctx, j.Callback); err != nil {
			return fmt.Errorf("%w: %w", ErrCallback, err)
		}
	}
	if int64(len(j.Body)) > q.cfg.MaxBody {
		return fmt.Errorf("%w: body of %d bytes, the limit is %d", ErrTooLarge, len(j.Body), q.cfg.MaxBody)
	}
	data, err := j.encode()
	if err != nil {
		return err
	}
	if len(data) > int(q.maxPayload) {
		return fmt.Errorf("%w: %d bytes with headers, the limit is %d", ErrTooLarge, len(data), q.maxPayload)
	}
	if err := q.watch.admit(int64(len(data))); err != nil {
		return err
	}
	// A stream that failed to write answers no publish at all: stop
	// waiting as soon as the watch hears of it.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(q.watch.current(), cancel)()
	if err := q.publish(ctx, fnKey{ns: j.Namespace, name: j.Function}, data, j.CallID); err != nil {
		switch {
		case errors.Is(err, ErrClosed):
			return err
		case full(err):
			return fmt.Errorf("%w: the invocations waiting take --queue-max-bytes (%d bytes)", ErrFull, q.maxBytes)
		}
		if herr := q.watch.recheck(); herr != nil {
			return herr
		}
		return fmt.Errorf("queue: store: %w", err)
	}
	q.metrics.enqueued(j)
	return nil
}

// Close stops taking work, lets running invocations finish until ctx
// ends (then aborts them: they run again after the next start), and shuts
// the server down.
func (q *Queue) Close(ctx context.Context) error {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.stopFetch()
	q.loops.Wait() // no loop starts an invocation after this
	done := make(chan struct{})
	go func() { q.running.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		q.log.Warn("aborting queued invocations still running; they will run again after the next start")
		q.abortWork()
		<-done
	}
	q.abortWork()
	q.callbackClient.CloseIdleConnections()
	q.srv.close()
	return nil
}

// maxBytes is a stream's MaxBytes for a cap: -1 for none.
func maxBytes(n int64) int64 {
	if n <= 0 {
		return -1
	}
	return n
}

// full reports whether a publish was refused because the stream reached
// its MaxBytes (JetStream's words: there is no error code of its own).
func full(err error) bool {
	return strings.Contains(err.Error(), "maximum bytes exceeded")
}
