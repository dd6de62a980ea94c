package systemd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A machine gets its own cgroup in every hierarchy the test process is in,
// below the test process's own: nspawn's cgroup namespace is rooted there,
// so everything the container creates nests below it and goes with it.

// makeCgroups creates the machine's cgroup in every hierarchy this process
// is in, below this process's own, and returns their cgroup.procs files.
func (m *machine) makeCgroups() ([]string, error) {
	parents, err := ownCgroups()
	if err != nil {
		return nil, err
	}
	var procs []string
	for _, p := range parents {
		dir := filepath.Join(p.dir, m.name)
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("create cgroup: %w", err)
		}
		m.cgroups = append(m.cgroups, dir)
		if p.cpuset {
			// A cpuset cgroup takes no process before it has CPUs and
			// memory nodes: those of its parent.
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				v, err := os.ReadFile(filepath.Join(p.dir, f))
				if err == nil {
					err = os.WriteFile(filepath.Join(dir, f), v, 0o644)
				}
				if err != nil {
					return nil, fmt.Errorf("cgroup %s: %w", f, err)
				}
			}
		}
		procs = append(procs, filepath.Join(dir, "cgroup.procs"))
	}
	return procs, nil
}

// removeCgroups removes the machine's cgroups and everything the container
// created below them, deepest first; the container's processes must be
// gone (their exit can take a moment to reach the cgroups).
func (m *machine) removeCgroups() error {
	var errs []error
	for _, dir := range m.cgroups {
		if err := removeCgroupTree(dir); err != nil {
			errs = append(errs, err)
		}
	}
	m.cgroups = nil
	return errors.Join(errs...)
}

func removeCgroupTree(dir string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		var dirs []string
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		var last error
		for _, d := range slices.Backward(dirs) {
			if err := syscall.Rmdir(d); err != nil && !errors.Is(err, syscall.ENOENT) {
				last = fmt.Errorf("remove cgroup %s: %w", d, err)
			}
		}
		if last == nil || time.Now().After(deadline) {
			return last
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cgroupParent is a hierarchy this process is in: the host directory of
// its own cgroup there.
type cgroupParent struct {
	dir    string
	cpuset bool
}

// ownCgroups maps each line of /proc/self/cgroup to the directory of that
// cgroup under its hierarchy's mount point.
func ownCgroups() ([]cgroupParent, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	mounts, err := cgroupMounts()
	if err != nil {
		return nil, err
	}
	var out []cgroupParent
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		ctrls, path := parts[1], parts[2]
		var found *cgroupMount
		for i, mt := range mounts {
			if mt.matches(ctrls) && strings.HasPrefix(path, mt.root) {
				found = &mounts[i]
				break
			}
		}
		if found == nil {
			if ctrls == "" {
				continue // cgroup v1 only: no unified hierarchy mounted
			}
			return nil, fmt.Errorf("no mount of the cgroup hierarchy %q", ctrls)
		}
		rel := strings.TrimPrefix(path, found.root)
		out = append(out, cgroupParent{
			dir:    filepath.Join(found.point, rel),
			cpuset: slices.Contains(strings.Split(ctrls, ","), "cpuset"),
		})
	}
	return out, nil
}

// cgroupMount is a cgroup or cgroup2 mount of this mount namespace.
type cgroupMount struct {
	point, root string
	v2          bool
	opts        []string // super options: the controllers, name=...
}

func (c cgroupMount) matches(ctrls string) bool {
	if ctrls == "" {
		return c.v2
	}
	if c.v2 {
		return false
	}
	for _, ctrl := range strings.Split(ctrls, ",") {
		if !slices.Contains(c.opts, ctrl) {
			return false
		}
	}
	return true
}

func cgroupMounts() ([]cgroupMount, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []cgroupMount
	for _, line := range strings.Split(string(data), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 || (g[0] != "cgroup" && g[0] != "cgroup2") {
			continue
		}
		out = append(out, cgroupMount{point: f[4], root: f[3], v2: g[0] == "cgroup2", opts: strings.Split(g[2], ",")})
	}
	return out, nil
}

// procsInCgroupTree lists the processes in the cgroup dir and below it.
func procsInCgroupTree(dir string) []int {
	var out []int
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
			return nil
		}
		data, _ := os.ReadFile(p)
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				out = append(out, pid)
			}
		}
		return nil
	})
	return out
}
