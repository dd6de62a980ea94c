// Package cgroups reads what a process's control group has used: memory in
// use, CPU time and OOM kills, from cgroup v1 or v2 files; and freezes and
// thaws it (freezer.go). It never creates, moves or limits anything (runc
// does that).
//
// Control groups are found where systemd mounts them: v1 controllers at
// /sys/fs/cgroup/CONTROLLERS (the directory named as /proc/PID/cgroup lists
// them, "cpu,cpuacct" when comounted), v2 at /sys/fs/cgroup, or at
// /sys/fs/cgroup/unified on a hybrid host (where it holds no controllers
// and v1 is read). Paths in /proc/PID/cgroup are read as seen from the
// reader's cgroup namespace, which is the host's for funcd.
package cgroups

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Reader finds and reads control groups below Root.
type Reader struct {
	Root string // "/" when empty; tests point it at a fake tree
}

// Group is one process's control group: where its memory and CPU
// accounting files are.
type Group struct {
	Path   string // as in /proc/PID/cgroup, e.g. "/openfaas-fn/fn-0a1b2c3d4e"
	V2     bool
	memory string // directory of the memory files
	cpu    string // directory of the CPU accounting files
}

// Stats is what a group has used.
type Stats struct {
	// MemoryBytes is the working set: memory in use minus inactive file
	// cache, which the kernel reclaims first (what the kubelet and
	// metrics-server report, and what an OOM kill is judged against).
	MemoryBytes uint64
	CPU         time.Duration // CPU time of all its processes since the group was made
	OOMKills    uint64        // processes the kernel killed in it for want of memory
}

// ErrNoGroup: the process has no memory or CPU accounting group to read
// (it is gone, or controllers are not mounted where systemd puts them).
var ErrNoGroup = errors.New("no control group")

// unified returns the v2 group (its path and directory) of the lines of
// /proc/PID/cgroup, when it has the file probe: cgroup2 mounted at
// /sys/fs/cgroup (v2 only) or /sys/fs/cgroup/unified (hybrid).
func (r Reader) unified(lines []procLine, probe string) (path, dir string, ok bool) {
	for _, l := range lines {
		if l.hierarchy != "0" || l.controllers != "" {
			continue
		}
		mount := r.path("sys/fs/cgroup")
		if _, err := os.Stat(filepath.Join(mount, "cgroup.controllers")); err != nil {
			mount = filepath.Join(mount, "unified")
		}
		dir := filepath.Join(mount, l.path)
		if _, err := os.Stat(filepath.Join(dir, probe)); err != nil {
			return "", "", false
		}
		return l.path, dir, true
	}
	return "", "", false
}

func (r Reader) path(p ...string) string {
	root := r.Root
	if root == "" {
		root = "/"
	}
	return filepath.Join(append([]string{root}, p...)...)
}

// Find returns the control group of process pid.
func (r Reader) Find(pid uint32) (Group, error) {
	data, err := os.ReadFile(r.path("proc", strconv.FormatUint(uint64(pid), 10), "cgroup"))
	if err != nil {
		return Group{}, fmt.Errorf("cgroup of process %d: %w: %w", pid, ErrNoGroup, err)
	}
	lines := parseProcCgroup(data)
	var g Group
	for _, l := range lines {
		for _, c := range strings.Split(l.controllers, ",") {
			switch c {
			case "memory":
				g.Path, g.memory = l.path, r.path("sys/fs/cgroup", l.controllers, l.path)
			case "cpuacct":
				g.cpu = r.path("sys/fs/cgroup", l.controllers, l.path)
			}
		}
	}
	if g.memory != "" && g.cpu != "" {
		return g, nil
	}
	// v2 without the memory controller has nothing to read.
	if path, dir, ok := r.unified(lines, "memory.current"); ok {
		return Group{Path: path, V2: true, memory: dir, cpu: dir}, nil
	}
	return Group{}, fmt.Errorf("cgroup of process %d: %w with memory and CPU accounting", pid, ErrNoGroup)
}

