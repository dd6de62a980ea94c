package main

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// funcd's own memory. An idle funcd holds a few MB of live heap; what makes
// its RSS grow is the heap left behind by a burst of work (a queue burst,
// many deploys): Go keeps freed pages for reuse and hands them back to the
// kernel only slowly (the background scavenger returns about 1% of a CPU's
// worth of pages, keeping 10% over the heap goal). Two settings bound it:
//
//   - a soft memory limit (--go-memory-limit, default 32Mi): the garbage
//     collector runs earlier and the scavenger returns pages eagerly as
//     the Go-managed memory nears it. It is soft: a heap that really needs
//     more gets more (the runtime caps the collector at about half the CPU
//     rather than fail), so it only costs CPU while above the limit. That
//     cost is why the limit follows the live heap (limitFor): with a
//     thousand functions the live heap and stacks alone near 32 MiB, and a
//     fixed limit had the collector run more than once a second while
//     idle, and take a fifth of funcd's CPU while it started.
//   - trimming (trimMemory): once the process has gone quiet after work,
//     one forced collection frees the work's garbage and returns its
//     pages at once, instead of over many minutes.

// trimEvery is how often trimMemory looks, and trimGrowth how far the Go
// memory held from the kernel must have grown since the last trim to make
// another worth a collection.
const (
	trimEvery  = 10 * time.Second
	trimGrowth = 4 << 20
)

// limitHeadroom is what limitFor allows beyond twice the live heap and the
// stacks: the runtime's own metadata and the pages the scavenger has not
// returned yet.
const limitHeadroom = 8 << 20

// limitFor is the soft memory limit to apply for --go-memory-limit
// configured (0: none is applied) with live bytes of live heap and stacks
// bytes of goroutine stacks: configured, unless the live data needs more
// room to be collected at the Go runtime's usual pace (a heap goal of
// twice the live heap, GOGC=100). The limit then bounds what a burst
// leaves behind without making the collector run all the time for data
// that is simply live.
func limitFor(configured int64, live, stacks uint64) int64 {
	if configured <= 0 {
		return 0
	}
	return max(configured, int64(2*live+stacks+limitHeadroom))
}

// trimMemory hands memory back to the kernel once funcd is quiet after
// work: when, between two looks trimEvery apart, at most one collection ran
// (a busy funcd collects many times a second) and the Go memory held from
// the kernel grew by trimGrowth since the last trim. The garbage of a burst
// is then not even collected yet (an idle heap is collected every two
// minutes), so a forced collection frees it and returns its pages at once.
// That costs a few milliseconds of one CPU, at most once per trimEvery and
// only after work.
//
// It also keeps the soft memory limit at limitFor(limit, ...), from its
// first look on: start-up (restoring every function) runs without it.
func trimMemory(ctx context.Context, limit int64, log *slog.Logger) {
	samples := []metrics.Sample{
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/memory/classes/total:bytes"},         // mapped by the runtime
		{Name: "/memory/classes/heap/released:bytes"}, // of which returned
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/heap/stacks:bytes"},
	}
	applied := int64(0)
	held := func() uint64 { return samples[1].Value.Uint64() - samples[2].Value.Uint64() }
	metrics.Read(samples)
	tr := trimmer{cycles: samples[0].Value.Uint64(), base: held()}
	tick := time.NewTicker(trimEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		metrics.Read(samples)
		if l := limitFor(limit, samples[3].Value.Uint64(), samples[4].Value.Uint64()); l > 0 && (l > applied+1<<20 || l < applied-1<<20) {
			debug.SetMemoryLimit(l)
			log.Debug("soft memory limit", "bytes", l, "configured", limit)
			applied = l
		}
		now := held()
		if !tr.due(samples[0].Value.Uint64(), now) {
			continue
		}
		debug.FreeOSMemory()
		metrics.Read(samples)
		tr.trimmed(samples[0].Value.Uint64(), held())
		log.Debug("returned memory to the kernel", "held_before", now, "held_after", tr.base)
	}
}

// trimmer is trimMemory's decision: the count of collections at the last
// look and the bytes held after the last trim.
type trimmer struct{ cycles, base uint64 }

// due reports whether to trim, given the count of collections and the
// bytes held now.
func (t *trimmer) due(cycles, held uint64) bool {
	quiet := cycles-t.cycles <= 1
	t.cycles = cycles
	if held < t.base {
		t.base = held // the scavenger returned some by itself
	}
	return quiet && held >= t.base+trimGrowth
}

// trimmed records a trim.
func (t *trimmer) trimmed(cycles, held uint64) { t.cycles, t.base = cycles, held }
