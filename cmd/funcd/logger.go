package main

// The log driver: containerd's shim runs the funcd binary in this mode
// next to every replica task (cio.BinaryIO), handing it the task's stdout
// and stderr. It writes them to the replica's log file with internal/logs
// and lives as long as the task, whether funcd runs or not.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/containerd/containerd/runtime/v2/logging"

	"github.com/funcd/funcd/internal/containerd"
	"github.com/funcd/funcd/internal/logs"
)

// isLogDriver reports whether args are the shim's call of the log driver.
// The shim passes "--flag value" pairs in any order, so the flag may be at
// any even position.
func isLogDriver(args []string) bool {
	for i := 0; i < len(args); i += 2 {
		if args[i] == containerd.LogDriverFlag {
			return true
		}
	}
	return false
}

// runLogDriver runs the log driver until the task's output ends. It does
// not return: logging.Run exits the process.
func runLogDriver(args []string, env cliEnv) error {
	fs := flag.NewFlagSet("log-driver", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var path string
	var maxSize int64
	fs.StringVar(&path, containerd.LogDriverFlag[2:], "", "the replica's log file")
	fs.Int64Var(&maxSize, containerd.LogMaxSizeFlag[2:], 0, "rotate the log file at this size in bytes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if path == "" || fs.NArg() > 0 {
		return fmt.Errorf("log driver: want %s FILE [%s BYTES]", containerd.LogDriverFlag, containerd.LogMaxSizeFlag)
	}
	logging.Run(func(ctx context.Context, cfg *logging.Config, ready func() error) error {
		return driveLogs(ctx, cfg.Stdout, cfg.Stderr, path, maxSize, ready, env.Stderr)
	})
	return nil
}

// drainGrace is how long the driver keeps reading after the shim asks it
// to stop; the task is gone by then, so the pipes end almost at once.
const drainGrace = 2 * time.Second

// driveLogs copies stdout and stderr into the log file at path until both
// end, or until shortly after ctx ends. If the file cannot be opened, the
// output is discarded rather than left unread, which would block or kill
// the function.
func driveLogs(ctx context.Context, stdout, stderr io.Reader, path string, maxSize int64, ready func() error, errw io.Writer) error {
	var w *logs.Writer
	err := os.MkdirAll(filepath.Dir(path), 0o700)
	if err == nil {
		w, err = logs.NewWriter(path, maxSize)
	}
	if err != nil {
		fmt.Fprintf(errw, "funcd log driver: %v; discarding output\n", err)
	}
	if err := ready(); err != nil {
		return fmt.Errorf("log driver: signal ready: %w", err)
	}
	var wg sync.WaitGroup
	for _, s := range []struct {
		name string
		r    io.Reader
	}{{logs.Stdout, stdout}, {logs.Stderr, stderr}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if w == nil {
				_, _ = io.Copy(io.Discard, s.r)
				return
			}
			if err := w.Copy(s.name, s.r); err != nil {
				fmt.Fprintf(errw, "funcd log driver: %v\n", err)
				_, _ = io.Copy(io.Discard, s.r)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		select {
		case <-done:
		case <-time.After(drainGrace):
		}
	}
	if w != nil {
		return w.Close()
	}
	return nil
}
