package testenv

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Paths the shims and runc of the private containerd share with a live
// containerd on the host (they are compiled into containerd 1.6).
const (
	shimSocketDir = "/run/containerd/s"
	runcRoot      = "/run/containerd/runc"
	// cniResultsDir is libcni's default result cache, which go-cni cannot
	// move; a CNI DEL removes a replica's entries, killing it does not.
	cniResultsDir = "/var/lib/cni/results"
)

// CleanRunDir removes every trace of a run: container processes,
// shims and daemons still running from dir, mounts under it, shim sockets,
// the run's bridges, iptables rules and chains, and dir itself. It works
// from what is on disk, so it also cleans up after a run that died.
func CleanRunDir(ctx context.Context, dir string) error {
	var errs []error
	if err := forceDeleteRuncContainers(ctx, dir); err != nil {
		errs = append(errs, err)
	}
	if err := killProcsUnder(ctx, dir); err != nil {
		errs = append(errs, err)
	}
	removeShimSockets(dir)
	removeNamespaceDirs(dir)
	RemoveCNICache(dir)
	if err := UnmountUnder(dir); err != nil {
		errs = append(errs, err)
	}
	nets, err := readNetworks(filepath.Join(dir, networksFile))
	if err != nil {
		errs = append(errs, err)
	}
	if err := RemoveNetworks(ctx, nets); err != nil {
		errs = append(errs, err)
	}
	if err := removeNewCNIChains(ctx, filepath.Join(dir, chainsFile)); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, fmt.Errorf("remove run dir: %w", err))
	}
	return errors.Join(errs...)
}

// ReapStaleRuns cleans up the run directories base/prefix* whose process is
// gone, noting each on log.
func ReapStaleRuns(ctx context.Context, base, prefix string, log io.Writer) error {
	dirs, err := filepath.Glob(filepath.Join(base, prefix+"*"))
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range dirs {
		if ownerAlive(d) {
			continue
		}
		fmt.Fprintf(log, "testenv: cleaning up after an earlier run in %s\n", d)
		errs = append(errs, CleanRunDir(ctx, d))
	}
	return errors.Join(errs...)
}

// ownerAlive reports whether the process that created the run directory dir
// may still be running. When in doubt it says yes.
func ownerAlive(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, pidFile))
	if err != nil {
		// The pid file is written right after the directory is made.
		st, err := os.Stat(dir)
		return err == nil && time.Since(st.ModTime()) < time.Minute
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return false
	}
	return pid == os.Getpid() || syscall.Kill(pid, 0) == nil
}

// forceDeleteRuncContainers deletes, through runc, containers whose runc
// state points into dir: what is left when a shim died with its container.
func forceDeleteRuncContainers(ctx context.Context, dir string) error {
	states, _ := filepath.Glob(filepath.Join(runcRoot, "*", "*", "state.json"))
	var errs []error
	for _, st := range states {
		b, err := os.ReadFile(st)
		if err != nil || !bytes.Contains(b, []byte(dir+"/")) {
			continue
		}
		id := filepath.Base(filepath.Dir(st))
		root := filepath.Dir(filepath.Dir(st))
		if _, err := Run(ctx, "runc", "--root", root, "delete", "--force", id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// killProcsUnder SIGKILLs every process whose command line names dir (the
// daemons, shims and funcd) or whose root filesystem lives under it (the
// functions), and waits until they are gone.
func killProcsUnder(ctx context.Context, dir string) error {
	pids := procsUnder(dir)
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if len(pids) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := Poll(ctx, func() error {
		if left := procsUnder(dir); len(left) > 0 {
			return fmt.Errorf("processes %v still running", left)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("kill processes of %s: %w", dir, err)
	}
	return nil
}

// procsUnder lists live (not zombie) processes other than this one that
// belong to dir.
func procsUnder(dir string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		p := filepath.Join("/proc", e.Name())
		if stat, err := os.ReadFile(filepath.Join(p, "stat")); err != nil || isZombie(stat) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(p, "cmdline"))
		if bytes.Contains(cmdline, []byte(dir)) || rootMountUnder(pid, dir) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// rootMountUnder reports whether the process's root filesystem is an
// overlay of snapshots under dir: a container of dir's containerd.
// (readlink /proc/PID/root says "/" for a process in its own mount
// namespace, so the mount table is read instead.)
func rootMountUnder(pid int, dir string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == "/" {
			return strings.Contains(line, dir+"/")
		}
	}
	return false
}

// isZombie reads the state field of /proc/PID/stat: "pid (comm) S ...".
func isZombie(stat []byte) bool {
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// removeShimSockets removes the sockets of shims of dir's containerd that
// were killed: containerd names them sha256(address/namespace/id) in
// /run/containerd/s, shared with every other containerd on the host.
func removeShimSockets(dir string) {
	sock := filepath.Join(dir, containerdSock)
	for _, nsID := range containerdTaskDirs(dir) {
		sum := sha256.Sum256([]byte(filepath.Join(sock, nsID)))
		_ = os.Remove(filepath.Join(shimSocketDir, fmt.Sprintf("%x", sum)))
	}
}

// removeNamespaceDirs removes the per-namespace directories runc leaves
// behind, /run/containerd/runc/NS and the cgroups /NS, when they are empty.
// They are shared with any other containerd on the host, so only rmdir is
// used: a directory still in use stays.
func removeNamespaceDirs(dir string) {
	nss, _ := filepath.Glob(filepath.Join(dir, "state", "io.containerd.runtime.v2.task", "*"))
	for _, nsDir := range nss {
		ns := filepath.Base(nsDir)
		paths, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", ns))
		paths = append(paths, filepath.Join("/sys/fs/cgroup", ns), filepath.Join(runcRoot, ns))
		for _, p := range paths {
			_ = syscall.Rmdir(p)
		}
	}
}

// RemoveCNICache removes libcni's cached results for network namespaces
// under dir (each entry records its netns path).
func RemoveCNICache(dir string) {
	entries, _ := os.ReadDir(cniResultsDir)
	for _, e := range entries {
		p := filepath.Join(cniResultsDir, e.Name())
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(dir+"/")) {
			_ = os.Remove(p)
		}
	}
}

// UnmountUnder detaches every mount at or below dir, deepest first.
func UnmountUnder(dir string) error {
	for range 5 {
		mps, err := MountsUnder(dir)
		if err != nil || len(mps) == 0 {
			return err
		}
		sort.Slice(mps, func(i, j int) bool { return len(mps[i]) > len(mps[j]) })
		for _, mp := range mps {
			if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("unmount %s: %w", mp, err)
			}
		}
	}
	mps, _ := MountsUnder(dir)
	return fmt.Errorf("still mounted under %s: %v", dir, mps)
}

// MountsUnder lists mount points at or below dir from /proc/self/mountinfo.
func MountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var mps []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountPath(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			mps = append(mps, mp)
		}
	}
	return mps, sc.Err()
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
