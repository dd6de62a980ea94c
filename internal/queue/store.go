package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// jetStreamMaxStore is JetStream's own limit on what it stores, set so
// high that it never applies. Left unset, JetStream takes three quarters
// of the disk's free space when it starts: a second limit, fixed at start,
// that refuses streams and accounts reserving more than it (a
// --queue-max-bytes above it stopped funcd from starting) and, once
// reached, every write, however much space was freed since. funcd bounds
// what it stores itself: the invoke stream's cap fitted to the disk
// (fitMaxBytes), and the watch on the disk's free space.
const jetStreamMaxStore = 1 << 50

// fitMaxBytes is Config.MaxBytes, lowered (with a warning) to what the
// disk can hold: what the invoke stream already stores plus three quarters
// of the free space, the rest staying for funcd's other state. A queue
// that cannot grow past the disk answers "full" (503) before the disk is.
func (q *Queue) fitMaxBytes(ctx context.Context) int64 {
	want := q.cfg.MaxBytes
	if want <= 0 {
		return want
	}
	avail, err := q.cfg.freeSpace(q.cfg.StoreDir)
	if err != nil {
		q.log.Warn("cannot tell the free space of the queue's disk; keeping --queue-max-bytes", "err", err)
		return want
	}
	var stored int64
	if s, err := q.js.Stream(ctx, invokeStream); err == nil {
		stored = int64(s.CachedInfo().State.Bytes)
	}
	fit := max(stored+avail/4*3, int64(q.maxPayload))
	if fit >= want {
		return want
	}
	q.log.Warn("the queue's disk has less free space than --queue-max-bytes; the queue is capped to fit",
		"store", q.cfg.StoreDir, "free", byteSize(avail), "queued", byteSize(stored),
		"queue_max_bytes", byteSize(want), "cap", byteSize(fit))
	return fit
}

// byteSize renders n bytes for a person.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// storeError is the store's own verdict for the watch: why it cannot
// write (JetStream is off, or a stream or consumer keeps a write error),
// or nil. JetStream's health check lists the streams on disk and looks
// each up in memory, so a stream being made at that moment (the MQTT
// bridge makes its streams at the first client's connect) reads as "could
// not be recovered": only what the check says twice, a moment apart,
// counts.
func (q *Queue) storeError() error {
	if !q.srv.ns.JetStreamEnabled() {
		return errStoreDisabled
	}
	first := q.healthErrors()
	if len(first) == 0 {
		return nil
	}
	time.Sleep(storeRecheck)
	var errs []string
	for _, e := range q.healthErrors() {
		if slices.Contains(first, e) {
			errs = append(errs, e)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "; "))
}

// storeRecheck is how long storeError waits before it asks again.
const storeRecheck = 200 * time.Millisecond

// healthErrors is what JetStream's health check says is wrong with its
// store now.
func (q *Queue) healthErrors() []string {
	h := q.srv.ns.Healthz(&server.HealthzOptions{Details: true})
	var errs []string
	for _, e := range h.Errors {
		switch e.Type {
		case server.HealthzErrorJetStream, server.HealthzErrorAccount, server.HealthzErrorStream, server.HealthzErrorConsumer:
			errs = append(errs, e.Error)
		}
	}
	return errs
}

// reload starts JetStream again from what is on disk. A stream that failed
// to write keeps the error, and answers no publish, until its store is
// reopened; JetStream never does that by itself. Stored messages and
// consumers come back from their files; the loops' pulls made before are
// cut short by the watch, so they pull again from the new consumers.
func (q *Queue) reload(ctx context.Context) error {
	if q.srv.ns.JetStreamEnabled() {
		if err := q.srv.ns.ShutdownJetStream(); err != nil {
			return fmt.Errorf("stop JetStream: %w", err)
		}
	}
	cfg := q.jsConfig // EnableJetStream changes what it is given
	if err := q.srv.ns.EnableJetStream(&cfg); err != nil {
		return fmt.Errorf("start JetStream: %w", err)
	}
	// Streams and consumers are recovered from disk; these put back any
	// the failed writes left incomplete.
	for _, s := range q.streamConfigs() {
		if _, err := q.js.CreateOrUpdateStream(ctx, s); err != nil {
			return fmt.Errorf("stream %s: %w", s.Name, err)
		}
	}
	q.mu.Lock()
	keys := make([]fnKey, 0, len(q.workers))
	for k := range q.workers {
		keys = append(keys, k)
	}
	q.mu.Unlock()
	for _, k := range keys {
		if _, err := q.js.CreateOrUpdateConsumer(ctx, invokeStream, q.consumerConfig(k)); err != nil {
			return fmt.Errorf("consumer %s: %w", k.consumer(), err)
		}
	}
	if _, err := q.js.CreateOrUpdateConsumer(ctx, callbackStream, q.callbackConsumer()); err != nil {
		return fmt.Errorf("callback consumer: %w", err)
	}
	return nil
}

// watchedLogger is the NATS server's logger that also tells the watch
// when a line says a store failed to write.
type watchedLogger struct {
	natsLogger
	w *watch
}

func (l watchedLogger) Errorf(format string, v ...any) {
	l.natsLogger.Errorf(format, v...)
	l.notice(format, v)
}

func (l watchedLogger) Warnf(format string, v ...any) {
	l.natsLogger.Warnf(format, v...)
	l.notice(format, v)
}

func (l watchedLogger) Fatalf(format string, v ...any) {
	l.natsLogger.Fatalf(format, v...)
	l.notice(format, v)
}

func (l watchedLogger) notice(format string, v []any) {
	if line := fmt.Sprintf(format, v...); writeFailure(line) {
		l.w.failed(errors.New(line))
	}
}
