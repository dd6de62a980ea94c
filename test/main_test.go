package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/funcd/funcd/test/testenv"
)

// runDirPrefix names the run directories under baseDir; a later run
// cleans up those whose process is gone.
const runDirPrefix = "funcd-e2e-"

var (
	// skipReason, when set, is why every e2e test skips.
	skipReason string
	// h is the environment TestMain set up: run directory, containerd,
	// registry (test/testenv does the work).
	h *testenv.Env
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if skipReason = missingPrerequisite(); skipReason != "" {
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	h = testenv.New(testenv.Options{Base: baseDir(), Prefix: runDirPrefix, Images: testImages, Log: os.Stderr})
	tearDown := func() {
		if err := h.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: tear down: %v\n", err)
		}
	}
	defer tearDown()
	// A Ctrl-C reaches only this process (the daemons have their own
	// process group): stop a running set-up, clean up, then exit.
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
	defer func() {
		signal.Stop(sigc)
		close(sigc)
	}()
	go func() {
		if s, ok := <-sigc; ok {
			fmt.Fprintf(os.Stderr, "e2e: %v: cleaning up\n", s)
			cancel()
			tearDown()
			os.Exit(130)
		}
	}()

	if err := h.Setup(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: set up: %v\n", err)
		return 1
	}
	return m.Run()
}

// requireE2E skips the test unless TestMain set up the environment.
func requireE2E(t testing.TB) {
	t.Helper()
	if skipReason != "" {
		t.Skip("e2e: " + skipReason)
	}
	if h == nil || h.Containerd == nil || h.Registry == nil {
		t.Fatal("e2e: environment not set up")
	}
}

// missingPrerequisite says why e2e tests cannot run here, or "".
func missingPrerequisite() string {
	if testing.Short() {
		return "skipped in -short mode"
	}
	if os.Getenv("FUNCD_E2E") == "0" {
		return "skipped: FUNCD_E2E=0"
	}
	if why := testenv.MissingPrerequisite(); why != "" {
		return why + " (sudo go test ./test/)"
	}
	return ""
}

// baseDir is where run directories go: a disk filesystem, because
// containerd's overlayfs snapshots live there.
func baseDir() string {
	if d := os.Getenv("FUNCD_E2E_TMPDIR"); d != "" {
		return d
	}
	return "/var/tmp"
}
