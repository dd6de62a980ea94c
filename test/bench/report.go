package main

import (
	"fmt"
	"io"
	"runtime"
	"text/tabwriter"
	"time"
)

// The targets the report checks the figures against.
const (
	minThroughputRatio = 0.40                   // through/direct req/s at 32 connections
	maxAddedP50        = 200 * time.Microsecond // through p50 - direct p50 at 1 connection
	maxIdleRSS         = 40_000_000             // bytes (40 MB)
)

// report prints the figures of the sections that ran, each followed by
// its targets with PASS or MISS.
func report(w io.Writer, cfg config, t *target, m measurements) {
	if cfg.runs("warm") || cfg.runs("replicas") {
		reportWarm(w, cfg, t, m)
	} else {
		fmt.Fprintf(w, "funcd benchmark: %d CPUs, image %s\n\n", runtime.NumCPU(), t.image)
	}
	if cfg.runs("cold") {
		reportCold(w, m.cold)
		fmt.Fprintln(w)
	}
	if cfg.runs("queue") {
		reportQueue(w, cfg, m.queue, m.through32.rps)
	}
	if cfg.runs("density") {
		reportDensity(w, m.density)
	}
	reportGoals(w, goals(cfg, m))
}

// reportWarm prints the warm figures, through funcd and direct, and by
// replicas, with their targets.
func reportWarm(w io.Writer, cfg config, t *target, m measurements) {
	fmt.Fprintf(w, "funcd warm invocation benchmark: %d CPUs, wrk %v per run after %v of warm-up, median of %d alternating rounds\n", runtime.NumCPU(), cfg.duration, cfg.warmup, cfg.rounds)
	fmt.Fprintf(w, "function %s: test/testfn %q (static \"ok\"), image %s\n", fnName, benchPath, t.image)
	fmt.Fprintf(w, "  through funcd: %s\n  direct:        %s\n\n", t.through, t.direct)
	if cfg.runs("replicas") && !cfg.runs("warm") {
		reportReplicas(w, m.replicas)
		return
	}

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\tconns\treq/s\tp50\tp99\trequests\terrors\t")
	for _, row := range []struct {
		path  string
		conns int
		r     result
	}{
		{"direct", 1, m.direct1},
		{"through funcd", 1, m.through1},
		{"direct", 32, m.direct32},
		{"through funcd", 32, m.through32},
	} {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%s\t%d\t%d\t\n", row.path, row.conns, row.r.rps, micros(row.r.p50), micros(row.r.p99), row.r.requests, row.r.errors)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nfuncd RSS: %s idle (after the deploy and %v idle), %s after the load\n\n", megabytes(m.idleRSS), cfg.idle, megabytes(m.loadRSS))
	if cfg.runs("replicas") {
		reportReplicas(w, m.replicas)
	}

	ratio := 0.0
	if m.direct32.rps > 0 {
		ratio = m.through32.rps / m.direct32.rps
	}
	added := m.through1.p50 - m.direct1.p50
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target\tmeasured\twanted\t")
	fmt.Fprintf(tw, "throughput through/direct, 32 conns\t%.1f%%\t>= %.0f%%\t%s\n", 100*ratio, 100*minThroughputRatio, verdict(ratio >= minThroughputRatio))
	fmt.Fprintf(tw, "p50 added latency, 1 conn\t%+d µs\t<= %d µs\t%s\n", added.Microseconds(), maxAddedP50.Microseconds(), verdict(added <= maxAddedP50))
	fmt.Fprintf(tw, "funcd idle RSS\t%s\t< %s\t%s\n", megabytes(m.idleRSS), megabytes(maxIdleRSS), verdict(m.idleRSS < maxIdleRSS))
	tw.Flush()
	if n := m.direct1.errors + m.through1.errors + m.direct32.errors + m.through32.errors + m.replicas.one.errors + m.replicas.two.errors; n > 0 {
		fmt.Fprintf(w, "\nwarning: %d failed requests (non-2xx or socket errors): the figures are suspect\n", n)
	}
	fmt.Fprintln(w)
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

func micros(d time.Duration) string { return fmt.Sprintf("%d µs", d.Microseconds()) }

func megabytes(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }
