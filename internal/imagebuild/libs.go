package imagebuild

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os/exec"
	"path"
	"strings"
)

// SharedLibraries returns what a binary of this machine needs to run in an
// image of its own: the ELF interpreter and every shared library it loads,
// as ldd finds them, keyed for Config.HostFiles (path in the image = path
// here, the path the loader asks for). A static binary needs nothing.
func SharedLibraries(ctx context.Context, binary string) (map[string]string, error) {
	f, err := elf.Open(binary)
	if err != nil {
		return nil, fmt.Errorf("shared libraries of %s: %w", binary, err)
	}
	dynamic := false
	for _, p := range f.Progs {
		dynamic = dynamic || p.Type == elf.PT_INTERP
	}
	f.Close()
	if !dynamic {
		return map[string]string{}, nil
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "ldd", binary)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("shared libraries of %s: ldd: %w: %s", binary, err, bytes.TrimSpace(stderr.Bytes()))
	}
	libs, err := parseLdd(stdout.String())
	if err != nil {
		return nil, fmt.Errorf("shared libraries of %s: %w", binary, err)
	}
	out := make(map[string]string, len(libs))
	for _, l := range libs {
		out[l] = l
	}
	return out, nil
}

// parseLdd returns the absolute paths in ldd's output: "NAME => PATH
// (ADDR)" for a library, "PATH (ADDR)" for the interpreter. Entries without
// a file (linux-vdso.so.1) are skipped; a library ldd could not find is an
// error naming it.
func parseLdd(out string) ([]string, error) {
	var libs []string
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		name, target, arrow := strings.Cut(line, "=>")
		if arrow {
			target = strings.TrimSpace(target)
			if strings.HasPrefix(target, "not found") {
				return nil, fmt.Errorf("ldd: %s not found", strings.TrimSpace(name))
			}
		} else {
			target = name
		}
		p, _, _ := strings.Cut(strings.TrimSpace(target), " ")
		if !path.IsAbs(p) {
			continue // linux-vdso.so.1, "statically linked"
		}
		if path.Clean(p) != p {
			return nil, fmt.Errorf("ldd: library path %q is not clean", p)
		}
		libs = append(libs, p)
	}
	return libs, nil
}
