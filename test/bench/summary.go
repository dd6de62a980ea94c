package main

import (
	"fmt"
	"io"
	"strconv"
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
	wr := warmRatios(m)
	add(goal{"warm", "warm path through/direct (through/floor), 32 conns",
		fmt.Sprintf("%.1f%% (%.1f%%; floor/direct %.1f%%)", 100*wr.direct, 100*wr.floor, 100*wr.floorDirect),
		fmt.Sprintf(">= %.0f%% (or >= %.0f%% of floor)", 100*minThroughputRatio, 100*minFloorRatio), wr.met()})
	added := m.through1.p50 - m.direct1.p50
	add(goal{"warm", "p50 added latency, 1 conn", fmt.Sprintf("%+d µs", added.Microseconds()),
		fmt.Sprintf("<= %d µs", maxAddedP50.Microseconds()), added <= maxAddedP50})
	for _, g := range memoryGoals(cfg, m) {
		add(g)
	}
	o := m.overhead
	add(goal{"overhead", "memory per replica outside the function (PSS)", mebibytes(o.perReplica()),
		"<= " + mebibytes(maxReplicaOverhead), o.n > 0 && o.perReplica() <= maxReplicaOverhead})
	add(goal{"overhead", "log driver processes (an exec on every cold start)", strconv.Itoa(o.drivers), "0", o.n > 0 && o.drivers == 0})
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
	qr, _, _ := medianBurst(m.queue.many)
	add(goal{"queue", "queue accepted/s, fsync on, 32 posters", fmt.Sprintf("%.0f", qr.acceptedRate()),
		fmt.Sprintf(">= %d", minQueueAccepted), cfg.queueFsync && qr.acceptedRate() >= minQueueAccepted})
	share := 0.0
	if len(m.queue.sync) > 0 && median(m.queue.sync).rps > 0 {
		share = qr.completedRate() / median(m.queue.sync).rps
	}
	add(goal{"queue", "queue completed/s / sync req/s, same function", fmt.Sprintf("%.1f%%", 100*share),
		fmt.Sprintf(">= %.0f%%", 100*minQueueCompletedShare), cfg.queueFsync && share >= minQueueCompletedShare})
	fz, fl := summarize(m.freeze.funcd), summarize(m.freeze.floor)
	add(goal{"freeze", "wake from frozen p50", millis(fz.p50), "<= " + millis(maxFreezeWake), fz.n > 0 && fz.p50 <= maxFreezeWake})
	add(goal{"freeze", "freezer resume floor p50", millis(fl.p50), "(the floor)", fl.n > 0})
	addDensity(add, m.density)
	addUI(add, m.ui)
	return gs
}

// Issue 12's targets for the durable queue (fsync on) at 32 posters.
const (
	minQueueAccepted       = 10_000 // 202s per second
	minQueueCompletedShare = 0.5    // completed/s over the synchronous req/s of the same function
)

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
	add(goal{"density", "PSS per replica, shim + log capture", mebibytes(pss), "<= " + mebibytes(maxReplicaPSS), d.replicas > 0 && pss <= maxReplicaPSS})
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
