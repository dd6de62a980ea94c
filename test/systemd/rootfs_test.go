package systemd

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// cacheDir holds the cached root filesystem, its lock and the run copies.
const cacheDir = "/var/tmp/funcd-nspawn"

// rootfsRecipe names the cached root filesystem; change it whenever
// rootfsPackages or prepareRootfs change, and the next run rebuilds it
// (and removes the old one).
const rootfsRecipe = "bookworm-v1"

// rootfsPackages are installed by debootstrap so that nothing inside the
// container needs the network: what install.sh would otherwise install, and
// systemd itself.
var rootfsPackages = []string{
	"systemd", "systemd-sysv", "dbus", "containerd", "runc", "containernetworking-plugins",
	"iptables", "iproute2", "curl", "ca-certificates", "procps",
}

// cgroupRWUnit makes the cgroup v1 controllers writable inside the
// container. systemd-nspawn mounts them read-only when the host uses the
// legacy or hybrid hierarchy (as this machine kind does), and runc must
// create the functions' cgroups there; a bind remount lifts the read-only
// flag of the container's own mount only (the host's mounts are not
// touched, and the controllers' root in the container is the test's own
// cgroup, see machine.makeCgroups). On a machine with systemd as PID 1 the
// controllers are writable and this unit does nothing: it exists only in
// the test's root filesystem.
const cgroupRWUnit = `[Unit]
Description=Make the cgroup v1 controllers writable (funcd's nspawn test)
DefaultDependencies=no
Before=containerd.service
ConditionPathIsMountPoint=/sys/fs/cgroup/memory

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'for d in /sys/fs/cgroup/*/; do mount -o remount,bind,rw "$$d"; done'

[Install]
WantedBy=sysinit.target
`

// ensureRootfs returns the cached Debian 12 root filesystem, building it
// with debootstrap first when it is missing (a few minutes, once).
func ensureRootfs(ctx context.Context, logf func(string, ...any)) (string, error) {
	dir := filepath.Join(cacheDir, "rootfs-"+rootfsRecipe)
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	unlock, err := lockFile(filepath.Join(cacheDir, ".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(dir, "etc", "funcd-nspawn-rootfs")); err == nil {
		return dir, nil
	}
	removeOldRootfs(logf)
	tmp := dir + ".building"
	if err := os.RemoveAll(tmp); err != nil {
		return "", err
	}
	start := time.Now()
	logf("building the Debian 12 root filesystem %s with debootstrap (once; cached)", dir)
	args := []string{"--variant=minbase", "--include=" + strings.Join(rootfsPackages, ","), "bookworm", tmp}
	if m := os.Getenv("FUNCD_NSPAWN_MIRROR"); m != "" {
		args = append(args, m)
	}
	if out, err := runHost(ctx, "debootstrap", args...); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("debootstrap: %w\n%s", err, tail(out, 20))
	}
	if err := prepareRootfs(ctx, tmp); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	logf("built %s in %v", dir, time.Since(start).Round(time.Second))
	return dir, nil
}

// prepareRootfs makes a fresh debootstrap boot quickly and quietly in a
// container and leaves containerd disabled, so that install.sh has to
// enable it as on a fresh machine.
func prepareRootfs(ctx context.Context, dir string) error {
	files := map[string]string{
		"etc/hostname": "funcd-nspawn\n",
		"etc/systemd/system/funcd-test-cgroup-rw.service": cgroupRWUnit,
		"etc/funcd-nspawn-rootfs":                         rootfsRecipe + "\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	if out, err := runHost(ctx, "systemctl", "--root="+dir, "enable", "funcd-test-cgroup-rw.service"); err != nil {
		return fmt.Errorf("enable the cgroup unit: %w: %s", err, out)
	}
	if out, err := runHost(ctx, "systemctl", "--root="+dir, "disable", "containerd.service"); err != nil {
		return fmt.Errorf("disable containerd: %w: %s", err, out)
	}
	// Timers and a login prompt nobody uses.
	mask := []string{"apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer",
		"e2scrub_all.timer", "fstrim.timer", "console-getty.service", "getty@.service"}
	if out, err := runHost(ctx, "systemctl", append([]string{"--root=" + dir, "mask"}, mask...)...); err != nil {
		return fmt.Errorf("mask units: %w: %s", err, out)
	}
	return nil
}

// removeOldRootfs removes root filesystems of earlier recipes.
func removeOldRootfs(logf func(string, ...any)) {
	old, _ := filepath.Glob(filepath.Join(cacheDir, "rootfs-*"))
	for _, d := range old {
		if filepath.Base(d) == "rootfs-"+rootfsRecipe {
			continue
		}
		logf("removing the outdated root filesystem %s", d)
		os.RemoveAll(d)
	}
}

// lockFile takes an exclusive flock on path, waiting for it.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// runHost runs a command on the host and returns its combined output.
func runHost(ctx context.Context, name string, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return out.String(), err
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
