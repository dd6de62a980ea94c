package queue

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// fetchBatch caps how many messages one fetch takes.
const fetchBatch = 16

// loop is a pull consumer and the count of its messages being handled
// now: one per function with queued work, and one for callbacks.
type loop struct {
	name   string // for the log
	cons   jetstream.Consumer
	limit  func() int              // messages handled at once
	handle func(msg jetstream.Msg) // settles msg
	global bool                    // each message also takes a global worker slot
	ctx    context.Context         // ends the loop: the queue closing, or sweep
	cancel context.CancelFunc

	publishing int // Enqueues between worker() and their publish; guarded by Queue.mu

	mu       sync.Mutex
	inflight int
	changed  chan struct{} // closed and replaced when inflight drops
}

// publish stores data on k's subject, making sure k's consumer and loop
// exist first and are not swept away meanwhile.
func (q *Queue) publish(ctx context.Context, k fnKey, data []byte, msgID string) error {
	l, err := q.worker(ctx, k)
	if err != nil {
		return err
	}
	defer func() {
		q.mu.Lock()
		l.publishing--
		q.mu.Unlock()
	}()
	_, err = q.js.Publish(ctx, k.subject(), data, jetstream.WithMsgID(msgID))
	return err
}

// worker returns k's loop, creating its consumer and starting it the
// first time, and counts a publish in progress on it.
func (q *Queue) worker(ctx context.Context, k fnKey) (*loop, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if l := q.workers[k]; l != nil {
		l.publishing++
		return l, nil
	}
	if q.closed {
		return nil, ErrClosed
	}
	cons, err := q.invoke.CreateOrUpdateConsumer(ctx, q.consumerConfig(k))
	if err != nil {
		return nil, fmt.Errorf("queue: consumer for %s.%s: %w", k.name, k.ns, err)
	}
	l := &loop{
		name:   k.name + "." + k.ns,
		cons:   cons,
		limit:  func() int { return q.maxInflight(k) },
		handle: func(msg jetstream.Msg) { q.process(k, msg) },
		global: true,
	}
	q.workers[k] = l
	q.start(l)
	l.publishing++
	return l, nil
}

// consumerConfig is k's durable pull consumer.
func (q *Queue) consumerConfig(k fnKey) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       k.consumer(),
		FilterSubject: k.subject(),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       q.cfg.AckWait,
		MaxDeliver:    -1, // attempts are counted here, per the function's policy
		MaxAckPending: 100_000,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
}

// start runs l until the queue closes or l is swept.
func (q *Queue) start(l *loop) {
	l.changed = make(chan struct{})
	l.ctx, l.cancel = context.WithCancel(q.fetchCtx)
	q.loops.Add(1)
	go func() {
		defer q.loops.Done()
		q.run(l)
	}()
}