// Stats reads what g has used so far. It fails once the group is removed.
func (g Group) Stats() (Stats, error) {
	if g.V2 {
		return g.statsV2()
	}
	return g.statsV1()
}

func (g Group) statsV1() (Stats, error) {
	usage, err := readUint(filepath.Join(g.memory, "memory.usage_in_bytes"))
	if err != nil {
		return Stats{}, err
	}
	stat, err := os.ReadFile(filepath.Join(g.memory, "memory.stat"))
	if err != nil {
		return Stats{}, fmt.Errorf("read cgroup stats: %w", err)
	}
	inactive, ok := keyed(stat, "total_inactive_file")
	if !ok {
		inactive, _ = keyed(stat, "inactive_file")
	}
	cpu, err := readUint(filepath.Join(g.cpu, "cpuacct.usage"))
	if err != nil {
		return Stats{}, err
	}
	// oom_kill is there since Linux 4.13; older kernels count none.
	oom, _ := os.ReadFile(filepath.Join(g.memory, "memory.oom_control"))
	kills, _ := keyed(oom, "oom_kill")
	return Stats{MemoryBytes: usage - min(inactive, usage), CPU: time.Duration(cpu), OOMKills: kills}, nil
}

func (g Group) statsV2() (Stats, error) {
	current, err := readUint(filepath.Join(g.memory, "memory.current"))
	if err != nil {
		return Stats{}, err
	}
	stat, err := os.ReadFile(filepath.Join(g.memory, "memory.stat"))
	if err != nil {
		return Stats{}, fmt.Errorf("read cgroup stats: %w", err)
	}
	inactive, _ := keyed(stat, "inactive_file")
	cpuStat, err := os.ReadFile(filepath.Join(g.cpu, "cpu.stat"))
	if err != nil {
		return Stats{}, fmt.Errorf("read cgroup stats: %w", err)
	}
	usec, _ := keyed(cpuStat, "usage_usec")
	events, _ := os.ReadFile(filepath.Join(g.memory, "memory.events"))
	kills, _ := keyed(events, "oom_kill")
	return Stats{
		MemoryBytes: current - min(inactive, current),
		CPU:         time.Duration(usec) * time.Microsecond,
		OOMKills:    kills,
	}, nil
}

// Made returns when g was made: its directory's modification time, set
// when the kernel fills it with its files.
func (g Group) Made() (time.Time, error) {
	fi, err := os.Stat(g.cpu)
	if err != nil {
		return time.Time{}, fmt.Errorf("read cgroup: %w", err)
	}
	return fi.ModTime(), nil
}

// procLine is one line of /proc/PID/cgroup: "hierarchy:controllers:path".
type procLine struct {
	hierarchy, controllers, path string
}

// parseProcCgroup parses /proc/PID/cgroup, skipping malformed lines and
// paths that would leave the cgroup mount.
func parseProcCgroup(data []byte) []procLine {
	var out []procLine
	for line := range strings.SplitSeq(string(data), "\n") {
		id, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		ctrls, path, ok := strings.Cut(rest, ":")
		if !ok || !strings.HasPrefix(path, "/") || filepath.Clean(path) != path || strings.Contains(ctrls, "/") || ctrls == ".." {
			continue
		}
		out = append(out, procLine{id, ctrls, path})
	}
	return out
}

// keyed returns key's value in a flat keyed file ("key value" lines, as
// memory.stat, cpu.stat, memory.events and memory.oom_control are).
func keyed(data []byte, key string) (uint64, bool) {
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte(" "))
		if !ok || string(k) != key {
			continue
		}
		n, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// readUint reads a file holding one number, as memory.usage_in_bytes.
func readUint(path string) (uint64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read cgroup: %w", err)
	}
	n, err := strconv.ParseUint(string(bytes.TrimSpace(data)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read cgroup %s: %w", path, err)
	}
	return n, nil
}
