package systemd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// machine is one systemd-nspawn container on a private copy of the cached
// root filesystem, with a private network.
//
// What nspawn needs on this machine kind (cgroup v1 "hybrid", systemd not
// PID 1, so no machined and no scope units):
//   - --register=no --keep-unit: nothing to register with, no scope to
//     create; nspawn stays in the cgroups it was started in.
//   - its own cgroup in every hierarchy (makeCgroups): the container's
//     cgroup namespace is rooted there, so the cgroups its systemd and runc
//     create nest below it and are removed with it, instead of landing in
//     the host's root cgroups.
//   - the controllers made writable inside (cgroupRWUnit; a remount here
//     when systemd does not boot).
//   - --system-call-filter=@keyring: nspawn's seccomp filter refuses the
//     keyring calls, and runc creates a session keyring for every container.
//
// Commands run inside with nsenter into all namespaces of the container's
// first process; they keep the host's capabilities and no seccomp filter.
type machine struct {
	t     *testing.T
	name  string   // machine name; also the name of its run directory and cgroups
	dir   string   // its root directory
	boot  bool     // systemd as PID 1; otherwise `sleep infinity` under nspawn's stub init
	extra []string // more arguments of nspawn
	log   string   // nspawn's output, every boot appended

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd has exited
	exitErr error
	leader  int      // host pid of the process commands enter
	cgroups []string // host cgroup directories made for this machine
}

var machineSeq atomic.Int32

// runPrefix names the run directories and cgroups: run-PID-N, where PID is
// the test process, so that a later run can clean up after a killed one.
const runPrefix = "funcd-nspawn-"

// machineOptions say how newMachine makes a machine.
type machineOptions struct {
	boot    bool                    // boot systemd
	extra   []string                // more arguments of nspawn, e.g. --bind-ro=SRC:DST
	prepare func(root string) error // adds files to the root filesystem before the boot
}

// newMachine copies the cached root filesystem, prepares the copy, and
// boots it. The machine is stopped and removed when the test ends.
func newMachine(ctx context.Context, t *testing.T, o machineOptions) *machine {
	t.Helper()
	reapStaleMachines(t.Logf)
	rootfs, err := ensureRootfs(ctx, t.Logf)
	if err != nil {
		t.Fatalf("root filesystem: %v", err)
	}
	name := fmt.Sprintf("%s%d-%d", runPrefix, os.Getpid(), machineSeq.Add(1))
	m := &machine{t: t, name: name, dir: filepath.Join(cacheDir, name), boot: o.boot, extra: o.extra}
	m.log = m.dir + ".console.log"
	t.Cleanup(m.destroy)
	if out, err := runHost(ctx, "cp", "-a", "--reflink=auto", rootfs, m.dir); err != nil {
		t.Fatalf("copy the root filesystem: %v: %s", err, out)
	}
	if o.prepare != nil {
		if err := o.prepare(m.dir); err != nil {
			t.Fatalf("prepare the root filesystem: %v", err)
		}
	}
	if err := m.start(ctx); err != nil {
		t.Fatalf("boot: %v", err)
	}
	return m
}

