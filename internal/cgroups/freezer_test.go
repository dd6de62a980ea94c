package cgroups

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestFreezerFind(t *testing.T) {
	procV1Freezer := "6:freezer:/openfaas-fn/fn-0a1b2c3d4e\n" + procV1
	tests := []struct {
		name    string
		files   map[string]string
		wantDir string // below the root; "" when not found
		wantV2  bool
	}{
		{"v1", map[string]string{
			"proc/42/cgroup": procV1Freezer,
			"sys/fs/cgroup/freezer/openfaas-fn/fn-0a1b2c3d4e/freezer.state": "THAWED\n",
		}, "sys/fs/cgroup/freezer/openfaas-fn/fn-0a1b2c3d4e", false},
		{"v2", map[string]string{
			"proc/42/cgroup":                                        procV2,
			"sys/fs/cgroup/cgroup.controllers":                      "cpu memory pids\n",
			"sys/fs/cgroup/openfaas-fn/fn-0a1b2c3d4e/cgroup.freeze": "0\n",
		}, "sys/fs/cgroup/openfaas-fn/fn-0a1b2c3d4e", true},
		{"hybrid without a v1 freezer", map[string]string{
			"proc/42/cgroup": procV1,
			"sys/fs/cgroup/unified/openfaas-fn/fn-0a1b2c3d4e/cgroup.freeze": "0\n",
		}, "sys/fs/cgroup/unified/openfaas-fn/fn-0a1b2c3d4e", true},
		{"v2 root group has no freezer", map[string]string{
			"proc/42/cgroup":                   "0::/\n",
			"sys/fs/cgroup/cgroup.controllers": "cpu memory pids\n",
		}, "", false},
		{"no process", map[string]string{}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := tree(t, tt.files)
			f, err := Reader{Root: root}.Freezer(42)
			if tt.wantDir == "" {
				if !errors.Is(err, ErrNoGroup) {
					t.Fatalf("Freezer(42) = %+v, %v, want ErrNoGroup", f, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Freezer(42): %v", err)
			}
			if want := filepath.Join(root, tt.wantDir); f.Dir != want || f.V2 != tt.wantV2 {
				t.Errorf("Freezer(42) = %+v, want {Dir:%s V2:%v}", f, want, tt.wantV2)
			}
		})
	}
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestFreezeThawV1(t *testing.T) {
	root := tree(t, map[string]string{"g/freezer.state": "THAWED"})
	f := Freezer{Dir: filepath.Join(root, "g")}
	if err := f.Freeze(context.Background()); err != nil {
		t.Fatalf("Freeze: %v", err)
	}
	if got := readTrim(t, filepath.Join(root, "g/freezer.state")); got != "FROZEN" {
		t.Errorf("freezer.state after Freeze = %q, want FROZEN", got)
	}
	if err := f.Thaw(); err != nil {
		t.Fatalf("Thaw: %v", err)
	}
	if got := readTrim(t, filepath.Join(root, "g/freezer.state")); got != "THAWED" {
		t.Errorf("freezer.state after Thaw = %q, want THAWED", got)
	}
}

// On v2 the kernel reports the end of freezing in cgroup.events; a fake
// tree says "frozen 1" from the start, or never.
func TestFreezeThawV2(t *testing.T) {
	root := tree(t, map[string]string{"g/cgroup.freeze": "0", "g/cgroup.events": "populated 1\nfrozen 1\n"})
	f := Freezer{Dir: filepath.Join(root, "g"), V2: true}
	if err := f.Freeze(context.Background()); err != nil {
		t.Fatalf("Freeze: %v", err)
	}
	if got := readTrim(t, filepath.Join(root, "g/cgroup.freeze")); got != "1" {
		t.Errorf("cgroup.freeze after Freeze = %q, want 1", got)
	}
	if err := f.Thaw(); err != nil {
		t.Fatalf("Thaw: %v", err)
	}
	if got := readTrim(t, filepath.Join(root, "g/cgroup.freeze")); got != "0" {
		t.Errorf("cgroup.freeze after Thaw = %q, want 0", got)
	}
}

// A group that never finishes freezing is thawed again and reported.
func TestFreezeGivesUpAndThaws(t *testing.T) {
	root := tree(t, map[string]string{"g/cgroup.freeze": "0", "g/cgroup.events": "populated 1\nfrozen 0\n"})
	f := Freezer{Dir: filepath.Join(root, "g"), V2: true}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := f.Freeze(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Freeze = %v, want DeadlineExceeded", err)
	}
	if got := readTrim(t, filepath.Join(root, "g/cgroup.freeze")); got != "0" {
		t.Errorf("cgroup.freeze after a failed Freeze = %q, want 0", got)
	}
}

func TestFreezeGoneGroup(t *testing.T) {
	f := Freezer{Dir: filepath.Join(t.TempDir(), "gone")}
	if err := f.Freeze(context.Background()); err == nil {
		t.Error("Freeze of a removed group succeeded")
	}
	if err := f.Thaw(); err == nil {
		t.Error("Thaw of a removed group succeeded")
	}
}
