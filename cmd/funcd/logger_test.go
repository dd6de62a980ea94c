package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIsLogDriver(t *testing.T) {
	tests := []struct {
		args []string
		want bool
	}{
		{[]string{"--log-driver", "/x.log", "--log-max-size", "10"}, true},
		{[]string{"--log-max-size", "10", "--log-driver", "/x.log"}, true},
		{[]string{"up", "--log-max-size", "10"}, false},
		{[]string{"deploy", "--log-driver"}, false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := isLogDriver(tt.args); got != tt.want {
			t.Errorf("isLogDriver(%q) = %v, want %v", tt.args, got, tt.want)
		}
	}
}

func TestDriveLogs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ns", "fn", "r.log")
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	ready := false
	done := make(chan error, 1)
	go func() {
		done <- driveLogs(t.Context(), outR, errR, path, 1<<20, func() error { ready = true; return nil }, io.Discard)
	}()
	io.WriteString(outW, "to stdout\n")
	io.WriteString(errW, "to stderr\n")
	outW.Close()
	errW.Close()
	if err := <-done; err != nil {
		t.Fatalf("driveLogs = %v", err)
	}
	if !ready {
		t.Error("driveLogs never signalled ready")
	}
	data, _ := os.ReadFile(path)
	for _, want := range []string{" stdout to stdout\n", " stderr to stderr\n"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("log file %q lacks %q", data, want)
		}
	}
}
