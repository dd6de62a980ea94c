package provider

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// endpoints is one function's set of ready replicas: the table the proxy
// reads on every invocation. Readers load an immutable slice through an
// atomic pointer, so the hot path takes no lock and makes no containerd
// call. Writers replace the slice and wake anyone waiting for a change.
type endpoints struct {
	ready atomic.Pointer[[]*replica]
	next  atomic.Uint32 // rotates the starting point among equally loaded replicas

	requests atomic.Uint64 // requests handed a replica, for the scaler's rate
	used     atomic.Int64  // unix nanoseconds of the last request, for idling

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change
	gone    bool          // the function was removed
}

func newEndpoints() *endpoints {
	e := &endpoints{changed: make(chan struct{})}
	e.ready.Store(&[]*replica{})
	e.used.Store(time.Now().UnixNano())
	return e
}

// set publishes the ready replicas.
func (e *endpoints) set(rs []*replica) {
	cp := append([]*replica(nil), rs...)
	e.ready.Store(&cp)
	e.mu.Lock()
	close(e.changed)
	e.changed = make(chan struct{})
	e.mu.Unlock()
}

// close empties the set for good: waiters give up with errGone.
func (e *endpoints) close() {
	e.ready.Store(&[]*replica{})
	e.mu.Lock()
	e.gone = true
	close(e.changed)
	e.changed = make(chan struct{})
	e.mu.Unlock()
}

func (e *endpoints) count() int { return len(*e.ready.Load()) }

// pick returns the ready replica with the fewest requests in flight and
// counts one more on it, or nil when none is ready.
func (e *endpoints) pick() *replica {
	rs := *e.ready.Load()
	n := len(rs)
	if n == 0 {
		return nil
	}
	start := int(e.next.Add(1) % uint32(n)) // int(a uint32) is negative past 2^31 on 32-bit
	best := rs[start]
	bestLoad := best.inflight.Load()
	for i := 1; i < n && bestLoad > 0; i++ {
		r := rs[(start+i)%n]
		if l := r.inflight.Load(); l < bestLoad {
			best, bestLoad = r, l
		}
	}
	best.inflight.Add(1)
	if best.frozen.Load() {
		// Frozen after this slice was read (see freeze.go): not for this
		// request, which waits for the thaw.
		best.inflight.Add(-1)
		return nil
	}
	e.requests.Add(1)
	e.used.Store(time.Now().UnixNano())
	return best
}

// lastUsed is when a request last got a replica (or the set was made).
func (e *endpoints) lastUsed() time.Time { return time.Unix(0, e.used.Load()) }

// wait picks a ready replica, waiting for one to become ready until ctx
// ends. It calls none each time it finds none ready.
func (e *endpoints) wait(ctx context.Context, none func()) (*replica, error) {
	for {
		e.mu.Lock()
		ch, gone := e.changed, e.gone
		e.mu.Unlock()
		if gone {
			return nil, ErrNotFound
		}
		if r := e.pick(); r != nil {
			return r, nil
		}
		none()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
