package provider

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReplicaLogs(t *testing.T) {
	dir := t.TempDir()
	p := New(nil, nil, nil, Config{StateDir: dir}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r := &replica{id: "f-0123456789", fn: "f", ns: "ns"}
	path := p.logPath(r)
	if want := filepath.Join(dir, "logs", "ns", "f", "f-0123456789.log"); path != want {
		t.Fatalf("logPath = %q, want %q", path, want)
	}
	if got := p.logTail(r); got != "" {
		t.Errorf("logTail without a log = %q, want empty", got)
	}
	os.MkdirAll(filepath.Dir(path), 0o700)
	long := strings.Repeat("y", 5000) // more than logTail reads
	os.WriteFile(path, []byte("2026-11-26T03:00:00Z stdout "+long+"\n2026-11-26T03:00:01Z stderr exec: no such file\n"), 0o600)
	os.WriteFile(path+".1", []byte("old\n"), 0o600)
	if got, want := p.logTail(r), ` (last output: "exec: no such file")`; got != want {
		t.Errorf("logTail = %q, want %q", got, want)
	}
	p.removeLogs(r)
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after removeLogs stat(function dir) = %v, want it gone", err)
	}
}
