package systemd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestInstallWithoutSystemd runs install.sh where systemd is not PID 1, as
// on a CI machine or in a container: the binary comes as a release
// download checked against SHA256SUMS, funcd runs in the background, a
// second run restarts it, and --uninstall and --purge clean up.
func TestInstallWithoutSystemd(t *testing.T) {
	requireNspawn(t)
	began := time.Now()
	defer func() { report(t, "duration=%v", time.Since(began).Round(time.Second)) }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	a := buildAssets(ctx, t)
	asset := "funcd-linux-" + runtime.GOARCH
	release := inside + "/release"
	hostRelease := func(root string) string { return filepath.Join(root, strings.TrimPrefix(release, "/")) }
	m := newMachine(ctx, t, machineOptions{prepare: func(root string) error {
		if err := a.copyInto(root); err != nil {
			return err
		}
		if err := os.MkdirAll(hostRelease(root), 0o755); err != nil {
			return err
		}
		if err := copyFile(a.funcd, filepath.Join(hostRelease(root), asset)); err != nil {
			return err
		}
		sums := fmt.Sprintf("%s  %s\n", strings.Repeat("0", 64), asset)
		return os.WriteFile(filepath.Join(hostRelease(root), "SHA256SUMS"), []byte(sums), 0o644)
	}})
	installSh := func(env, args string) (string, error) {
		return m.run(ctx, env+" sh "+inside+"/install.sh "+args+" 2>&1")
	}

	nothingInstalled := `! test -e /usr/local/bin/funcd && ! test -e /etc/default/funcd &&
! test -e /etc/sysctl.d/90-funcd.conf && ! test -e /var/log/funcd && ! pgrep -x containerd >/dev/null`

	t.Run("demo_outside_a_checkout_changes_nothing", func(t *testing.T) {
		out, err := installSh("FUNCD_BINARY="+inside+"/funcd", "--demo")
		if err == nil || !strings.Contains(out, "install: error: --demo builds examples/hello and needs a funcd checkout with Go") {
			t.Errorf("install.sh --demo outside a checkout = %v:\n%s\nwant its one error line", err, out)
		}
		m.mustRun(ctx, t, nothingInstalled)
	})

	t.Run("missing_package_without_a_package_manager", func(t *testing.T) {
		m.mustRun(ctx, t, "mv /usr/sbin/iptables /usr/sbin/iptables.off && mv /usr/bin/apt-get /usr/bin/apt-get.off")
		out, err := installSh("FUNCD_BINARY="+inside+"/funcd", "")
		m.mustRun(ctx, t, "mv /usr/sbin/iptables.off /usr/sbin/iptables && mv /usr/bin/apt-get.off /usr/bin/apt-get")
		want := "install: error: no apt-get, dnf or pacman to install iptables; install containerd, runc, the CNI plugins"
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("install.sh without iptables and a package manager = %v:\n%s\nwant %q", err, out, want)
		}
		m.mustRun(ctx, t, nothingInstalled)
	})

	t.Run("checksum_mismatch_changes_nothing", func(t *testing.T) {
		out, err := installSh("FUNCD_RELEASE_URL=file://"+release, "")
		if err == nil {
			t.Fatalf("install.sh with a wrong checksum succeeded:\n%s", out)
		}
		if !strings.Contains(out, "nothing was changed") || strings.Count(strings.TrimSpace(out), "install: error:") != 1 {
			t.Errorf("install.sh with a wrong checksum printed:\n%s\nwant one error line saying nothing was changed", out)
		}
		m.mustRun(ctx, t, nothingInstalled)
	})

	var taskBefore, pidBefore string
	t.Run("download_install", func(t *testing.T) {
		sum, err := sha256File(a.funcd)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(hostRelease(m.dir), "SHA256SUMS"), []byte(sum+"  "+asset+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		out, err := installSh("FUNCD_RELEASE_URL=file://"+release, "")
		if err != nil {
			t.Fatal(err)
		}
		report(t, "install_seconds=%.1f", time.Since(start).Seconds())
		t.Logf("install.sh:\n%s", out)
		for _, want := range []string{"verified " + asset, "starting containerd in the background",
			"install: funcd is ready at " + gatewayURL, "will NOT come back after a reboot"} {
			if !strings.Contains(out, want) {
				t.Errorf("install.sh printed no %q", want)
			}
		}
		pidBefore = strings.TrimSpace(m.mustRun(ctx, t, `pid=$(cat /run/funcd-install.pid) && tr '\0' ' ' </proc/$pid/cmdline | grep -q '^/usr/local/bin/funcd up' && echo $pid`))
		m.mustRun(ctx, t, "test -s /var/log/funcd/funcd.log")
		deployFunction(ctx, t, m)
		mustAnswer(ctx, t, gatewayClient(t, m), "/", `"body":"ping"`)
		taskBefore = taskPID(ctx, t, m)
	})
	if t.Failed() {
		t.FailNow()
	}

	t.Run("reinstall_restarts_the_background_funcd", func(t *testing.T) {
		out, err := installSh("FUNCD_BINARY="+inside+"/funcd-upgrade", "")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("install.sh (upgrade):\n%s", out)
		pid := strings.TrimSpace(m.mustRun(ctx, t, "cat /run/funcd-install.pid"))
		if pid == pidBefore {
			t.Errorf("funcd's pid is still %s after the upgrade", pid)
		}
		m.mustRun(ctx, t, "! kill -0 "+pidBefore+" 2>/dev/null")
		c := gatewayClient(t, m)
		if info, err := c.Info(ctx); err != nil || info.Version == nil || info.Version.Release != a.upgraded {
			t.Errorf("/system/info after the upgrade = %+v, %v; want release %q", info.Version, err, a.upgraded)
		}
		mustAnswer(ctx, t, c, "/", `"body":"ping"`)
		checkSecret(ctx, t, c)
		if got := taskPID(ctx, t, m); got != taskBefore {
			t.Errorf("the replica's task pid went from %s to %s over the upgrade", taskBefore, got)
		}
	})

	t.Run("uninstall_purge", func(t *testing.T) {
		out, err := installSh("", "--uninstall")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("install.sh --uninstall:\n%s", out)
		m.mustRun(ctx, t, `! pgrep -f '[f]uncd up' >/dev/null && ! test -e /usr/local/bin/funcd &&
! test -e /run/funcd-install.pid && test -s /var/lib/funcd/secrets/basic-auth-password`)
		if got := taskPID(ctx, t, m); got != taskBefore {
			t.Errorf("the replica's task pid went from %s to %s over --uninstall", taskBefore, got)
		}
		out, err = installSh("FUNCD_BINARY="+inside+"/funcd", "--purge")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("install.sh --purge:\n%s", out)
		checkPurged(ctx, t, m, false)
	})
}
