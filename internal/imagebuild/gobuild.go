package imagebuild

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// GoBuild compiles the Go main package in pkgDir into a static binary at
// outPath (CGO_ENABLED=0, trimmed paths, no debug symbols), for the running
// platform unless GOOS/GOARCH are set in the environment.
func GoBuild(ctx context.Context, pkgDir, outPath string) error {
	out, err := filepath.Abs(outPath)
	if err != nil {
		return fmt.Errorf("go build %s: %w", pkgDir, err)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = pkgDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkgDir, err, bytes.TrimSpace(output.Bytes()))
	}
	return nil
}
