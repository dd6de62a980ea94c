package provider

import (
	"fmt"
	"time"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/cgroups"
	"github.com/funcd/funcd/internal/containerd"
)

// What replicas cost is read from their control groups, only when asked
// (GET /system/functions, a scrape of /metrics): never on the invocation
// path. Each replica remembers the group of its current task; counters of
// tasks that ended are kept per function, so CPU seconds and OOM kills only
// grow while funcd runs.

// replicaCost is a replica's accounting, guarded by its function's costMu.
type replicaCost struct {
	group *cgroups.Group // of the running task; nil when none runs or it cannot be read
	last  cgroups.Stats  // the last read, kept for when the group is gone

	at         time.Time     // previous CPU measurement
	cpuAt      time.Duration // CPU time then
	millicores float64       // CPU used between the two last measurements
}

// functionCost is what a function's ended tasks used, guarded by costMu.
type functionCost struct {
	cpu      time.Duration
	oomKills uint64
}

// minCPUWindow is the shortest wall time a CPU rate is measured over;
// reads closer together return the previous rate.
const minCPUWindow = time.Second

// track finds the control group of r's task (just created or adopted).
func (p *Provider) track(f *function, r *replica) {
	g, err := p.cfg.Cgroups.Find(r.pid.Load())
	if err != nil {
		p.log.Debug("replica usage cannot be read", "replica", r.id, "err", err)
	}
	f.costMu.Lock()
	defer f.costMu.Unlock()
	r.cost = replicaCost{}
	if err == nil {
		r.cost.group = &g
	}
}

// retire moves what r's task used into its function's totals before the
// task is deleted (its group goes with it). exit is how it ended, nil when
// funcd stops it; an exit with OOM kills is logged.
func (p *Provider) retire(f *function, r *replica, exit *containerd.Exit) {
	f.costMu.Lock()
	defer f.costMu.Unlock()
	if r.cost.group == nil {
		return
	}
	if s, err := r.cost.group.Stats(); err == nil {
		r.cost.last = s
	}
	f.cost.cpu += r.cost.last.CPU
	f.cost.oomKills += r.cost.last.OOMKills
	if exit != nil && r.cost.last.OOMKills > 0 {
		rec, _ := f.snapshot()
		p.log.Warn(fmt.Sprintf("function %s.%s replica %s killed: out of memory (limit %s)",
			r.fn, r.ns, r.id, formatBytes(memoryLimit(rec.Spec))),
			"replica", r.id, "code", exit.Code, "oom_kills", r.cost.last.OOMKills)
	}
	r.cost = replicaCost{}
}

// sample reads r's group now; false when nothing runs or it cannot be
// read. Called with costMu held.
func (c *replicaCost) sample(now time.Time) (cgroups.Stats, bool) {
	if c.group == nil {
		return cgroups.Stats{}, false
	}
	s, err := c.group.Stats()
	if err != nil {
		return c.last, false
	}
	c.last = s
	if c.at.IsZero() { // first look: the rate since the group was made
		c.at = now
		if made, err := c.group.Made(); err == nil && made.Before(now) {
			c.at = made
		}
	}
	if d := now.Sub(c.at); d >= minCPUWindow {
		c.millicores = float64(s.CPU-c.cpuAt) / float64(d) * 1000
		c.at, c.cpuAt = now, s.CPU
	}
	return s, true
}

// Usage returns what name.ns's running replicas use now, summed; false
// when none runs or none can be read.
func (p *Provider) Usage(name, ns string) (api.FunctionUsage, bool) {
	f := p.get(key{ns, name})
	if f == nil {
		return api.FunctionUsage{}, false
	}
	_, rs := f.snapshot()
	now := time.Now()
	var u api.FunctionUsage
	var any bool
	f.costMu.Lock()
	defer f.costMu.Unlock()
	for _, r := range rs {
		if s, ok := r.cost.sample(now); ok {
			u.TotalMemoryBytes += float64(s.MemoryBytes)
			u.CPU += r.cost.millicores
			any = true
		}
	}
	return u, any
}

// Costs returns what every function has used, for metrics.
func (p *Provider) Costs() []api.Cost {
	p.mu.RLock()
	fns := make(map[key]*function, len(p.fns))
	for k, f := range p.fns {
		fns[k] = f
	}
	p.mu.RUnlock()
	now := time.Now()
	out := make([]api.Cost, 0, len(fns))
	for k, f := range fns {
		rec, rs := f.snapshot()
		c := api.Cost{Function: k.String(), Desired: rec.Replicas, Ready: uint64(f.eps.count()), Frozen: uint64(f.frozenCount())}
		f.costMu.Lock()
		cpu, kills := f.cost.cpu, f.cost.oomKills
		for _, r := range rs {
			s, _ := r.cost.sample(now) // a group gone since: its last read
			c.MemoryBytes += s.MemoryBytes
			cpu += s.CPU
			kills += s.OOMKills
		}
		f.costMu.Unlock()
		c.CPUSeconds, c.OOMKills = cpu.Seconds(), kills
		out = append(out, c)
	}
	return out
}

// formatBytes writes a memory limit the way people set it: "64 MiB".
func formatBytes(n int64) string {
	switch {
	case n <= 0:
		return "none"
	case n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
