package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestJournalHandlerPriorities(t *testing.T) {
	var b strings.Builder
	log := slog.New(newJournalHandler(&b, slog.LevelDebug)).With("component", "provider")
	log.Debug("probe", "n", 1)
	log.Info("deployed", "function", "f")
	log.Warn("replica exited;\nrestarting")
	log.Error("start", "err", "boom")
	want := []string{
		`<7>level=DEBUG msg=probe component=provider n=1`,
		`<6>level=INFO msg=deployed component=provider function=f`,
		`<4>level=WARN msg="replica exited;\nrestarting" component=provider`,
		`<3>level=ERROR msg=start component=provider err=boom`,
	}
	if got := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("journal lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	b.Reset()
	slog.New(newJournalHandler(&b, slog.LevelWarn)).Info("hidden")
	if b.Len() != 0 {
		t.Errorf("info logged at level warn: %q", b.String())
	}
}

func TestToJournal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "JOURNAL_STREAM" {
				return v
			}
			return ""
		}
	}
	if !toJournal(env(fmt.Sprintf("%d:%d", st.Dev, st.Ino)), f) {
		t.Error("stderr named by JOURNAL_STREAM not taken for the journal")
	}
	if toJournal(env(""), f) || toJournal(env("1:2"), f) {
		t.Error("took the journal without JOURNAL_STREAM naming stderr")
	}
}
