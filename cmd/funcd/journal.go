package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
)

// toJournal reports whether stderr is the stream systemd connected to
// journald for this service: JOURNAL_STREAM names its device and inode
// (systemd.exec(5)). A funcd started by hand from a shell inside the unit's
// environment writes to a terminal and keeps plain lines.
func toJournal(getenv func(string) string, stderr *os.File) bool {
	v := getenv("JOURNAL_STREAM")
	if v == "" || stderr == nil {
		return false
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(stderr.Fd()), &st); err != nil {
		return false
	}
	return v == fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

// journalHandler writes records as journald reads a service's output: one
// line each, led by the syslog priority of its level in angle brackets
// (sd-daemon(3)), so `journalctl -u funcd -p warning` shows warnings and
// errors only. journald stamps the time itself.
type journalHandler struct {
	inner slog.Handler
	out   *priorityWriter
}

// newJournalHandler returns a handler writing to w at level and above.
func newJournalHandler(w io.Writer, level slog.Leveler) slog.Handler {
	out := &priorityWriter{w: w}
	return &journalHandler{
		inner: slog.NewTextHandler(out, &slog.HandlerOptions{Level: level, ReplaceAttr: dropTime}),
		out:   out,
	}
}

func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

func (h *journalHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *journalHandler) Handle(ctx context.Context, r slog.Record) error {
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	h.out.prefix = priority(r.Level)
	return h.inner.Handle(ctx, r)
}

func (h *journalHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &journalHandler{inner: h.inner.WithAttrs(as), out: h.out}
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	return &journalHandler{inner: h.inner.WithGroup(name), out: h.out}
}

// priority is the syslog priority prefix for l: err, warning, info, debug.
func priority(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "<3>"
	case l >= slog.LevelWarn:
		return "<4>"
	case l >= slog.LevelInfo:
		return "<6>"
	default:
		return "<7>"
	}
}

// priorityWriter puts prefix before each record. slog's text handler
// writes a record, newline included, in one Write, with newlines in values
// quoted, so a record is one line.
type priorityWriter struct {
	mu     sync.Mutex // held by journalHandler.Handle around the write
	prefix string
	w      io.Writer
	buf    []byte
}

func (p *priorityWriter) Write(b []byte) (int, error) {
	p.buf = append(append(p.buf[:0], p.prefix...), strings.TrimRight(string(b), "\n")...)
	p.buf = append(p.buf, '\n')
	if _, err := p.w.Write(p.buf); err != nil {
		return 0, err
	}
	return len(b), nil
}
