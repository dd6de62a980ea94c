package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Health says whether the queue can store new invocations. While it is
// degraded, Enqueue refuses at once with an error wrapping ErrUnavailable
// (and syscall.ENOSPC when the disk is full), and no queued invocation
// starts; what is stored stays stored. It recovers by itself.
type Health struct {
	Degraded bool
	Since    time.Time // when it became degraded
	Reason   string    // for an operator, without paths: /readyz shows it to anyone
}

// Timings of the watch.
const (
	healthEvery = time.Second // how often the disk and the store are looked at
	reloadFirst = time.Second // wait before a second reload of the store, doubling
	reloadMax   = time.Minute // longest wait between reloads
)

// Asking the disk for its free space is a system call (a few µs, a tenth
// of an Enqueue without fsync). While the disk has far more room than the
// reserve, admit reuses the last answer for a moment; a disk filled faster
// than that is caught by the store's write error instead.
const (
	spaceFresh = 100 * time.Millisecond
	spaceSlack = 256 << 20
)

// watch keeps the queue's health. It degrades the queue when the disk
// holding the store has less than reserve bytes free, or when the store
// failed to write; it recovers it when there is room again, reloading the
// store first if a write failed (JetStream keeps a stream's write error,
// answering no later write to it, until the stream is reopened).
//
// Everything it acts on is injected, so its states are tested with fakes.
type watch struct {
	dir     string                          // the store's directory
	reserve int64                           // bytes that must stay free on its disk
	free    func(dir string) (int64, error) // bytes free on dir's disk
	check   func() error                    // the store's own verdict: why it cannot write, or nil
	reload  func(ctx context.Context) error // reopens the store from disk
	log     *slog.Logger
	now     func() time.Time

	kick chan struct{} // look again now

	mu       sync.Mutex
	err      error     // why the queue is degraded (wraps ErrUnavailable); nil while healthy
	reason   string    // err for an operator
	since    time.Time // when it degraded
	broken   error     // a store write failed: reload before trusting it again
	epoch    context.Context
	endEpoch context.CancelFunc // cancels epoch when the queue degrades
	up       chan struct{}      // closed while healthy
	nextLoad time.Time          // no reload before this
	backoff  time.Duration      // wait after the next reload
	loadedAt time.Time          // last reload
	avail    int64              // the disk's last answer
	availAt  time.Time          // when it was given
}

func newWatch(dir string, reserve int64, free func(string) (int64, error), check func() error,
	reload func(context.Context) error, log *slog.Logger) *watch {
	w := &watch{dir: dir, reserve: reserve, free: free, check: check, reload: reload, log: log,
		now: time.Now, kick: make(chan struct{}, 1), up: make(chan struct{})}
	close(w.up)
	w.epoch, w.endEpoch = context.WithCancel(context.Background())
	return w
}

// run looks at the disk and the store every healthEvery, and at once when
// kicked, until ctx ends.
func (w *watch) run(ctx context.Context) {
	t := time.NewTicker(healthEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-w.kick:
		case <-ctx.Done():
			return
		}
		w.tick(ctx)
	}
}

// tick makes one decision: degraded for lack of space, degraded until the
// store is reloaded (reloading it when due), or healthy.
func (w *watch) tick(ctx context.Context) {
	avail, err := w.space()
	if err != nil {
		w.log.Warn("cannot tell the free space of the queue's disk", "err", err)
		avail = math.MaxInt64 // go by the store's own verdict
	}
	if err := w.check(); err != nil {
		w.markBroken(err)
	}
	w.mu.Lock()
	broken, due := w.broken, !w.now().Before(w.nextLoad)
	if broken == nil && w.err == nil && w.now().Sub(w.loadedAt) > reloadMax {
		w.backoff = 0 // healthy long enough: a new failure gets a quick reload again
	}
	w.mu.Unlock()
	switch {
	case avail < w.reserve:
		w.degrade(w.noSpace(avail, w.reserve))
	case broken != nil:
		w.degrade(storeFailed(broken)) // no longer for lack of space
		if due {
			w.reloadStore(ctx, broken)
		}
	default:
		w.recover()
	}
}

// reloadStore reopens the store, which failed to write for cause, and
// recovers the queue if that cures it; reloads are spaced out, doubling.
func (w *watch) reloadStore(ctx context.Context, cause error) {
	w.log.Info("reloading the queue's store from disk", "cause", cause)
	err := w.reload(ctx)
	if err == nil {
		err = w.check()
	}
	w.mu.Lock()
	w.loadedAt = w.now()
	w.backoff = min(max(2*w.backoff, reloadFirst), reloadMax)
	w.nextLoad = w.loadedAt.Add(w.backoff)
	if err == nil {
		w.broken = nil
	}
	w.mu.Unlock()
	if err != nil {
		w.log.Warn("reload the queue's store; trying again later", "err", err, "in", w.backoff)
		return
	}
	w.recover()
}

