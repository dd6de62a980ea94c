package queue

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
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
