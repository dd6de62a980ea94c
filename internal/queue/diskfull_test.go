package queue

import (
	"bytes"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// lockedBuffer is a log destination safe for the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// delivered reports whether iv saw every body in want.
func delivered(iv *invoker, want []string) func() bool {
	return func() bool {
		iv.mu.Lock()
		defer iv.mu.Unlock()
		for _, w := range want {
			if !slices.Contains(iv.bodies, w) {
				return false
			}
		}
		return true
	}
}

// enqueueBodies queues one invocation of echo per body.
func enqueueBodies(t *testing.T, q *Queue, bodies ...string) {
	t.Helper()
	for _, b := range bodies {
		if err := q.Enqueue(t.Context(), Job{Function: "echo", Body: []byte(b)}); err != nil {
			t.Fatalf("Enqueue(%q) = %v", b, err)
		}
	}
}

func TestFullDiskRefusesAtOnceAndRecovers(t *testing.T) {
	var avail atomic.Int64
	const room = 64 << 20 // a small disk: asked before every Enqueue
	avail.Store(room)
	fns := &fakeFunctions{}
	fns.set("echo", nil)
	iv := &invoker{released: make(chan struct{})}
	reg := prometheus.NewRegistry()
	q := newQueue(t, t.TempDir(), iv, fns, func(c *Config) {
		c.freeSpace = func(string) (int64, error) { return avail.Load(), nil }
		c.Registerer = reg
	})
	defer closeQueue(t, q)
	before := []string{"before-1", "before-2", "before-3"}
	enqueueBodies(t, q, before...)

	avail.Store(0)
	err := q.Enqueue(t.Context(), Job{Function: "echo", Body: []byte("during")})
	if !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Enqueue on a full disk = %v, want ErrUnavailable and ENOSPC", err)
	}
	if h := q.Health(); !h.Degraded || !strings.Contains(h.Reason, "full") {
		t.Errorf("Health() on a full disk = %+v, want degraded by a full disk", h)
	}
	if v := counterValue(t, reg, "funcd_queue_degraded"); v != 1 {
		t.Errorf("funcd_queue_degraded on a full disk = %v, want 1", v)
	}

	avail.Store(room)
	eventually(t, "the queue to recover", func() bool { return !q.Health().Degraded })
	if v := counterValue(t, reg, "funcd_queue_degraded"); v != 0 {
		t.Errorf("funcd_queue_degraded once space is back = %v, want 0", v)
	}
	enqueueBodies(t, q, "after")
	close(iv.released)
	eventually(t, "every accepted invocation to run", delivered(iv, append(before, "after")))
}

// TestRecoversWhenJetStreamStops: JetStream turns itself off on some
// write errors (permissions; out of space when clustered) and never back
// on. The queue starts it again, keeping what was queued.
func TestRecoversWhenJetStreamStops(t *testing.T) {
	fns := &fakeFunctions{}
	fns.set("echo", nil)
	iv := &invoker{released: make(chan struct{})}
	q := newQueue(t, t.TempDir(), iv, fns, nil)
	defer closeQueue(t, q)
	before := []string{"before-1", "before-2", "before-3"}
	enqueueBodies(t, q, before...)

	if err := q.srv.ns.ShutdownJetStream(); err != nil {
		t.Fatal(err)
	}
	var last error
	eventually(t, "Enqueue to work again", func() bool {
		last = q.Enqueue(t.Context(), Job{Function: "echo", CallID: "after", Body: []byte("after")})
		return last == nil
	})
	close(iv.released)
	eventually(t, "every accepted invocation to run", delivered(iv, append(before, "after")))
}

func TestStartCapsMaxBytesToTheDisk(t *testing.T) {
	dir := t.TempDir()
	var log lockedBuffer
	fns := &fakeFunctions{}
	q := newQueue(t, dir, &invoker{}, fns, func(c *Config) {
		c.MaxBytes = 1 << 60 // more than any disk
		c.Log = slog.New(slog.NewTextHandler(&log, nil))
	})
	defer closeQueue(t, q)
	info, err := q.invoke.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	total := int64(st.Blocks) * int64(st.Bsize)
	if got := info.Config.MaxBytes; got <= 0 || got > total {
		t.Errorf("FUNCD_INVOKE MaxBytes = %d, want a cap within the disk's %d bytes", got, total)
	}
	if !strings.Contains(log.String(), "less free space than --queue-max-bytes") {
		t.Errorf("log = %q, want a warning about the cap", log.String())
	}
	if err := q.Enqueue(t.Context(), Job{Function: "nobody", Body: []byte("x")}); err != nil {
		t.Errorf("Enqueue under the cap = %v", err)
	}
}

func TestByteSize(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1536, "1.5 KiB"}, {6 << 20, "6.0 MiB"}, {3 << 30, "3.0 GiB"}} {
		if got := byteSize(tt.n); got != tt.want {
			t.Errorf("byteSize(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
