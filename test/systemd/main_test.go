package systemd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/funcd/funcd/internal/compose"
	"github.com/funcd/funcd/internal/imagebuild"
	"github.com/funcd/funcd/test/testenv"
)

// reportPath collects the figures the tests measure, one line each, for
// scripts/test.sh to print (go test shows a passing test's log only with -v).
var reportPath = filepath.Join(cacheDir, "report.txt")

// skipReason, when set, is why every test here skips.
var skipReason string

func TestMain(m *testing.M) {
	flag.Parse()
	skipReason = nspawnUnavailable()
	code := m.Run()
	if assetsDir != "" {
		os.RemoveAll(assetsDir)
	}
	os.Exit(code)
}

// nspawnUnavailable says why systemd-nspawn cannot run the tests here, or
// returns "".
func nspawnUnavailable() string {
	switch {
	case testing.Short():
		return "skipped in -short mode"
	case os.Getenv("FUNCD_E2E") == "0":
		return "skipped: FUNCD_E2E=0"
	case runtime.GOOS != "linux":
		return "needs Linux"
	case os.Geteuid() != 0:
		return "needs root (sudo go test ./test/systemd/)"
	}
	for _, bin := range []string{"systemd-nspawn", "debootstrap", "nsenter", "systemctl", "go"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Sprintf("needs %s in PATH (scripts/deps.sh test installs it)", bin)
		}
	}
	var hdr unix.CapUserHeader
	var data [2]unix.CapUserData
	hdr.Version = unix.LINUX_CAPABILITY_VERSION_3
	if err := unix.Capget(&hdr, &data[0]); err != nil || data[0].Effective&(1<<unix.CAP_SYS_ADMIN) == 0 {
		return "systemd-nspawn needs CAP_SYS_ADMIN, which this process lacks (an unprivileged container?)"
	}
	if uidMap, err := os.ReadFile("/proc/self/uid_map"); err == nil && !strings.HasPrefix(strings.Join(strings.Fields(string(uidMap)), " "), "0 0 4294967295") {
		return "systemd-nspawn cannot boot a container inside a user namespace"
	}
	if _, err := ownCgroups(); err != nil {
		return fmt.Sprintf("no usable cgroup hierarchy for the container: %v", err)
	}
	return ""
}

func requireNspawn(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip("nspawn: " + skipReason)
	}
}

// report logs a measured figure and appends it to reportPath.
func report(t *testing.T, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf(format, args...)
	t.Log(line)
	f, err := os.OpenFile(reportPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Logf("report: %v", err)
		return
	}
	fmt.Fprintf(f, "%s %s\n", t.Name(), line)
	f.Close()
}

// assets are what the tests copy into a machine, built once per run.
type assets struct {
	funcd, upgrade    string // funcd as under test, and the same stamped with another version
	version, upgraded string // their versions
	installSh         string
	moduleRoot        string // the checkout under test
	testfnTar         string // localhost/testfn:nspawn, docker-archive
	prometheusTar     string // Debian's prometheus as the image the shipped docker-compose.yaml names
	prometheusRef     string // that name
}

// In the machine, under inside.
const (
	inside     = "/root/funcd-test"
	testfnRef  = "localhost/testfn:nspawn"
	gatewayURL = "http://127.0.0.1:8080"
)

var (
	assetsOnce sync.Once
	assetsDir  string
	built      assets
	buildErr   error
)

// buildAssets builds funcd twice (two versions, for the upgrade) and the
// test function's image as a tarball.
func buildAssets(ctx context.Context, t *testing.T) assets {
	t.Helper()
	assetsOnce.Do(func() { built, buildErr = build(ctx) })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

func build(ctx context.Context) (assets, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return assets{}, fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	if assetsDir, err = os.MkdirTemp("", "funcd-nspawn-assets"); err != nil {
		return assets{}, err
	}
	a := assets{
		funcd: filepath.Join(assetsDir, "funcd"), upgrade: filepath.Join(assetsDir, "funcd-upgrade"),
		version: "nspawn-test", upgraded: "nspawn-test-upgraded",
		installSh: filepath.Join(root, "install.sh"), testfnTar: filepath.Join(assetsDir, "testfn.tar"),
		prometheusTar: filepath.Join(assetsDir, "prometheus.tar"),
		moduleRoot:    root,
	}
	for bin, version := range map[string]string{a.funcd: a.version, a.upgrade: a.upgraded} {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath",
			"-ldflags=-s -w -X main.version="+version+" -X main.commit=0000000", "-o", bin, "./cmd/funcd")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return assets{}, fmt.Errorf("go build funcd: %w\n%s", err, out)
		}
	}
	fn := filepath.Join(assetsDir, "testfn")
	if err := imagebuild.GoBuild(ctx, filepath.Join(root, "test", "testfn"), fn); err != nil {
		return assets{}, err
	}
	img, err := imagebuild.Build(fn, imagebuild.Config{Entrypoint: "/testfn"})
	if err != nil {
		return assets{}, err
	}
	if err := imagebuild.WriteTarball(img, testfnRef, a.testfnTar); err != nil {
		return assets{}, err
	}
	// The machine is offline: the shipped compose file's Prometheus image
	// is imported, built from Debian's prometheus under the same name.
	if a.prometheusRef, err = shippedImage(ctx, filepath.Join(root, "docker-compose.yaml"), "prometheus"); err != nil {
		return assets{}, err
	}
	prom, err := testenv.PrometheusImage(ctx)
	if err != nil {
		return assets{}, err
	}
	if err := imagebuild.WriteTarball(prom, a.prometheusRef, a.prometheusTar); err != nil {
		return assets{}, err
	}
	return a, nil
}

// shippedImage returns the image of service name in the compose file at
// path.
func shippedImage(ctx context.Context, path, name string) (string, error) {
	p, err := compose.Load(ctx, path, nil)
	if err != nil {
		return "", err
	}
	for _, svc := range p.Services {
		if svc.Name == name {
			return svc.Image, nil
		}
	}
	return "", fmt.Errorf("%s has no service %s", path, name)
}

// copyInto puts the assets into a machine's root filesystem under inside.
func (a assets) copyInto(root string) error {
	dir := filepath.Join(root, strings.TrimPrefix(inside, "/"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for src, name := range map[string]string{a.funcd: "funcd", a.upgrade: "funcd-upgrade", a.installSh: "install.sh", a.testfnTar: "testfn.tar", a.prometheusTar: "prometheus.tar"} {
		if err := copyFile(src, filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}

// sha256File returns the hex sha256 of a file.
func sha256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
