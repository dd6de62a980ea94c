package queue

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/disktest"
)

// smallDisk mounts a tmpfs of size bytes on a new directory, unmounted at
// the end of the test. It needs root, so it skips without it (CI runs the
// unit tests as root).
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Fatalf("mount a tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// quick is how long an answer given "at once" may take on a slow machine:
// well under the 5 s a publish waits for a store that does not answer.
const quick = 3 * time.Second

// TestDiskFullRecovers fills the real disk under the queue: invocations
// are refused at once while it is full, the one running finishes, and
// once space is freed the queue works again without a restart, losing
// nothing it had accepted.
func TestDiskFullRecovers(t *testing.T) {
	dir := smallDisk(t, 32<<20)
	var log lockedBuffer
	defer func() {
		if t.Failed() {
			t.Logf("queue log:\n%s", log.String())
		}
	}()
	fns := &fakeFunctions{}
	fns.set("echo", map[string]string{api.LabelQueueMaxInflight: "1"}) // one runs, the others wait in the stream
	iv := &invoker{released: make(chan struct{})}
	q := newQueue(t, filepath.Join(dir, "queue"), iv, fns, func(c *Config) {
		c.SyncAlways = true
		c.Log = slog.New(slog.NewTextHandler(&log, nil))
	})
	defer closeQueue(t, q)
	before := []string{"before-1", "before-2", "before-3"}
	enqueueBodies(t, q, before...)

	eventually(t, "the first invocation to start", func() bool { return iv.count() == 1 })

	fill := disktest.Fill(t, dir)
	for i := range 3 {
		start := time.Now()
		err := q.Enqueue(t.Context(), Job{Function: "echo", Body: make([]byte, 100<<10)})
		if took := time.Since(start); !errors.Is(err, syscall.ENOSPC) || took > quick {
			t.Fatalf("Enqueue #%d on a full disk = %v after %v, want ENOSPC at once", i, err, took)
		}
	}
	close(iv.released) // the running invocation ends and is acknowledged on the full disk
	eventually(t, "the running invocation to end", func() bool { return iv.running.Load() == 0 })

	if err := os.Remove(fill); err != nil {
		t.Fatal(err)
	}
	var last error
	eventually(t, "Enqueue to work again", func() bool {
		last = q.Enqueue(t.Context(), Job{Function: "echo", CallID: "after", Body: []byte("after")})
		return last == nil
	})
	eventually(t, "every accepted invocation to run", delivered(iv, append(before, "after")))
}

// TestStoreWriteErrorRecovers lets JetStream itself run into the full
// disk (the queue is told there is room): the stream keeps the write
// error and answers no publish. The queue notices at once, refuses, and
// once space is freed reloads the store and works again, losing nothing.
func TestStoreWriteErrorRecovers(t *testing.T) {
	dir := smallDisk(t, 32<<20)
	var log lockedBuffer
	defer func() {
		if t.Failed() {
			t.Logf("queue log:\n%s", log.String())
		}
	}()
	fns := &fakeFunctions{}
	fns.set("echo", nil)
	iv := &invoker{released: make(chan struct{})}
	q := newQueue(t, filepath.Join(dir, "queue"), iv, fns, func(c *Config) {
		c.SyncAlways = true
		c.Log = slog.New(slog.NewTextHandler(&log, nil))
		c.freeSpace = func(string) (int64, error) { return 1 << 40, nil }
	})
	defer closeQueue(t, q)
	before := []string{"before-1", "before-2", "before-3"}
	enqueueBodies(t, q, before...)

	fill := disktest.Fill(t, dir)
	for i := range 3 {
		start := time.Now()
		err := q.Enqueue(t.Context(), Job{Function: "echo", Body: make([]byte, 100<<10)})
		if took := time.Since(start); !errors.Is(err, ErrUnavailable) || took > quick {
			t.Fatalf("Enqueue #%d with the store out of space = %v after %v, want ErrUnavailable at once", i, err, took)
		}
	}
	if h := q.Health(); !h.Degraded {
		t.Errorf("Health() after a write error = %+v, want degraded", h)
	}

	if err := os.Remove(fill); err != nil {
		t.Fatal(err)
	}
	var last error
	eventually(t, "Enqueue to work again", func() bool {
		last = q.Enqueue(t.Context(), Job{Function: "echo", CallID: "after", Body: []byte("after")})
		return last == nil
	})
	if h := q.Health(); h.Degraded {
		t.Errorf("Health() after recovery = %+v, want healthy", h)
	}
	close(iv.released)
	eventually(t, "every accepted invocation to run", delivered(iv, append(before, "after")))
}
