package ui

import (
	"os"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/api"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// fakeFunctions lists functions by namespace.
type fakeFunctions map[string][]api.FunctionStatus

func (f fakeFunctions) Functions(ns string) []api.FunctionStatus {
	out := []api.FunctionStatus{}
	for _, st := range f[ns] {
		st.Namespace = ns
		out = append(out, st)
	}
	return out
}

// timeAt is a minute's start plus s seconds.
func timeAt(s int) time.Time { return time.Date(2026, 12, 2, 20, 0, s, 0, time.UTC) }
