package provider

import (
	"fmt"
	"math"

	"github.com/funcd/funcd/internal/api"
)

// memoryLimit is a deployment's memory limit in bytes (0 when unset). The
// spec is validated before this is called.
func memoryLimit(d api.FunctionDeployment) int64 {
	if d.Limits == nil || d.Limits.Memory == "" {
		return 0
	}
	n, _ := api.ParseMemory(d.Limits.Memory)
	return n
}

// cpuLimit is a deployment's CPU limit in millicores (0 when unset).
func cpuLimit(d api.FunctionDeployment) int64 {
	if d.Limits == nil || d.Limits.CPU == "" {
		return 0
	}
	n, _ := api.ParseCPU(d.Limits.CPU)
	return n
}

// reserveMemory claims memory for function k running n replicas of d, refusing
// when the sum of all memory limits would go over the host budget. The
// claim stands for k until releaseMemory; committed functions count through
// their records. Functions without a memory limit count nothing.
func (p *Provider) reserveMemory(k key, d api.FunctionDeployment, n uint64) error {
	want := memoryTimes(memoryLimit(d), n)
	if p.cfg.MemoryBudget <= 0 || want == 0 {
		return nil
	}
	p.budgetMu.Lock()
	defer p.budgetMu.Unlock()
	var used int64
	p.mu.RLock()
	for fk, f := range p.fns {
		if fk == k {
			continue
		}
		rec, _ := f.snapshot()
		used = memoryPlus(used, memoryTimes(memoryLimit(rec.Spec), rec.Replicas))
	}
	p.mu.RUnlock()
	for rk, r := range p.reserved {
		if rk != k {
			used = memoryPlus(used, r)
		}
	}
	if memoryPlus(used, want) > p.cfg.MemoryBudget {
		return fmt.Errorf("%w: memory budget exceeded: %s needs %d × %s = %s, the other functions hold %s, and the host budget is %s (--memory-budget)",
			ErrInvalid, k, n, api.FormatBytes(memoryLimit(d)), api.FormatBytes(want), api.FormatBytes(used), api.FormatBytes(p.cfg.MemoryBudget))
	}
	if p.reserved == nil {
		p.reserved = map[key]int64{}
	}
	p.reserved[k] = want
	return nil
}

// releaseMemory drops k's claim, once the operation committed or failed.
func (p *Provider) releaseMemory(k key) {
	p.budgetMu.Lock()
	delete(p.reserved, k)
	p.budgetMu.Unlock()
}

// memoryTimes is n replicas of limit bytes, saturating at MaxInt64: a
// limit of exabytes times a few replicas must not wrap around to a small
// or negative sum that fits any budget.
func memoryTimes(limit int64, n uint64) int64 {
	if limit <= 0 || n == 0 {
		return 0
	}
	if n > uint64(math.MaxInt64/limit) {
		return math.MaxInt64
	}
	return limit * int64(n)
}

// memoryPlus adds two non-negative byte counts, saturating at MaxInt64.
func memoryPlus(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
