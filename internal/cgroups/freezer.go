package cgroups

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Freezer is one process's control group as the cgroup freezer sees it:
// freezing it stops every process in it where it stands (no signal, no
// CPU; memory stays), thawing lets them go on. v1 has a freezer
// hierarchy (freezer.state: FROZEN, FREEZING, THAWED); v2 has the
// cgroup.freeze file in every group, and says when the group is frozen
// in cgroup.events.
type Freezer struct {
	Dir string // the group's directory in the freezer (v1) or unified (v2) hierarchy
	V2  bool
}

// Freezer returns the freezer of process pid's control group.
func (r Reader) Freezer(pid uint32) (Freezer, error) {
	data, err := os.ReadFile(r.path("proc", fmt.Sprint(pid), "cgroup"))
	if err != nil {
		return Freezer{}, fmt.Errorf("cgroup of process %d: %w: %w", pid, ErrNoGroup, err)
	}
	lines := parseProcCgroup(data)
	for _, l := range lines {
		for _, c := range strings.Split(l.controllers, ",") {
			if c == "freezer" {
				return Freezer{Dir: r.path("sys/fs/cgroup", l.controllers, l.path)}, nil
			}
		}
	}
	// The root group, or a kernel before 5.2, has no cgroup.freeze.
	if _, dir, ok := r.unified(lines, "cgroup.freeze"); ok {
		return Freezer{Dir: dir, V2: true}, nil
	}
	return Freezer{}, fmt.Errorf("cgroup of process %d: %w with a freezer", pid, ErrNoGroup)
}

// freezePoll is how often Freeze looks whether the kernel has finished.
const freezePoll = 100 * time.Microsecond

// Freeze freezes the group and waits until every process in it is frozen
// or ctx ends (then it thaws the group again and fails): a process in an
// uninterruptible sleep is only frozen once it wakes.
func (f Freezer) Freeze(ctx context.Context) error {
	if err := f.write(true); err != nil {
		return err
	}
	for {
		frozen, err := f.Frozen()
		if err == nil && frozen {
			return nil
		}
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			_ = f.write(false)
			return fmt.Errorf("freeze %s: %w", f.Dir, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(freezePoll):
		}
	}
}

// Thaw lets the group's processes run again. It does not wait: the
// kernel wakes them as it returns.
func (f Freezer) Thaw() error { return f.write(false) }

// Frozen reports whether the freezing has finished (v1 says FREEZING
// until then; v2's cgroup.events says "frozen 1").
func (f Freezer) Frozen() (bool, error) {
	if f.V2 {
		data, err := os.ReadFile(filepath.Join(f.Dir, "cgroup.events"))
		if err != nil {
			return false, fmt.Errorf("read cgroup: %w", err)
		}
		n, ok := keyed(data, "frozen")
		return ok && n == 1, nil
	}
	data, err := os.ReadFile(filepath.Join(f.Dir, "freezer.state"))
	if err != nil {
		return false, fmt.Errorf("read cgroup: %w", err)
	}
	return string(bytes.TrimSpace(data)) == "FROZEN", nil
}

func (f Freezer) write(freeze bool) error {
	name, value := "freezer.state", "THAWED"
	if f.V2 {
		name, value = "cgroup.freeze", "0"
	}
	if freeze && f.V2 {
		value = "1"
	} else if freeze {
		value = "FROZEN"
	}
	// O_WRONLY without O_CREATE or O_TRUNC: a cgroup file is written as is.
	file, err := os.OpenFile(filepath.Join(f.Dir, name), os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("write cgroup: %w", err)
	}
	_, err = file.WriteString(value)
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write cgroup %s: %w", name, err)
	}
	return nil
}
