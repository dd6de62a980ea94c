package main

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
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
//     rather than fail), so it only costs CPU while above the limit.
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

// setMemoryLimit applies --go-memory-limit: 0 keeps the Go runtime's own
// (GOMEMLIMIT from the environment, else none).
func setMemoryLimit(limit int64, log *slog.Logger) {
	if limit <= 0 {
		return
	}
	debug.SetMemoryLimit(limit)
	log.Debug("soft memory limit", "bytes", limit)
}

// trimMemory hands memory back to the kernel once funcd is quiet after
// work: when, between two looks trimEvery apart, at most one collection ran
// (a busy funcd collects many times a second) and the Go memory held from
// the kernel grew by trimGrowth since the last trim. The garbage of a burst
// is then not even collected yet (an idle heap is collected every two
// minutes), so a forced collection frees it and returns its pages at once.
// That costs a few milliseconds of one CPU, at most once per trimEvery and
// only after work; then the binary's pages the work touched are released
// too (releaseCode).
func trimMemory(ctx context.Context, log *slog.Logger) {
	samples := []metrics.Sample{
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/memory/classes/total:bytes"},         // mapped by the runtime
		{Name: "/memory/classes/heap/released:bytes"}, // of which returned
	}
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
		now := held()
		if !tr.due(samples[0].Value.Uint64(), now) {
			continue
		}
		debug.FreeOSMemory()
		releaseCode(log)
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

// releaseCode drops this process's page mappings of its own binary's code
// and read-only data (text, rodata, pclntab: about 30 MB of a 34 MB
// binary). The kernel maps these pages from the page cache on demand,
// many at a time around each one touched, so after start-up nearly the
// whole binary counts in funcd's RSS although an idle funcd uses a small
// part of it. MADV_DONTNEED on a read-only file mapping none of whose pages
// was ever written only unmaps them: they stay in the page cache (shared
// with the log drivers, which run the same binary), and a page touched
// again is mapped back with a minor fault, as after the kernel reclaimed
// it under memory pressure. A mapping with any page of its own (Anonymous
// in smaps: e.g. relocations a dynamic loader wrote before making it
// read-only, as in a cgo or PIE build) is left alone, as are writable ones.
func releaseCode(log *slog.Logger) {
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		log.Debug("release code pages", "err", err)
		return
	}
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		log.Debug("release code pages", "err", err)
		return
	}
	for _, r := range cleanReadOnlyMappings(string(smaps), exe) {
		// A whole mapping, so page-aligned; the raw call as it is not
		// Go memory to make a slice of.
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, r.start, r.end-r.start, unix.MADV_DONTNEED); errno != 0 {
			log.Debug("release code pages", "err", errno)
		}
	}
}

// mapping is an address range of /proc/PID/smaps.
type mapping struct{ start, end uintptr }

// cleanReadOnlyMappings returns, from the text of /proc/PID/smaps, the
// private mappings of the file path that are neither writable nor shared
// and hold no page of their own (Anonymous: 0 kB).
func cleanReadOnlyMappings(smaps, path string) []mapping {
	var out []mapping
	var cur mapping
	ok := false
	flush := func() {
		if ok {
			out = append(out, cur)
		}
		ok = false
	}
	for line := range strings.Lines(smaps) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if !strings.HasSuffix(f[0], ":") { // address perms offset dev inode [pathname]
			flush()
			cur, ok = readOnlyMapping(line, f, path)
			continue
		}
		if f[0] == "Anonymous:" && (len(f) < 2 || f[1] != "0") {
			ok = false
		}
	}
	flush()
	return out
}

// readOnlyMapping parses a mapping's header line of smaps, split into f,
// and reports whether it is a private, read-only mapping of path.
func readOnlyMapping(line string, f []string, path string) (mapping, bool) {
	if len(f) < 6 || len(f[1]) != 4 || f[1][0] != 'r' || f[1][1] != '-' || f[1][3] != 'p' {
		return mapping{}, false
	}
	// The pathname may hold spaces.
	if strings.TrimSpace(line[strings.Index(line, f[5]):]) != path {
		return mapping{}, false
	}
	lo, hi, ok := strings.Cut(f[0], "-")
	if !ok {
		return mapping{}, false
	}
	start, err1 := strconv.ParseUint(lo, 16, 64)
	end, err2 := strconv.ParseUint(hi, 16, 64)
	if err1 != nil || err2 != nil || end <= start {
		return mapping{}, false
	}
	return mapping{uintptr(start), uintptr(end)}, true
}
