package logs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
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

// disk is a fake disk that can fill up: while full, a write stores only
// room bytes (a short write, as the kernel makes) and fails with ENOSPC.
type disk struct {
	mu   sync.Mutex
	full bool
	room int
}

func (d *disk) set(full bool, room int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.full, d.room = full, room
}

// diskFile is a log file on d.
type diskFile struct {
	*os.File
	d *disk
}

func (f diskFile) Write(p []byte) (int, error) {
	f.d.mu.Lock()
	full, room := f.d.full, f.d.room
	f.d.mu.Unlock()
	if !full {
		return f.File.Write(p)
	}
	n, _ := f.File.Write(p[:min(room, len(p))])
	return n, &fs.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
}

// onDisk makes w write its file on d.
func onDisk(t *testing.T, w *Writer, d *disk) {
	t.Helper()
	w.open = func(path string) (file, error) {
		f, err := openFile(path)
		if err != nil {
			return nil, err
		}
		return diskFile{f.(*os.File), d}, nil
	}
	w.f.Close()
	w.f = nil
	if err := w.openLocked(); err != nil {
		t.Fatal(err)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.SplitAfter(string(data), "\n") {
		if l == "" {
			continue
		}
		if !strings.HasSuffix(l, "\n") {
			t.Errorf("file ends in a part line %q", l)
		}
		_, text, _ := strings.Cut(strings.TrimSuffix(l, "\n"), " ")
		out = append(out, text)
	}
	return out
}

func TestWriterRecoversAfterFullDisk(t *testing.T) {
	for _, tt := range []struct {
		name    string
		maxSize int64
	}{{"no cap", 0}, {"rotating before the last line", 170}} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r.log")
			w := newTestWriter(t, path, tt.maxSize)
			d := &disk{}
			onDisk(t, w, d)
			if err := w.WriteLine(Stdout, []byte("one")); err != nil {
				t.Fatalf("WriteLine(one) = %v", err)
			}
			d.set(true, 7) // part of the next line fits
			for _, text := range []string{"two", "three"} {
				if err := w.WriteLine(Stdout, []byte(text)); !errors.Is(err, syscall.ENOSPC) {
					t.Errorf("WriteLine(%s) on a full disk = %v, want ENOSPC", text, err)
				}
			}
			// Copy keeps reading (a function blocked on a full pipe would
			// hang) and drops what it cannot store.
			if err := w.Copy(Stderr, strings.NewReader("four\nfive\n")); err != nil {
				t.Errorf("Copy on a full disk = %v, want nil", err)
			}
			if got := readLines(t, path); !slices.Equal(got, []string{"stdout one"}) {
				t.Errorf("file on a full disk = %q, want only the line before", got)
			}

			d.set(false, 0)
			if err := w.Copy(Stdout, strings.NewReader("six\n")); err != nil {
				t.Fatalf("Copy once space is back = %v", err)
			}
			if err := w.WriteLine(Stdout, []byte("seven")); err != nil {
				t.Fatalf("WriteLine(seven) once space is back = %v", err)
			}
			got := readLines(t, path)
			if tt.maxSize > 0 {
				got = append(readLines(t, path+".1"), got...)
			}
			want := []string{"stdout one", "stderr " + fmt.Sprintf(LostNote, 4, syscall.ENOSPC), "stdout six", "stdout seven"}
			if !slices.Equal(got, want) {
				t.Errorf("file once space is back =\n%q\nwant\n%q", got, want)
			}
		})
	}
}

// TestCopyKeepsReadingOnAFullDisk writes to /dev/full, where every write
// fails with ENOSPC: the driver must still read all of the function's
// output.
func TestCopyKeepsReadingOnAFullDisk(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full here")
	}
	w, err := NewWriter("/dev/full", 0)
	if err != nil {
		t.Fatalf("NewWriter(/dev/full) = %v", err)
	}
	defer w.Close()
	r := strings.NewReader("a\nb\nc\n")
	if err := w.Copy(Stdout, r); err != nil {
		t.Errorf("Copy to a full disk = %v, want nil: it must keep reading", err)
	}
	if r.Len() != 0 {
		t.Errorf("Copy left %d bytes unread", r.Len())
	}
}

// TestWriterReopens: a rotation whose new file cannot be created leaves
// the writer without a file; it tries again, spaced out, and keeps the
// lines once it can.
func TestWriterReopens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.log")
	w := newTestWriter(t, path, 100)
	now := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	w.now = func() time.Time { return now }
	var opens int
	refuse := true
	w.open = func(p string) (file, error) {
		opens++
		if refuse {
			return nil, &fs.PathError{Op: "open", Path: p, Err: syscall.ENOSPC}
		}
		return openFile(p)
	}
	line := []byte(strings.Repeat("a", 60))
	if err := w.WriteLine(Stdout, line); err != nil {
		t.Fatalf("WriteLine = %v", err)
	}
	for i := range 3 { // the first rotates and cannot open the new file
		if err := w.WriteLine(Stdout, line); !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("WriteLine #%d without a file = %v, want ENOSPC", i, err)
		}
	}
	if opens != 1 {
		t.Errorf("%d attempts to open within a second, want 1", opens)
	}
	refuse = false
	now = now.Add(reopenEvery)
	if err := w.WriteLine(Stdout, []byte("back")); err != nil {
		t.Fatalf("WriteLine once the file opens = %v", err)
	}
	want := []string{"stderr " + fmt.Sprintf(LostNote, 3, syscall.ENOSPC), "stdout back"}
	if got := readLines(t, path); !slices.Equal(got, want) {
		t.Errorf("file = %q, want %q", got, want)
	}
}
