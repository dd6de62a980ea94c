package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// goal is one line of the closing table: a figure the run measured, what
// funcd wants of it, and whether this run got it.
type goal struct {
	section  string // the -only section that measures it
	figure   string
	measured string
	wanted   string
	met      bool
}

// goals lists the figures of the sections that ran, in the order of
// issue 12's table, so one glance at the end of `make bench` says what
// holds on this machine today. Each section's own report above it has
// the detail.
func goals(cfg config, m measurements) []goal {
	var gs []goal
	add := func(g goal) {
		if cfg.runs(g.section) {
			gs = append(gs, g)
		}
	}
	ratio := 0.0
	if m.direct32.rps > 0 {
		ratio = m.through32.rps / m.direct32.rps
	}
	add(goal{"warm", "warm path through/direct, 32 conns", fmt.Sprintf("%.1f%%", 100*ratio),
		fmt.Sprintf(">= %.0f%%", 100*minThroughputRatio), ratio >= minThroughputRatio})
	added := m.through1.p50 - m.direct1.p50
	add(goal{"warm", "p50 added latency, 1 conn", fmt.Sprintf("%+d µs", added.Microseconds()),
		fmt.Sprintf("<= %d µs", maxAddedP50.Microseconds()), added <= maxAddedP50})
	add(goal{"warm", "funcd idle RSS", megabytes(m.idleRSS), "< " + megabytes(maxIdleRSS), m.idleRSS < maxIdleRSS})
	var cold, floor []time.Duration
	for _, r := range m.cold.funcd {
		cold = append(cold, r.total)
	}
	for _, r := range m.cold.floor {
		floor = append(floor, r.total)
	}
	fs, ff := summarize(cold), summarize(floor)
	r := 0.0
	if ff.p50 > 0 {
		r = float64(fs.p50) / float64(ff.p50)
	}
	add(goal{"cold", "cold start p50 / floor p50", fmt.Sprintf("%.2fx", r), fmt.Sprintf("<= %.1fx", maxColdFloorRatio), r > 0 && r <= maxColdFloorRatio})
	add(goal{"cold", "cold start p50", millis(fs.p50), "< " + millis(maxColdP50), fs.n > 0 && fs.p50 < maxColdP50})
	addDensity(add, m.density)
	return gs
}

// addDensity adds the density section's figures (issue 12 §2 and the
// rows "deploy time as functions grow", "CPU of idle replicas" and
// "memory per replica outside the function").
func addDensity(add func(goal), d densityResults) {
	drift := 0.0
	if d.first > 0 {
		drift = d.last/d.first - 1
	}
	add(goal{"density", fmt.Sprintf("deploys/s, last %d of %d vs first", min(densityWindow, d.n), d.n), fmt.Sprintf("%+.0f%%", 100*drift),
		fmt.Sprintf("within ±%.0f%%", 100*maxDeployDrift), d.first > 0 && drift >= -maxDeployDrift && drift <= maxDeployDrift})
	pss := d.shimPSS + d.logPSS
	add(goal{"density", "PSS per replica, shim + log capture", mib(pss), "<= " + mib(maxReplicaPSS), d.replicas > 0 && pss <= maxReplicaPSS})
	add(goal{"density", fmt.Sprintf("CPU of %d idle replicas", d.replicas), fmt.Sprintf("%.2f%% of a core", 100*d.cpu),
		fmt.Sprintf("< %.0f%%", 100*maxIdleCPU), d.replicas > 0 && d.cpu < maxIdleCPU})
	r := 0.0
	if d.warmBefore > 0 {
		r = d.warmAfter / d.warmBefore
	}
	add(goal{"density", fmt.Sprintf("warm path with %d idle replicas / without", d.replicas), fmt.Sprintf("%.2fx", r),
		fmt.Sprintf(">= %.2fx", minIdleWarmRatio), r >= minIdleWarmRatio})
	add(goal{"density", fmt.Sprintf("start-up with %d functions recorded", d.n+1), millis(d.restart), "< " + millis(maxRestart), d.restart > 0 && d.restart < maxRestart})
	add(goal{"density", "left after removing all", orNothing(d.left), "nothing", len(d.left) == 0})
}

// reportGoals prints the closing table.
func reportGoals(w io.Writer, gs []goal) {
	if len(gs) == 0 {
		return
	}
	fmt.Fprintln(w, "summary: every figure against its target")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tmeasured\twanted\t")
	for _, g := range gs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", g.figure, g.measured, g.wanted, verdict(g.met))
	}
	tw.Flush()
}
