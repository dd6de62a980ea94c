package queue

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeStore plays the disk and the store for a watch.
type fakeStore struct {
	mu        sync.Mutex
	avail     int64 // bytes free
	verdict   error // what the store's health check says
	reloads   int
	reloadErr error // what reloading answers
}

func (f *fakeStore) free(string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.avail, nil
}

func (f *fakeStore) check() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.verdict
}

func (f *fakeStore) reload(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reloads++
	if f.reloadErr == nil {
		f.verdict = nil // a reopened store has no write error
	}
	return f.reloadErr
}

func (f *fakeStore) set(fn func(f *fakeStore)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeStore) reloadCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reloads
}

const testReserve = 1000

// newTestWatch returns a watch over a fake store, with a clock that moves
// only when the test moves it.
func newTestWatch(t *testing.T) (*watch, *fakeStore, *time.Time) {
	t.Helper()
	fs := &fakeStore{avail: 1 << 30}
	w := newWatch("/state/queue", testReserve, fs.free, fs.check, fs.reload, slog.New(slog.DiscardHandler))
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	w.now = func() time.Time { return now }
	return w, fs, &now
}

// waits reports whether wait returns within a moment: whether loops may
// take work.
func waits(w *watch) (context.Context, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	return w.wait(ctx)
}

func TestWatchDiskFull(t *testing.T) {
	w, fs, now := newTestWatch(t)
	epoch, ok := waits(w)
	if !ok {
		t.Fatal("a healthy queue makes loops wait")
	}
	if err := w.admit(100); err != nil {
		t.Fatalf("admit(100) with room = %v, want nil", err)
	}

	fs.set(func(f *fakeStore) { f.avail = testReserve - 1 })
	if err := w.admit(100); err != nil {
		t.Errorf("admit(100) right after the disk said it had plenty of room = %v, want nil (its answer is reused)", err)
	}
	*now = now.Add(spaceFresh)
	err := w.admit(100)
	if !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("admit(100) on a full disk = %v, want ErrUnavailable and ENOSPC", err)
	}
	h := w.status()
	if !h.Degraded || !strings.Contains(h.Reason, "full") || strings.Contains(h.Reason, "/state") {
		t.Errorf("status() on a full disk = %+v, want degraded by a full disk, naming no path", h)
	}
	if !strings.Contains(err.Error(), "/state/queue") {
		t.Errorf("admit(100) on a full disk = %v, want the error to name the store's directory", err)
	}
	if epoch.Err() == nil {
		t.Error("the healthy epoch did not end when the disk filled: loops would keep pulling")
	}
	if _, ok := waits(w); ok {
		t.Error("loops may take work while the disk is full")
	}
	w.tick(t.Context())
	if h := w.status(); !h.Degraded {
		t.Errorf("status() after a tick on a full disk = %+v, want degraded", h)
	}

	fs.set(func(f *fakeStore) { f.avail = testReserve })
	if err := w.admit(100); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("admit(100) before the watch looked again = %v, want the disk-full error", err)
	}
	w.tick(t.Context())
	if h := w.status(); h.Degraded {
		t.Errorf("status() once space is back = %+v, want healthy", h)
	}
	if err := w.admit(0); err != nil {
		t.Errorf("admit(0) once space is back = %v, want nil", err)
	}
	if epoch, ok := waits(w); !ok || epoch.Err() != nil {
		t.Error("loops still wait once space is back")
	}
	if n := fs.reloadCount(); n != 0 {
		t.Errorf("store reloaded %d times, want 0: no write failed", n)
	}

	// One invocation too large for what is left is refused; the queue
	// stays healthy for smaller ones.
	if err := w.admit(1); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("admit(1) with exactly the reserve free = %v, want ENOSPC", err)
	}
	if h := w.status(); h.Degraded {
		t.Errorf("status() after refusing one large invocation = %+v, want healthy", h)
	}
}

func TestWatchReloadsAfterWriteFailure(t *testing.T) {
	for _, tt := range []struct {
		name   string
		breaks func(w *watch, fs *fakeStore)
	}{
		{"the server's log says so", func(w *watch, _ *fakeStore) {
			w.failed(errors.New("Filestore [FUNCD_INVOKE] Critical write error: write 1.blk: no space left on device"))
		}},
		{"the store's health check says so", func(w *watch, fs *fakeStore) {
			fs.set(func(f *fakeStore) { f.verdict = errors.New("JetStream stream '$G > FUNCD_INVOKE' write error") })
			w.tick(context.Background())
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w, fs, now := newTestWatch(t)
			fs.set(func(f *fakeStore) { f.avail = 0 })
			tt.breaks(w, fs)
			w.tick(t.Context())
			if err := w.admit(1); !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("admit(1) on a full disk after a write failure = %v, want ENOSPC", err)
			}
			if n := fs.reloadCount(); n != 0 {
				t.Errorf("store reloaded %d times while the disk is full, want 0", n)
			}

			fs.set(func(f *fakeStore) { f.avail = 1 << 30; f.reloadErr = errors.New("storage directory is not writable") })
			w.tick(t.Context())
			err := w.admit(1)
			if !errors.Is(err, ErrUnavailable) || errors.Is(err, syscall.ENOSPC) {
				t.Errorf("admit(1) with space back but the store not reloaded = %v, want ErrUnavailable without ENOSPC", err)
			}
			if n := fs.reloadCount(); n != 1 {
				t.Fatalf("store reloaded %d times, want 1", n)
			}
			w.tick(t.Context())
			if n := fs.reloadCount(); n != 1 {
				t.Errorf("store reloaded %d times right after a failed reload, want 1 (back-off)", n)
			}

			fs.set(func(f *fakeStore) { f.reloadErr = nil })
			*now = now.Add(reloadFirst)
			w.tick(t.Context())
			if n := fs.reloadCount(); n != 2 {
				t.Errorf("store reloaded %d times after the back-off, want 2", n)
			}
			if h := w.status(); h.Degraded {
				t.Errorf("status() after a good reload = %+v, want healthy", h)
			}
			if err := w.admit(1); err != nil {
				t.Errorf("admit(1) after a good reload = %v, want nil", err)
			}
		})
	}
}

func TestWatchRecheck(t *testing.T) {
	w, fs, _ := newTestWatch(t)
	if err := w.recheck(); err != nil {
		t.Errorf("recheck() of a good store = %v, want nil", err)
	}
	fs.set(func(f *fakeStore) { f.verdict = errors.New("write error") })
	if err := w.recheck(); !errors.Is(err, ErrUnavailable) {
		t.Errorf("recheck() of a store with a write error = %v, want ErrUnavailable", err)
	}
	select {
	case <-w.kick:
	default:
		t.Error("recheck() of a broken store did not make the watch look at once")
	}
}

func TestWriteFailure(t *testing.T) {
	for _, tt := range []struct {
		line string
		want bool
	}{
		{"Filestore [FUNCD_INVOKE] Critical write error: write x: no space left on device", true},
		{"JetStream stream '$G > FUNCD_DEAD' critical write error: write x: no space left on device", true},
		{"JetStream out of File resources, will be DISABLED", true},
		{"Filesystem permission denied while writing msg, disabling JetStream: permission denied", true},
		{"JetStream failed to store a msg on stream '$G > FUNCD_INVOKE': maximum bytes exceeded", false},
		{"Slow consumer detected", false},
	} {
		if got := writeFailure(tt.line); got != tt.want {
			t.Errorf("writeFailure(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
}