// start runs systemd-nspawn in the machine's own cgroups and waits until
// the container is up (for a boot: until systemd reports the boot done).
func (m *machine) start(ctx context.Context) error {
	procs, err := m.makeCgroups()
	if err != nil {
		return err
	}
	args := []string{"-D", m.dir, "-M", m.name, "--register=no", "--keep-unit", "--private-network",
		"--system-call-filter=@keyring"}
	args = append(args, m.extra...)
	want := "systemd"
	if m.boot {
		args = append(args, "-b")
	} else {
		args = append(args, "--as-pid2", "/bin/sleep", "infinity")
		want = "sleep"
	}
	// The shell moves itself into the cgroups, then becomes nspawn.
	argv := append([]string{"-c", `while [ "$1" != -- ]; do echo $$ >"$1" || exit 1; shift; done; shift; exec "$@"`, "sh"}, procs...)
	argv = append(argv, "--", "systemd-nspawn")
	argv = append(argv, args...)
	logf, err := os.OpenFile(m.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command("/bin/sh", argv...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so a Ctrl-C reaches the test only, which then
	// stops the machine; and it dies with the test process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start systemd-nspawn: %w", err)
	}
	done := make(chan struct{})
	m.mu.Lock()
	m.cmd, m.done, m.leader = cmd, done, 0
	m.mu.Unlock()
	go func() {
		err := cmd.Wait()
		m.mu.Lock()
		m.exitErr = err
		m.mu.Unlock()
		close(done)
	}()

	leader, err := m.waitLeader(ctx, cmd.Process.Pid, want)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.leader = leader
	m.mu.Unlock()
	if !m.boot {
		_, err := m.run(ctx, `for d in /sys/fs/cgroup/*/; do mountpoint -q "$d" && mount -o remount,bind,rw "$d"; done; true`)
		return err
	}
	return m.waitBooted(ctx)
}

// waitBooted waits until systemd inside has finished booting: its start
// jobs, funcd's included when it is enabled, are done. Until systemd
// listens, systemctl fails or says "offline"; "degraded" (a unit failed)
// is logged and accepted.
func (m *machine) waitBooted(ctx context.Context) error {
	deadline := time.Now().Add(3 * time.Minute)
	var state string
	for time.Now().Before(deadline) {
		out, _ := m.run(ctx, "timeout 120 systemctl is-system-running --wait")
		switch state = strings.TrimSpace(out); state {
		case "running":
			return nil
		case "degraded":
			failed, _ := m.run(ctx, "systemctl --failed --no-legend --plain")
			m.t.Logf("machine %s booted degraded; failed units: %s", m.name, strings.TrimSpace(failed))
			return nil
		}
		select {
		case <-m.done:
			return fmt.Errorf("systemd-nspawn exited during the boot (%v):\n%s", m.exitErr, tail(readFile(m.log), 30))
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("boot did not finish in 3 minutes: %q\n%s", state, tail(readFile(m.log), 30))
}

// waitLeader waits for the descendant of nspawn named want (systemd, or
// the sleep under the stub init) and returns its host pid.
func (m *machine) waitLeader(ctx context.Context, nspawn int, want string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		if pid := findDescendant(nspawn, want); pid > 0 {
			return pid, nil
		}
		select {
		case <-m.done:
			return 0, fmt.Errorf("systemd-nspawn exited (%v):\n%s", m.exitErr, tail(readFile(m.log), 30))
		case <-ctx.Done():
			return 0, fmt.Errorf("no %s in the container after a minute:\n%s", want, tail(readFile(m.log), 30))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// leaderPID returns the host pid of the container's first process (0
// while it is not running).
func (m *machine) leaderPID() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.leader
}

// run runs a shell script inside the container as root and returns its
// standard output; the error carries its standard error.
func (m *machine) run(ctx context.Context, script string) (string, error) {
	pid := m.leaderPID()
	if pid == 0 {
		return "", errors.New("the machine is not running")
	}
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, "nsenter", "-t", strconv.Itoa(pid), "-a", "--",
		"/usr/bin/env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root", "LANG=C.UTF-8", "/bin/sh", "-c", script)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("in %s: %s: %w\nstdout: %s\nstderr: %s", m.name, script, err,
			tail(out.String(), 30), tail(errOut.String(), 30))
	}
	return out.String(), nil
}

// mustRun is run that fails t on an error.
func (m *machine) mustRun(ctx context.Context, t *testing.T, script string) string {
	t.Helper()
	out, err := m.run(ctx, script)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// reboot runs `systemctl reboot` inside, checks that nspawn exits with 133
// (its "reboot me" status) and boots the same root filesystem again.
func (m *machine) reboot(ctx context.Context) error {
	_, _ = m.run(ctx, "systemctl reboot")
	if err := m.waitExit(2 * time.Minute); err != nil {
		return err
	}
	m.mu.Lock()
	exitErr := m.exitErr
	m.mu.Unlock()
	var ee *exec.ExitError
	if !errors.As(exitErr, &ee) || ee.ExitCode() != 133 {
		return fmt.Errorf("systemd-nspawn ended with %v after systemctl reboot, want exit status 133", exitErr)
	}
	if err := m.removeCgroups(); err != nil {
		return err
	}
	return m.start(ctx)
}

// waitExit waits for nspawn to exit.
func (m *machine) waitExit(timeout time.Duration) error {
	m.mu.Lock()
	done := m.done
	m.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("systemd-nspawn still runs %v later", timeout)
	}
}

// stop asks nspawn to end the container (SIGTERM: a boot is halted by its
// systemd, anything else killed) and waits for it.
func (m *machine) stop() {
	m.mu.Lock()
	cmd, done, leader := m.cmd, m.done, m.leader
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if m.waitExit(time.Minute) == nil {
		return
	}
	m.t.Logf("machine %s did not stop in a minute; killing it", m.name)
	if leader > 0 {
		_ = syscall.Kill(leader, syscall.SIGKILL)
	}
	_ = cmd.Process.Kill()
	_ = m.waitExit(time.Minute)
}

// destroy stops the machine and removes its cgroups, run directory and
// what nspawn left in /run.
func (m *machine) destroy() {
	if m.t.Failed() && m.leaderPID() > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, _ := m.run(ctx, "journalctl -b --no-pager -n 80 -u funcd -u containerd")
		cancel()
		m.t.Logf("journal of %s (funcd, containerd):\n%s", m.name, out)
		m.t.Logf("console of %s:\n%s", m.name, tail(readFile(m.log), 40))
	}
	m.stop()
	if err := m.removeCgroups(); err != nil {
		m.t.Errorf("clean up: %v", err)
	}
	if err := removeRunDir(m.name); err != nil {
		m.t.Errorf("clean up: %v", err)
	}
}

// removeRunDir removes a machine's root directory, console log and nspawn's
// leftovers in /run, refusing while anything is mounted below the
// directory.
func removeRunDir(name string) error {
	dir := filepath.Join(cacheDir, name)
	if mounts := mountsUnder(dir); len(mounts) > 0 {
		return fmt.Errorf("not removing %s: still mounted: %v", dir, mounts)
	}
	os.RemoveAll(filepath.Join("/run/systemd/nspawn/propagate", name))
	os.Remove(dir + ".console.log")
	return os.RemoveAll(dir)
}

// mountsUnder lists this namespace's mount points at or below dir.
func mountsUnder(dir string) []string {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, f[4])
		}
	}
	return out
}

