package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestGroupCommit enqueues from many callers at once with fsync on: the
// committer stores them in shared batches, every accepted call runs once,
// a call id sent twice in one batch is stored once, and a cap reached
// mid-batch refuses only what does not fit.
func TestGroupCommit(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxBytes int64
	}{
		{"room for all", 0},
		{"cap mid-batch", 20 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fns := &fakeFunctions{}
			fns.set("f", nil)
			release := make(chan struct{})
			iv := &invoker{released: release}
			q := newQueue(t, t.TempDir(), iv, fns, func(c *Config) {
				c.SyncAlways = true
				c.MaxBytes = tc.maxBytes
				c.Workers = 1
			})
			defer closeQueue(t, q)
			const callers = 64
			body := make([]byte, 1<<10)
			errs := make([]error, callers)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					id := fmt.Sprintf("call-%d", i/2*2) // pairs share a call id
					errs[i] = q.Enqueue(context.Background(), Job{CallID: id, Function: "f", Body: body})
				}()
			}
			close(start)
			wg.Wait()
			accepted := map[string]bool{}
			refused := 0
			for i, err := range errs {
				switch {
				case err == nil:
					accepted[fmt.Sprintf("call-%d", i/2*2)] = true
				case errors.Is(err, ErrFull) && tc.maxBytes > 0:
					refused++
				default:
					t.Errorf("Enqueue %d = %v, want nil or ErrFull", i, err)
				}
			}
			if tc.maxBytes == 0 && len(accepted) != callers/2 {
				t.Errorf("%d call ids accepted, want %d", len(accepted), callers/2)
			}
			if tc.maxBytes > 0 && refused == 0 {
				t.Errorf("nothing refused over a cap of %d bytes", tc.maxBytes)
			}
			batches, msgs := q.commit.stats()
			if batches >= msgs {
				t.Errorf("%d messages in %d batches: nothing grouped", msgs, batches)
			}
			close(release)
			eventually(t, "every accepted call", func() bool { return iv.count() >= len(accepted) })
			iv.mu.Lock()
			defer iv.mu.Unlock()
			for id, n := range iv.perCall {
				if !accepted[id] || n != 1 {
					t.Errorf("call %s ran %d times (accepted %t), want once and only if accepted", id, n, accepted[id])
				}
			}
			if len(iv.perCall) != len(accepted) {
				t.Errorf("%d calls ran, %d accepted", len(iv.perCall), len(accepted))
			}
		})
	}
}

// TestGroupCommitAfterClose: an Enqueue after Close is refused, not lost
// in the committer.
func TestGroupCommitAfterClose(t *testing.T) {
	fns := &fakeFunctions{}
	fns.set("f", nil)
	q := newQueue(t, t.TempDir(), &invoker{}, fns, func(c *Config) { c.SyncAlways = true })
	closeQueue(t, q)
	if err := q.Enqueue(context.Background(), Job{Function: "f"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Enqueue after Close = %v, want ErrClosed", err)
	}
}

// TestGroupCommitUpgradesStream: a store written before group commit has
// an invoke stream without atomic publish; the next start turns it on, so
// batches are stored rather than refused.
func TestGroupCommitUpgradesStream(t *testing.T) {
	dir := t.TempDir()
	fns := &fakeFunctions{}
	fns.set("f", nil)
	q := newQueue(t, dir, &invoker{}, fns, nil)
	cfg := q.streamConfigs()[0]
	cfg.AllowAtomicPublish = false
	if _, err := q.js.UpdateStream(context.Background(), cfg); err != nil {
		t.Fatalf("UpdateStream = %v", err)
	}
	closeQueue(t, q)

	release := make(chan struct{})
	q = newQueue(t, dir, &invoker{released: release}, fns, func(c *Config) { c.SyncAlways = true; c.Workers = 1 })
	defer closeQueue(t, q)
	defer close(release) // before closeQueue waits for the running one
	info, err := q.invoke.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !info.Config.AllowAtomicPublish {
		t.Fatalf("invoke stream after restart: AllowAtomicPublish = false, want true")
	}
	var wg sync.WaitGroup
	errs := make([]error, 32)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = q.Enqueue(context.Background(), Job{Function: "f"})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Enqueue %d = %v", i, err)
		}
	}
}
