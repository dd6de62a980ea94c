package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/funcd/funcd"
	"github.com/funcd/funcd/internal/atomicfile"
	"github.com/funcd/funcd/internal/config"
)

// installShipped writes each file to stateDir when it is absent, or
// replaces it when it is byte for byte a version funcd wrote before; a
// copy the owner edited is kept. STATE/.shipped/NAME.sha256 lists the
// sha256 of every version written, STATE/.shipped/NAME holds the newest,
// so an owner who kept an edited copy can compare.
func installShipped(w io.Writer, stateDir string, files []funcd.File) error {
	record := filepath.Join(stateDir, ".shipped")
	if err := os.MkdirAll(record, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		path := filepath.Join(stateDir, f.Name)
		sums := filepath.Join(record, f.Name+".sha256")
		known, err := readSums(sums)
		if err != nil {
			return err
		}
		current, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		replace := true
		switch {
		case err != nil:
			fmt.Fprintf(w, "wrote %s\n", path)
		case bytes.Equal(current, f.Data):
			fmt.Fprintf(w, "kept %s (current)\n", path)
		case known[sha(current)]:
			fmt.Fprintf(w, "wrote %s (upgraded)\n", path)
		default:
			replace = false
			fmt.Fprintf(w, "kept %s (edited; funcd's version is %s)\n", path, filepath.Join(record, f.Name))
		}
		if replace {
			if err := atomicfile.WriteIfChanged(path, f.Data, 0o644); err != nil {
				return err
			}
			if !known[sha(f.Data)] {
				if err := appendLine(sums, sha(f.Data)); err != nil {
					return err
				}
			}
		}
		if err := atomicfile.WriteIfChanged(filepath.Join(record, f.Name), f.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// readSums reads a NAME.sha256 file: one hex sha256 a line.
func readSums(path string) (map[string]bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, err
	}
	sums := map[string]bool{}
	for _, line := range strings.Fields(string(b)) {
		sums[line] = true
	}
	return sums, nil
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(f, line); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// stateDirFrom finds the state directory as funcd up will under systemd:
// the last uncommented FUNCD_STATE_DIR= of the settings file (quotes
// removed, as install.sh reads it), else the default.
func stateDirFrom(defaults string) (string, error) {
	dir := config.DefaultStateDir
	f, err := os.Open(defaults)
	if errors.Is(err, os.ErrNotExist) {
		return dir, nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	prefix := config.EnvName("state-dir") + "="
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if v, ok := strings.CutPrefix(line, prefix); ok {
			v = strings.TrimSuffix(strings.TrimPrefix(v, `"`), `"`)
			v = strings.TrimSuffix(strings.TrimPrefix(v, `'`), `'`)
			if v != "" {
				dir = v
			}
		}
	}
	return dir, s.Err()
}