// findDescendant returns the pid of a descendant of root whose command
// name is comm, or 0.
func findDescendant(root int, comm string) int {
	children := map[int][]int{}
	names := map[int]string{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		open, close := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
		if open < 0 || close < open {
			continue
		}
		rest := strings.Fields(string(stat[close+1:]))
		if len(rest) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(rest[1])
		children[ppid] = append(children[ppid], pid)
		names[pid] = string(stat[open+1 : close])
	}
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if pid != root && names[pid] == comm {
			return pid
		}
		queue = append(queue, children[pid]...)
	}
	return 0
}

// reapStaleMachines cleans up after test processes that died without
// doing so: it kills what still runs in their machines' cgroups, removes
// the cgroups and the run directories.
func reapStaleMachines(logf func(string, ...any)) {
	parents, _ := ownCgroups()
	names := map[string]bool{}
	globs := []string{filepath.Join(cacheDir, runPrefix+"*")}
	for _, p := range parents {
		globs = append(globs, filepath.Join(p.dir, runPrefix+"*"))
	}
	for _, g := range globs {
		found, _ := filepath.Glob(g)
		for _, f := range found {
			names[strings.TrimSuffix(filepath.Base(f), ".console.log")] = true
		}
	}
	for name := range names {
		owner, _, _ := strings.Cut(strings.TrimPrefix(name, runPrefix), "-")
		pid, err := strconv.Atoi(owner)
		if err != nil {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			continue // its test still runs
		}
		logf("cleaning up machine %s, left by a test process that is gone", name)
		// Its container may still run (nspawn's death does not end it):
		// every process in the machine's cgroups is killed.
		for _, p := range parents {
			for _, pid := range procsInCgroupTree(filepath.Join(p.dir, name)) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		for _, p := range parents {
			if err := removeCgroupTree(filepath.Join(p.dir, name)); err != nil {
				logf("%v", err)
			}
		}
		if err := removeRunDir(name); err != nil {
			logf("%v", err)
		}
	}
}

func readFile(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	return string(data)
}
