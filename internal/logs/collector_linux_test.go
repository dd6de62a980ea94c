package logs

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// shim opens a FIFO the way containerd's runc shim does: the write end,
// then a read end of its own that it never reads.
type shim struct{ w, r *os.File }

func openShim(t *testing.T, path string) shim {
	t.Helper()
	w, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	return shim{w, r}
}

func (s shim) close() { _ = s.w.Close(); _ = s.r.Close() }

// waitFile polls until ok accepts what reading path gives.
func waitFile(t *testing.T, path string, ok func(data string, err error) bool) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if ok(string(b), err) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %q, %v: not what was waited for", path, b, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCollectorRecordsAndCleansUp(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "ns", "fn", "r1.log")
	c := NewCollector(0, nil)
	defer c.Close()
	p, err := c.Attach(logPath)
	if err != nil {
		t.Fatal(err)
	}
	out, errp := openShim(t, p.Stdout), openShim(t, p.Stderr)
	p.Started()
	if _, err := out.w.WriteString("hello\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := errp.w.WriteString("oops\n"); err != nil {
		t.Fatal(err)
	}
	waitFile(t, logPath, func(d string, _ error) bool {
		return strings.Contains(d, " stdout hello\n") && strings.Contains(d, " stderr oops\n")
	})
	out.close()
	errp.close()
	waitIdle(t, c)

	// The replica's next task reuses the FIFOs; Remove takes them.
	p2, err := c.Attach(logPath)
	if err != nil || p2.Stdout != p.Stdout {
		t.Fatalf("Attach again = %+v, %v; want the same FIFOs", p2, err)
	}
	p2.Abort()
	if err := Remove(logPath); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{logPath, p.Stdout, p.Stderr} {
		if _, err := os.Lstat(f); !os.IsNotExist(err) {
			t.Errorf("after Remove, stat %s = %v, want it gone", f, err)
		}
	}
}

// waitIdle polls until c captures nothing.
func waitIdle(t *testing.T, c *Collector) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.Capturing() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("collector still captures %d tasks, want none", c.Capturing())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Output written while no collector runs waits in the pipe and is stored
// by the next collector's Adopt.
func TestCollectorAdoptReadsOn(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "ns", "fn", "r1.log")
	c := NewCollector(0, nil)
	p, err := c.Attach(logPath)
	if err != nil {
		t.Fatal(err)
	}
	out, errp := openShim(t, p.Stdout), openShim(t, p.Stderr)
	defer out.close()
	defer errp.close()
	p.Started()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := out.w.WriteString("while away\n"); err != nil {
		t.Fatalf("write with no collector: %v", err)
	}
	c2 := NewCollector(0, nil)
	defer c2.Close()
	if err := c2.Adopt(dir); err != nil {
		t.Fatal(err)
	}
	waitFile(t, logPath, func(d string, _ error) bool { return strings.Contains(d, " stdout while away\n") })
}

// The capture of FIFOs no task holds any more ends at once.
func TestCollectorAdoptDropsDeadPipes(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "ns", "fn", "r1.log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{stdoutFIFO, stderrFIFO} {
		if err := syscall.Mkfifo(logPath+s, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c := NewCollector(0, nil)
	defer c.Close()
	if err := c.Adopt(dir); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, c)
}

func TestCollectorAbort(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "r1.log")
	c := NewCollector(0, nil)
	defer c.Close()
	p, err := c.Attach(logPath)
	if err != nil {
		t.Fatal(err)
	}
	p.Abort()
	if n := c.Capturing(); n != 0 {
		t.Errorf("after Abort the collector captures %d tasks, want none", n)
	}
}

// BenchmarkAttach is the collector's share of a cold start: make and open
// the FIFOs, start reading, and end once the "task" is gone.
func BenchmarkAttach(b *testing.B) {
	dir := b.TempDir()
	c := NewCollector(0, nil)
	defer c.Close()
	for i := range b.N {
		p, err := c.Attach(filepath.Join(dir, strconv.Itoa(i)+".log"))
		if err != nil {
			b.Fatal(err)
		}
		p.Abort()
	}
}
