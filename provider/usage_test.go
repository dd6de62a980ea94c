package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/funcd/funcd/internal/api"
)

// fakeGroups gives the fake runtime's task PIDs 1..n cgroup v2 groups
// below the harness's fake host root, each using mib MiB and 2 s of CPU.
func fakeGroups(t *testing.T, h *harness, n int, mib uint64) {
	t.Helper()
	root := filepath.Join(h.dir, "host")
	write := func(p, content string) {
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n")
	for pid := 1; pid <= n; pid++ {
		g := fmt.Sprintf("/openfaas-fn/task-%d", pid)
		write(fmt.Sprintf("proc/%d/cgroup", pid), "0::"+g+"\n")
		write("sys/fs/cgroup"+g+"/memory.current", fmt.Sprint(mib<<20))
		write("sys/fs/cgroup"+g+"/memory.stat", "anon 1\ninactive_file 0\n")
		write("sys/fs/cgroup"+g+"/cpu.stat", "usage_usec 2000000\nuser_usec 2000000\n")
		write("sys/fs/cgroup"+g+"/memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n")
	}
}

func costOf(p *Provider, fn string) api.Cost {
	for _, c := range p.Costs() {
		if c.Function == fn {
			return c
		}
	}
	return api.Cost{}
}

func TestUsageAndCosts(t *testing.T) {
	h := newHarness(t)
	fakeGroups(t, h, 10, 30)
	ctx := context.Background()
	if err := h.p.Deploy(ctx, deployment("a", withLabel(labelScaleMin, "2"))); err != nil {
		t.Fatal(err)
	}
	eventually(t, "usage of both replicas", func() bool {
		u, ok := h.p.Usage("a", "openfaas-fn")
		return ok && u.TotalMemoryBytes == 60<<20
	})
	if _, ok := h.p.Usage("b", "openfaas-fn"); ok {
		t.Errorf("Usage of a missing function = ok, want false")
	}
	c := costOf(h.p, "a.openfaas-fn")
	want := api.Cost{Function: "a.openfaas-fn", MemoryBytes: 60 << 20, CPUSeconds: 4, Ready: 2, Desired: 2}
	if c != want {
		t.Errorf("Costs() = %+v, want %+v", c, want)
	}

	// The kernel kills one replica's process for want of memory; it is
	// restarted in a new group, and its CPU and OOM kill stay counted.
	id := h.rt.ids()[0]
	pid := h.rt.pidOf(id)
	events := filepath.Join(h.dir, "host", fmt.Sprintf("sys/fs/cgroup/openfaas-fn/task-%d/memory.events", pid))
	if err := os.WriteFile(events, []byte("low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.rt.crash(id)
	eventually(t, "restarted", func() bool { p := h.rt.pidOf(id); return p != 0 && p != pid })
	eventually(t, "the OOM kill counted", func() bool {
		c = costOf(h.p, "a.openfaas-fn")
		return c.OOMKills == 1 && c.CPUSeconds == 6 && c.Ready == 2
	})
	if c.MemoryBytes != 60<<20 {
		t.Errorf("memory after the restart = %d, want %d", c.MemoryBytes, 60<<20)
	}

	// Scaled to zero: nothing runs, the counters stay.
	if err := h.p.Scale(ctx, "a", "openfaas-fn", 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "at zero: no memory, 1 OOM kill, the CPU seconds of three tasks", func() bool {
		c = costOf(h.p, "a.openfaas-fn")
		return c.Ready == 0 && c.MemoryBytes == 0 && c.OOMKills == 1 && c.CPUSeconds == 6
	})
	if u, ok := h.p.Usage("a", "openfaas-fn"); ok {
		t.Errorf("Usage at zero = %+v, want none", u)
	}
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{{0, "none"}, {64 << 20, "64 MiB"}, {2 << 30, "2 GiB"}, {1536, "1536 bytes"}, {3 << 10, "3 KiB"}, {100_000_000, "100000000 bytes"}}
	for _, tt := range tests {
		if got := formatBytes(tt.n); got != tt.want {
			t.Errorf("formatBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
