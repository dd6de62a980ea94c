// Package logs stores and reads the output of function replicas.
//
// Each replica's stdout and stderr go to one file, DIR/NS/FUNCTION/ID.log,
// written by a Writer. The Collector runs one in funcd for every task,
// reading the task's output from two FIFOs beside the file; tasks made
// before it have a log driver process started by containerd's shim
// (`funcd --log-driver`). Every line is stored as
//
//	2026-11-26T03:00:00.123456789Z stdout the text
//
// When a file would grow past its cap it is renamed to ID.log.1 (replacing
// the previous one) and a new file is started, so a replica never holds
// more than twice the cap on disk. While the disk is full, lines are
// dropped (the function is never held up); the first line stored again is
// preceded by one saying how many were lost (LostNote).
//
// Read returns the lines of a function's replicas merged in time order,
// with tail, since and follow. The package imports only the standard
// library.
package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Streams a line can come from.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// Line is one stored line of output.
type Line struct {
	Instance string // replica id
	Time     time.Time
	Stream   string // Stdout or Stderr
	Text     string
}

// Path returns where replica id of function name in namespace ns logs,
// under dir (STATE/logs).
func Path(dir, ns, name, id string) string {
	return filepath.Join(FunctionDir(dir, ns, name), id+".log")
}

// FunctionDir returns the directory holding the logs of function name's
// replicas.
func FunctionDir(dir, ns, name string) string {
	return filepath.Join(dir, ns, name)
}

// Remove deletes the files of the replica logging to path: the log, its
// rotated copy and the FIFOs its task's output came through. Missing
// files are not an error.
func Remove(path string) error {
	var errs []error
	for _, f := range []string{path, path + rotatedSuffix, path + stdoutFIFO, path + stderrFIFO} {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// FIFO name suffixes of a task's output, next to its log file (see
// Collector).
const (
	stdoutFIFO = ".stdout"
	stderrFIFO = ".stderr"
)

// rotatedSuffix is appended to a log file's name when it is rotated.
const rotatedSuffix = ".1"

// format renders one stored line, newline included.
func format(t time.Time, stream string, text []byte) []byte {
	b := make([]byte, 0, len(text)+48)
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, ' ')
	b = append(b, stream...)
	b = append(b, ' ')
	b = append(b, text...)
	return append(b, '\n')
}

// parse reads a stored line (without its newline).
func parse(instance string, b []byte) (Line, error) {
	ts, rest, ok := bytes.Cut(b, []byte{' '})
	if !ok {
		return Line{}, fmt.Errorf("log line %q: no timestamp", truncate(b))
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return Line{}, fmt.Errorf("log line %q: %w", truncate(b), err)
	}
	stream, text, _ := bytes.Cut(rest, []byte{' '})
	return Line{Instance: instance, Time: t, Stream: string(stream), Text: string(text)}, nil
}

func truncate(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}

// LastText returns the text of the last complete line in data (the end of
// a log file), or "" when there is none. Lines not in the stored format
// are returned as they are.
func LastText(data []byte) string {
	s := strings.TrimRight(string(data), "\r\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if l, err := parse("", []byte(s)); err == nil {
		return l.Text
	}
	return s
}

// Store reads the logs of every function under one directory
// (STATE/logs).
type Store struct {
	dir string
}

// NewStore returns a store for the logs under dir.
func NewStore(dir string) *Store { return &Store{dir: dir} }

// Read sends the lines of function name in namespace ns that match q; see
// the package function Read. Names that could leave the directory read
// nothing.
func (s *Store) Read(ctx context.Context, ns, name string, q Query, emit func(Line) error) error {
	if !safeName(ns) || !safeName(name) {
		return nil
	}
	return Read(ctx, FunctionDir(s.dir, ns, name), q, emit)
}

func safeName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, `/\`)
}
