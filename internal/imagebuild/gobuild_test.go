package imagebuild

import (
	"context"
	"debug/elf"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestGoBuildStatic(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("checks an ELF binary")
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "go.mod"), "module example.com/x\n\ngo 1.22\n")
	writeFile(t, filepath.Join(dir, "main.go"), "package main\n\nimport \"net\"\n\nfunc main() { _, _ = net.LookupHost(\"localhost\") }\n")
	out := filepath.Join(t.TempDir(), "x")
	if err := GoBuild(context.Background(), dir, out); err != nil {
		t.Fatalf("GoBuild: %v", err)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatalf("open built binary: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("binary has a PT_INTERP program header: it is dynamically linked")
		}
	}
	img, err := Build(out, Config{Entrypoint: "/x"})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	cf, _ := img.ConfigFile()
	if cf.Architecture != runtime.GOARCH {
		t.Errorf("Architecture = %q, want %q", cf.Architecture, runtime.GOARCH)
	}
}

func TestGoBuildReportsCompileErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "go.mod"), "module example.com/x\n\ngo 1.22\n")
	writeFile(t, filepath.Join(dir, "main.go"), "package main\n\nfunc main() { undefinedThing() }\n")
	err := GoBuild(context.Background(), dir, filepath.Join(t.TempDir(), "x"))
	if err == nil {
		t.Fatal("GoBuild of a broken program = nil error, want an error")
	}
	if !strings.Contains(err.Error(), "undefinedThing") {
		t.Errorf("GoBuild error = %q, want the compiler's message naming undefinedThing", err)
	}
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
