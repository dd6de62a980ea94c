package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// memory is funcd's resident memory at one moment, in bytes: VmRSS, and
// of it RssAnon (its own pages: heap, stacks) and RssFile (pages of
// files, nearly all its own binary's text and read-only data, clean and
// in the page cache whether funcd maps them or not); pss is the
// proportional set size, shared pages split among the processes that map
// them (the log drivers run the same binary).
type memory struct {
	rss, anon, file, pss int64
}

// readMemory reads funcd's memory from /proc/PID/status and smaps_rollup.
func readMemory(pid int) (memory, error) {
	var m memory
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, fmt.Errorf("funcd memory: %w", err)
	}
	rollup, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return m, fmt.Errorf("funcd memory: %w", err)
	}
	for _, f := range []struct {
		text, name string
		to         *int64
	}{
		{string(status), "VmRSS", &m.rss},
		{string(status), "RssAnon", &m.anon},
		{string(status), "RssFile", &m.file},
		{string(rollup), "Pss", &m.pss},
	} {
		if *f.to, err = kBField(f.text, f.name); err != nil {
			return m, fmt.Errorf("funcd memory: %w", err)
		}
	}
	return m, nil
}

// kBField returns the value of the line "NAME: N kB" of a /proc file, in
// bytes.
func kBField(text, name string) (int64, error) {
	for line := range strings.Lines(text) {
		rest, ok := strings.CutPrefix(line, name+":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 2 && f[1] == "kB" {
			if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil && kb >= 0 {
				return kb << 10, nil
			}
		}
		return 0, fmt.Errorf("cannot read %q", strings.TrimSpace(line))
	}
	return 0, fmt.Errorf("no %s", name)
}

// idleMemory waits for idle, then reads funcd's memory.
func (t *target) idleMemory(ctx context.Context, idle time.Duration) (memory, error) {
	select {
	case <-ctx.Done():
		return memory{}, ctx.Err()
	case <-time.After(idle):
	}
	return readMemory(t.funcd.PID())
}

// cpuTime returns the CPU time funcd has used, user and system, all its
// threads, from /proc/PID/stat (in ticks of 1/100 s, Linux's USER_HZ).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("funcd CPU time: %w", err)
	}
	return statCPU(string(b))
}

// statCPU reads utime + stime from the text of /proc/PID/stat.
func statCPU(stat string) (time.Duration, error) {
	f, ok := statFields(stat) // from field 3, state
	if !ok || len(f) < 13 {
		return 0, fmt.Errorf("funcd CPU time: cannot read %q", stat)
	}
	var ticks int64
	for _, s := range f[11:13] { // fields 14 and 15
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("funcd CPU time: cannot read %q", stat)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// reportMemory prints funcd's memory idle, after the warm load, right
// after the queue bursts and rssSettle later, with the VmRSS targets; the
// idle figure is the warm section's when it ran, and the queue section's
// otherwise.
func reportMemory(w io.Writer, cfg config, m measurements) {
	idle := idleMemory(m)
	if idle.rss == 0 {
		return
	}
	limit := cfg.goMemoryLimit
	if limit == "" {
		limit = "funcd's default"
	}
	fmt.Fprintf(w, "funcd memory (--go-memory-limit %s):\n", limit)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "when\tVmRSS\tRssAnon\tRssFile\tPss\twanted\t")
	row := func(when string, mem memory, want int64) {
		wanted := ""
		if want > 0 {
			wanted = "VmRSS < " + megabytes(want) + "\t" + verdict(mem.rss < want)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", when, megabytes(mem.rss), megabytes(mem.anon), megabytes(mem.file), megabytes(mem.pss), wanted)
	}
	row("idle, after the deploy and "+cfg.idle.String(), idle, maxIdleRSS)
	if m.loadRSS.rss > 0 {
		row("after the warm loads", m.loadRSS, 0)
	}
	if cfg.runs("queue") {
		row("right after the queue bursts drained", m.queue.burstRSS, maxBurstRSS)
		row(rssSettle.String()+" after the bursts", m.queue.settledRSS, maxSettledRSS)
	}
	tw.Flush()
	if m.warmCPU > 0 && m.warmRequests > 0 {
		fmt.Fprintf(w, "funcd CPU over the warm section: %v (%.1f µs per request through it)\n", m.warmCPU, float64(m.warmCPU.Microseconds())/float64(m.warmRequests))
	}
	if q := m.queue; q.burstCPU > 0 {
		fmt.Fprintf(w, "funcd CPU over the queue bursts: %v (%.1f µs per queued invocation)\n", q.burstCPU, float64(q.burstCPU.Microseconds())/float64(q.invocations()))
	}
	fmt.Fprintln(w)
}

// idleMemory is the idle reading: the warm section's, else the queue's.
func idleMemory(m measurements) memory {
	if m.idleRSS.rss != 0 {
		return m.idleRSS
	}
	return m.queue.idleRSS
}

// memoryGoals are the closing table's lines for funcd's RSS.
func memoryGoals(cfg config, m measurements) []goal {
	idle := idleMemory(m)
	if idle.rss == 0 {
		return nil
	}
	section := "warm"
	if m.idleRSS.rss == 0 {
		section = "queue"
	}
	gs := []goal{{section, "funcd idle RSS", megabytes(idle.rss), "< " + megabytes(maxIdleRSS), idle.rss < maxIdleRSS}}
	if cfg.runs("queue") {
		s := m.queue.settledRSS.rss
		gs = append(gs, goal{"queue", "funcd RSS " + rssSettle.String() + " after the queue bursts", megabytes(s), "< " + megabytes(maxSettledRSS), s < maxSettledRSS})
	}
	return gs
}
