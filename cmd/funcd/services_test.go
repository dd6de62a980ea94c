package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/funcd/funcd/internal/compose"
)

func TestLoadComposeWarnsOncePerKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "docker-compose.yaml")
	if err := os.WriteFile(file, []byte("services:\n  db:\n    image: x\n    hostname: db1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	warned := map[compose.Warning]bool{}
	for range 2 { // the start, then a reload
		if _, err := loadCompose(context.Background(), file, warned, log); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(buf.String(), "hostname"); n != 1 {
		t.Errorf("log = %q: the unsupported key hostname named %d times, want once", buf.String(), n)
	}
	if p, err := loadCompose(context.Background(), "", warned, log); p != nil || err != nil {
		t.Errorf("loadCompose(no file) = %v, %v; want no project, no error", p, err)
	}
}
