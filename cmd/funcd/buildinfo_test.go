package main

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestDescribeBuild(t *testing.T) {
	const rev = "0123456789abcdef0123456789abcdef01234567"
	info := func(settings ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{GoVersion: "go1.99.1"}
		for i := 0; i+1 < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return bi
	}
	tests := []struct {
		name            string
		version, commit string
		bi              *debug.BuildInfo
		want            build
	}{
		{"stamped wins over vcs", "v1.2.0", "abc123", info("vcs.revision", rev, "vcs.modified", "true", "GOOS", "linux", "GOARCH", "amd64"),
			build{"v1.2.0", "abc123", "go1.99.1", "linux/amd64"}},
		{"go build in a clean clone", "dev", "", info("vcs.revision", rev, "vcs.modified", "false", "GOOS", "linux", "GOARCH", "arm64"),
			build{"dev", rev, "go1.99.1", "linux/arm64"}},
		{"go build with changes", "dev", "", info("vcs.revision", rev, "vcs.modified", "true", "GOOS", "linux", "GOARCH", "arm", "GOARM", "7"),
			build{"dev", rev + "-dirty", "go1.99.1", "linux/arm/v7"}},
		{"soft-float arm", "dev", "", info("GOOS", "linux", "GOARCH", "arm", "GOARM", "6,softfloat"),
			build{"dev", "unknown", "go1.99.1", "linux/arm/v6"}},
		{"no vcs recorded", "dev", "", info("GOOS", "linux", "GOARCH", "amd64"),
			build{"dev", "unknown", "go1.99.1", "linux/amd64"}},
		{"empty stamp", "", "", info("GOOS", "linux", "GOARCH", "amd64"),
			build{"dev", "unknown", "go1.99.1", "linux/amd64"}},
		{"no build info", "dev", "", nil,
			build{"dev", "unknown", runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := describeBuild(tt.version, tt.commit, tt.bi); got != tt.want {
				t.Errorf("describeBuild(%q, %q, ...) = %+v, want %+v", tt.version, tt.commit, got, tt.want)
			}
		})
	}
}

// TestGoBuildShowsCommit builds funcd with a plain `go build` in a git
// repository and checks that `funcd version` names the commit, with
// "-dirty" once the tree has changes. (scripts/test.sh checks that the
// commit -ldflags stamp in `make dist` wins.)
//
// The repository is a fresh copy of this module's source: the go command
// only reads git metadata where .git is a directory, not in a worktree.
// -buildvcs=true overrides a GOFLAGS=-buildvcs=false in the environment;
// -trimpath lets the copy reuse the build cache, and -s -w halves the link.
func TestGoBuildShowsCommit(t *testing.T) {
	if os.Getenv("FUNCD_QEMU") != "" {
		t.Skip("under qemu-user the binary built for the emulated arch cannot be run (no binfmt_misc)")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git in PATH")
	}
	files, err := exec.Command("git", "-C", "../..", "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	repo := t.TempDir()
	for _, f := range strings.Split(strings.TrimRight(string(files), "\x00"), "\x00") {
		copyFile(t, filepath.Join("../..", f), filepath.Join(repo, f))
	}
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=test", "-c", "user.email=test@example.com"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	git("add", "-A")
	git("commit", "-q", "-m", "snapshot")
	rev := git("rev-parse", "HEAD")

	bin := filepath.Join(t.TempDir(), "funcd")
	versionOf := func() string {
		t.Helper()
		args := []string{"build", "-buildvcs=true", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/funcd"}
		cmd := exec.Command(goCmd, args...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		cmd = exec.Command(bin, "version")
		cmd.Env = append(os.Environ(), "OPENFAAS_URL=http://127.0.0.1:1") // nothing listens: no gateway part
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("funcd version: %v", err)
		}
		return string(out)
	}
	platform := " os/arch: " + runtime.GOOS + "/" + runtime.GOARCH
	if out := versionOf(); !strings.Contains(out, " version: dev\n") || !strings.Contains(out, " commit:  "+rev+"\n") ||
		!strings.Contains(out, " go:      go1.") || !strings.Contains(out, platform) {
		t.Errorf("funcd version from a clean tree =\n%s\nwant version dev, commit %s, the Go release and%s", out, rev, platform)
	}
	if err := os.WriteFile(filepath.Join(repo, "README.md"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := versionOf(); !strings.Contains(out, " commit:  "+rev+"-dirty\n") {
		t.Errorf("funcd version from a changed tree =\n%s\nwant commit %s-dirty", out, rev)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) { // deleted but not yet committed
			return
		}
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