// run fetches l's messages while it is below its limit and hands each to
// a goroutine (once a global worker slot is free, when l takes them).
func (q *Queue) run(l *loop) {
	ctx := l.ctx
	for ctx.Err() == nil {
		free := l.waitFree(ctx, l.limit())
		if free == 0 {
			return
		}
		// Nothing new starts while the store cannot write, and a pull
		// made before the store is reloaded would never be answered.
		healthy, ok := q.watch.wait(ctx)
		if !ok {
			return
		}
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		stop := context.AfterFunc(healthy, cancel)
		batch, err := l.cons.Fetch(min(free, fetchBatch), jetstream.FetchContext(fctx))
		if err != nil {
			stop()
			cancel()
			if ctx.Err() == nil && healthy.Err() == nil {
				q.log.Warn("fetch from the queue", "loop", l.name, "err", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		for msg := range batch.Messages() {
			if l.global && !q.acquire(ctx, msg) {
				_ = msg.Nak() // unstarted: at once after the next start
				continue
			}
			l.add(1)
			q.running.Add(1)
			go func() {
				defer q.running.Done()
				if l.global {
					defer func() { <-q.global }()
				}
				defer l.add(-1)
				l.handle(msg)
			}()
		}
		stop()
		cancel()
		if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) &&
			!errors.Is(err, context.Canceled) && !errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil {
			q.log.Debug("fetch ended", "loop", l.name, "err", err)
		}
	}
}

// maxInflight is k's cap, or the global one.
func (q *Queue) maxInflight(k fnKey) int {
	if p, ok := q.policy(k); ok && p.MaxInflight > 0 {
		return min(p.MaxInflight, q.cfg.Workers)
	}
	return q.cfg.Workers
}

// policy is k's retry policy, and false when k does not exist.
func (q *Queue) policy(k fnKey) (Policy, bool) {
	labels, annotations, ok := q.cfg.Functions.Function(k.name, k.ns)
	if !ok {
		return q.cfg.Policy, false
	}
	p, err := q.cfg.Policy.For(labels, annotations)
	if err != nil {
		// Deploy validates these; a bad value can only predate that.
		q.log.Warn("ignoring bad queue settings", "function", k.name+"."+k.ns, "err", err)
	}
	return p, true
}

// acquire takes a global slot, keeping msg alive while it waits.
func (q *Queue) acquire(ctx context.Context, msg jetstream.Msg) bool {
	select {
	case q.global <- struct{}{}:
		return true
	default:
	}
	t := time.NewTicker(q.cfg.AckWait / 3)
	defer t.Stop()
	for {
		select {
		case q.global <- struct{}{}:
			return true
		case <-t.C:
			_ = msg.InProgress()
		case <-ctx.Done():
			return false
		}
	}
}

func (l *loop) add(n int) {
	l.mu.Lock()
	l.inflight += n
	if n < 0 {
		close(l.changed)
		l.changed = make(chan struct{})
	}
	l.mu.Unlock()
}

func (l *loop) running() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inflight
}

// waitFree blocks until fewer than limit invocations run and returns how
// many more may start; 0 when ctx ends.
func (l *loop) waitFree(ctx context.Context, limit int) int {
	for {
		l.mu.Lock()
		free, changed := limit-l.inflight, l.changed
		l.mu.Unlock()
		if free > 0 {
			return free
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return 0
		}
	}
}

// process makes one attempt at a queued invocation and settles the
// message: acknowledged once the outcome is stored, or handed back to
// the stream with a delay for another attempt.
func (q *Queue) process(k fnKey, msg jetstream.Msg) {
	fn := k.name + "." + k.ns
	md, err := msg.Metadata()
	if err != nil {
		q.log.Error("queued message without metadata", "function", fn, "err", err)
		_ = msg.Term()
		return
	}
	attempt := int(md.NumDelivered)
	job, err := decodeJob(msg.Data())
	if err != nil {
		// Only a stranger publishing on funcd.invoke can cause this.
		q.log.Error("dropping a queued message that is not a funcd job", "subject", msg.Subject(), "err", err)
		_ = msg.Term()
		return
	}
	pol, exists := q.policy(k)
	var res Result
	if exists {
		stop := heartbeat(msg, q.cfg.AckWait/3)
		ctx, cancel := context.WithTimeout(q.workCtx, q.cfg.Timeout)
		res = q.Invoke(ctx, job)
		cancel()
		stop()
		if q.workCtx.Err() != nil {
			_ = msg.Nak() // aborted by shutdown: first in line after the next start
			return
		}
	} else {
		res = Result{Status: http.StatusNotFound, Err: fmt.Errorf("function %s not found", fn)}
	}
	q.metrics.attempt(k, res.Status)

	retry := exists && pol.retryable(res)
	if retry && attempt < pol.Attempts {
		d := pol.delay(attempt, res)
		q.metrics.retry(k)
		q.log.Debug("queued invocation will be retried", "function", fn, "call_id", job.CallID,
			"attempt", attempt, "status", res.Status, "err", res.Err, "in", d)
		if err := msg.NakWithDelay(d); err != nil {
			q.log.Warn("hand back queued invocation", "function", fn, "call_id", job.CallID, "err", err)
		}
		return
	}
	if retry || !exists {
		if err := q.bury(msg, md, job, attempt, res); err != nil {
			q.log.Error("store dead letter; the invocation stays queued", "function", fn, "call_id", job.CallID, "err", err)
			_ = msg.NakWithDelay(pol.MaxWait)
			return
		}
	}
	if job.Callback != "" {
		if err := q.queueCallback(job, md.Sequence.Stream, res); err != nil {
			q.log.Error("store callback; the invocation stays queued", "function", fn, "call_id", job.CallID, "err", err)
			_ = msg.NakWithDelay(pol.MinWait)
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := msg.DoubleAck(ctx); err != nil {
		q.log.Warn("acknowledge queued invocation; it may run again", "function", fn, "call_id", job.CallID, "err", err)
	}
}

// bury stores job in the dead-letter stream with why it failed.
func (q *Queue) bury(msg jetstream.Msg, md *jetstream.MsgMetadata, job Job, attempt int, res Result) error {
	k := fnKey{ns: job.Namespace, name: job.Function}
	out := nats.NewMsg(deadPrefix + k.ns + "." + k.name)
	out.Data = msg.Data()
	out.Header.Set(hdrStatus, strconv.Itoa(res.Status))
	out.Header.Set(hdrAttempts, strconv.Itoa(attempt))
	out.Header.Set(hdrFailedAt, time.Now().UTC().Format(time.RFC3339Nano))
	if e := failureText(res); e != "" {
		out.Header.Set(hdrError, e)
	}
	// The invoke message's sequence makes the id unique per enqueue, so a
	// redriven invocation that fails again is buried again.
	out.Header.Set(jetstream.MsgIDHeader, job.CallID+".dead."+strconv.FormatUint(md.Sequence.Stream, 10))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := q.js.PublishMsg(ctx, out); err != nil {
		return err
	}
	q.metrics.buried(k)
	q.log.Warn("queued invocation failed for good; kept as a dead letter", "function", k.name+"."+k.ns,
		"call_id", job.CallID, "attempts", attempt, "status", res.Status, "err", out.Header.Get(hdrError))
	return nil
}

// Dead-letter headers.
const (
	hdrStatus   = "Funcd-Status"
	hdrAttempts = "Funcd-Attempts"
	hdrFailedAt = "Funcd-Failed-At"
	hdrError    = "Funcd-Error"
)

// failureText says why res failed: the error, else the start of the body.
func failureText(res Result) string {
	s := ""
	switch {
	case res.Err != nil:
		s = res.Err.Error()
	case len(res.Body) > 0:
		s = string(res.Body)
	}
	if len(s) > 512 {
		s = s[:512] + "…"
	}
	// A header value holds one line.
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}

// heartbeat tells the server every period that msg is still being
// worked on, until the returned func is called.
func heartbeat(msg jetstream.Msg, period time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = msg.InProgress()
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// sweepEvery is how often loops of deleted functions are looked for.
const sweepEvery = time.Minute

// sweeper runs sweep until the queue closes.
func (q *Queue) sweeper() {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			q.sweep(q.fetchCtx)
		case <-q.fetchCtx.Done():
			return
		}
	}
}

// sweep stops the loops of functions that no longer exist and have
// nothing queued, running, waiting for a retry or being published, and
// deletes their consumers: functions come and go, their loops must not
// pile up. It waits for a degraded queue to recover.
func (q *Queue) sweep(ctx context.Context) {
	if q.Health().Degraded {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for k, l := range q.workers {
		if _, _, ok := q.cfg.Functions.Function(k.name, k.ns); ok || l.publishing > 0 || l.running() > 0 {
			continue
		}
		info, err := l.cons.Info(ctx)
		if err != nil || info.NumPending > 0 || info.NumAckPending > 0 {
			continue
		}
		l.cancel()
		delete(q.workers, k)
		if err := q.invoke.DeleteConsumer(ctx, k.consumer()); err != nil {
			q.log.Warn("delete the consumer of a removed function", "function", k.name+"."+k.ns, "err", err)
		}
	}
}
