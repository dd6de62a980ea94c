package logs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fixedClock returns a clock starting at t and advancing by a millisecond
// per call.
func fixedClock(t time.Time) func() time.Time {
	return func() time.Time {
		t = t.Add(time.Millisecond)
		return t
	}
}

func newTestWriter(t *testing.T, path string, max int64) *Writer {
	t.Helper()
	w, err := NewWriter(path, max)
	if err != nil {
		t.Fatalf("NewWriter = %v", err)
	}
	w.now = fixedClock(time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC))
	t.Cleanup(func() { w.Close() })
	return w
}

func TestWriterFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.log")
	w := newTestWriter(t, path, 0)
	if err := w.Copy(Stdout, strings.NewReader("hello\r\nworld\n\npartial")); err != nil {
		t.Fatalf("Copy = %v", err)
	}
	if err := w.WriteLine(Stderr, []byte("oops")); err != nil {
		t.Fatalf("WriteLine = %v", err)
	}
	got, _ := os.ReadFile(path)
	want := "2026-11-26T03:00:00.001Z stdout hello\n" +
		"2026-11-26T03:00:00.002Z stdout world\n" +
		"2026-11-26T03:00:00.003Z stdout \n" +
		"2026-11-26T03:00:00.004Z stdout partial\n" +
		"2026-11-26T03:00:00.005Z stderr oops\n"
	if string(got) != want {
		t.Errorf("file =\n%s\nwant\n%s", got, want)
	}
}

func TestWriterSplitsLongLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.log")
	w := newTestWriter(t, path, 0)
	long := strings.Repeat("x", MaxLineBytes+10)
	if err := w.Copy(Stdout, strings.NewReader(long+"\n")); err != nil {
		t.Fatalf("Copy = %v", err)
	}
	var lines []Line
	if err := Read(t.Context(), filepath.Dir(path), Query{}, func(l Line) error { lines = append(lines, l); return nil }); err != nil {
		t.Fatalf("Read = %v", err)
	}
	if len(lines) != 2 || len(lines[0].Text) != MaxLineBytes || len(lines[1].Text) != 10 {
		t.Errorf("got %d lines, want 2 of %d and 10 bytes", len(lines), MaxLineBytes)
	}
}

func TestWriterRotates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.log")
	const max = 200
	w := newTestWriter(t, path, max)
	for i := range 50 {
		if err := w.WriteLine(Stdout, []byte(strings.Repeat("a", i%20))); err != nil {
			t.Fatalf("WriteLine = %v", err)
		}
		for _, p := range []string{path, path + ".1"} {
			if fi, err := os.Stat(p); err == nil && fi.Size() > max {
				t.Fatalf("after %d lines %s is %d bytes, want <= %d", i+1, p, fi.Size(), max)
			}
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("files = %v, want r.log and r.log.1", entries)
	}
	// Reopening appends to the current file and keeps counting its size.
	w.Close()
	w2 := newTestWriter(t, path, max)
	before, _ := os.Stat(path)
	if w2.size != before.Size() {
		t.Errorf("reopened size = %d, want %d", w2.size, before.Size())
	}
}

func TestLastText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"2026-11-26T03:00:00Z stderr first\n2026-11-26T03:00:01Z stderr boom: no such file\n", "boom: no such file"},
		{"plain text\n", "plain text"},
	}
	for _, tt := range tests {
		if got := LastText([]byte(tt.in)); got != tt.want {
			t.Errorf("LastText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