// admit is asked before an invocation of size bytes is stored. It returns
// the reason the queue is degraded, or an error wrapping syscall.ENOSPC
// when the disk cannot take size more bytes; nil when it may be stored.
func (w *watch) admit(size int64) error {
	w.mu.Lock()
	err := w.err
	avail, fresh := w.avail, w.now().Sub(w.availAt) < spaceFresh
	w.mu.Unlock()
	if err != nil {
		return err
	}
	var ferr error
	if !fresh || avail < w.reserve+spaceSlack+size {
		avail, ferr = w.space()
	}
	switch {
	case ferr != nil:
		return nil // the store will say
	case avail < w.reserve:
		reason, err := w.noSpace(avail, w.reserve)
		w.degrade(reason, err)
		return err
	case avail < w.reserve+size:
		_, err := w.noSpace(avail, w.reserve+size) // this one does not fit; smaller ones may
		return err
	}
	return nil
}

// space asks the disk for its free space, and remembers the answer.
func (w *watch) space() (int64, error) {
	avail, err := w.free(w.dir)
	if err == nil {
		w.mu.Lock()
		w.avail, w.availAt = avail, w.now()
		w.mu.Unlock()
	}
	return avail, err
}

// failed records that the store could not write and has run look at it
// at once. It must not call into the NATS server: it runs in its logger.
func (w *watch) failed(cause error) {
	w.markBroken(cause)
	w.look()
}

// markBroken records that the store could not write (JetStream's log
// said so, or its health check): the queue is degraded until the store is
// reloaded. A full disk stays the reason given while it lasts.
func (w *watch) markBroken(cause error) {
	w.mu.Lock()
	if w.broken == nil {
		w.broken = cause
	}
	diskFull := errors.Is(w.err, syscall.ENOSPC)
	w.mu.Unlock()
	if !diskFull {
		w.degrade(storeFailed(cause))
	}
}

// storeFailed is the reason, and the error, for a store that failed to
// write for cause.
func storeFailed(cause error) (string, error) {
	return "its store failed to write; it is reloaded from disk once it can (details in the funcd log)",
		fmt.Errorf("%w: its store failed to write: %w", ErrUnavailable, cause)
}

// recheck asks the store for its verdict after a failed write, and
// returns why the queue is degraded, or nil.
func (w *watch) recheck() error {
	if err := w.check(); err != nil {
		w.failed(err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// look makes run tick at once.
func (w *watch) look() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// wait blocks until the queue is healthy and returns a context that ends
// when it next degrades; false when ctx ends first.
func (w *watch) wait(ctx context.Context) (context.Context, bool) {
	for ctx.Err() == nil {
		w.mu.Lock()
		up, epoch := w.up, w.epoch
		w.mu.Unlock()
		select {
		case <-up:
			if epoch.Err() == nil {
				return epoch, true
			}
		case <-ctx.Done():
		}
	}
	return nil, false
}

// current returns the epoch now: a context that ends when the queue
// degrades, already ended while it is degraded.
func (w *watch) current() context.Context {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.epoch
}

// status reports the queue's health.
func (w *watch) status() Health {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		return Health{}
	}
	return Health{Degraded: true, Since: w.since, Reason: w.reason}
}

// degrade records err (wrapping ErrUnavailable) as why the queue cannot
// take work, and reason as what Health says; on the way down it ends the
// current epoch and logs err.
func (w *watch) degrade(reason string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	was := w.err
	w.err, w.reason = err, reason
	if was != nil {
		return
	}
	w.since = w.now()
	w.endEpoch()
	w.up = make(chan struct{})
	w.log.Warn("queue degraded: new invocations are refused and queued ones wait until it recovers", "err", err)
}

// recover makes the queue healthy, starting a new epoch.
func (w *watch) recover() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		return
	}
	w.log.Info("queue recovered", "degraded_for", w.now().Sub(w.since).Round(time.Millisecond), "was", w.reason)
	w.err, w.reason = nil, ""
	w.epoch, w.endEpoch = context.WithCancel(context.Background())
	close(w.up)
}

// noSpace is the reason, and the error, for a disk with avail bytes free
// when need are. The reason names no path (/readyz is open to anyone);
// the error, for the log and the admin API, names the directory.
func (w *watch) noSpace(avail, need int64) (string, error) {
	sizes := fmt.Sprintf("(%s free, %s needed)", byteSize(avail), byteSize(need))
	return "the disk holding its store is full " + sizes,
		fmt.Errorf("%w: the disk holding %s is full %s: %w", ErrUnavailable, w.dir, sizes, syscall.ENOSPC)
}

// writeFailure reports whether a line of the NATS server's log says a
// store failed to write or JetStream turned itself off: the server has
// no other signal for it. A missed line costs one publish that times out,
// after which the health check sees the stream's write error.
func writeFailure(line string) bool {
	l := strings.ToLower(line)
	return strings.Contains(l, "critical write error") || strings.Contains(l, "will be disabled") ||
		strings.Contains(l, "disabling jetstream")
}

// errStoreDisabled is check's verdict while JetStream is off.
var errStoreDisabled = errors.New("JetStream is disabled")
