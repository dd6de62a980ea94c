package logs

import (
	"os"
	"path/filepath"
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

// waitGone polls until path no longer exists.
func waitGone(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Lstat(path); os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still exists, want it removed", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

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
	waitGone(t, p.Stdout)
	if _, err := os.Stat(p.Stderr); !os.IsNotExist(err) {
		t.Errorf("stat %s = %v, want it removed once the task's output ended", p.Stderr, err)
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

// The FIFOs of a task that is gone (no shim holds them) are removed.
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
	waitGone(t, logPath+stdoutFIFO)
}

func TestCollectorAbortRemovesPipes(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "r1.log")
	c := NewCollector(0, nil)
	defer c.Close()
	p, err := c.Attach(logPath)
	if err != nil {
		t.Fatal(err)
	}
	p.Abort()
	for _, f := range []string{p.Stdout, p.Stderr} {
		waitGone(t, f)
	}
}
