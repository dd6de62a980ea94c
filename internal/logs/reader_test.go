package logs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)

// writeLog writes lines "TEXT" stamped t0+offset into path.
func writeLog(t *testing.T, path string, lines map[time.Duration]string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys := make([]time.Duration, 0, len(lines))
	for k := range lines {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if _, err := f.Write(format(t0.Add(k), Stdout, []byte(lines[k]))); err != nil {
			t.Fatal(err)
		}
	}
}

func texts(ls []Line) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Instance + ":" + l.Text
	}
	return out
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, filepath.Join(dir, "a.log.1"), map[time.Duration]string{1: "a1", 3: "a3"})
	writeLog(t, filepath.Join(dir, "a.log"), map[time.Duration]string{5: "a5"})
	writeLog(t, filepath.Join(dir, "b.log"), map[time.Duration]string{2: "b2", 4: "b4"})
	os.WriteFile(filepath.Join(dir, "junk.txt"), []byte("x\n"), 0o600)

	tests := []struct {
		name string
		q    Query
		want []string
	}{
		{"all merged", Query{}, []string{"a:a1", "b:b2", "a:a3", "b:b4", "a:a5"}},
		{"tail", Query{Tail: 2}, []string{"b:b4", "a:a5"}},
		{"tail unlimited", Query{Tail: -1}, []string{"a:a1", "b:b2", "a:a3", "b:b4", "a:a5"}},
		{"since", Query{Since: t0.Add(3)}, []string{"a:a3", "b:b4", "a:a5"}},
		{"since and tail", Query{Since: t0.Add(2), Tail: 10}, []string{"b:b2", "a:a3", "b:b4", "a:a5"}},
		{"instance", Query{Instance: "b"}, []string{"b:b2", "b:b4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Line
			err := Read(t.Context(), dir, tt.q, func(l Line) error { got = append(got, l); return nil })
			if err != nil {
				t.Fatalf("Read = %v", err)
			}
			if !slices.Equal(texts(got), tt.want) {
				t.Errorf("Read(%+v) = %v, want %v", tt.q, texts(got), tt.want)
			}
		})
	}
}

func TestReadMissingDir(t *testing.T) {
	err := Read(t.Context(), filepath.Join(t.TempDir(), "none"), Query{}, func(Line) error {
		t.Error("emit called for a missing directory")
		return nil
	})
	if err != nil {
		t.Errorf("Read = %v, want nil", err)
	}
}

func TestReadFollow(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	w := newTestWriter(t, path, 120) // about two lines per file
	w.now = time.Now
	if err := w.WriteLine(Stdout, []byte("before")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	got := make(chan string, 100)
	done := make(chan error, 1)
	go func() {
		done <- Read(ctx, dir, Query{Follow: true}, func(l Line) error { got <- l.Instance + ":" + l.Text; return nil })
	}()
	expect := func(want string) {
		t.Helper()
		select {
		case g := <-got:
			if g != want {
				t.Fatalf("followed line = %q, want %q", g, want)
			}
		case <-ctx.Done():
			t.Fatalf("no line %q while following", want)
		}
	}
	expect("a:before")
	// Lines appended to the file, across rotations, and in a replica
	// that started later all arrive.
	for i := range 6 {
		if err := w.WriteLine(Stdout, []byte(fmt.Sprintf("line %d", i))); err != nil {
			t.Fatal(err)
		}
		expect(fmt.Sprintf("a:line %d", i))
	}
	w2 := newTestWriter(t, filepath.Join(dir, "b.log"), 0)
	w2.now = time.Now
	if err := w2.WriteLine(Stderr, []byte("new replica")); err != nil {
		t.Fatal(err)
	}
	expect("b:new replica")
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Read after cancel = %v, want nil", err)
	}
}
