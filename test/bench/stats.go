package main

import (
	"bufio"
	"slices"
	"strings"
	"time"
)

// summary is the distribution of a set of durations.
type summary struct {
	n                  int
	p50, p99, min, max time.Duration
}

// summarize returns the nearest-rank percentiles and the extremes of ds
// (with 30 samples the p99 is the maximum). An empty ds gives n == 0.
func summarize(ds []time.Duration) summary {
	if len(ds) == 0 {
		return summary{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return summary{n: len(s), p50: percentile(s, 50), p99: percentile(s, 99), min: s[0], max: s[len(s)-1]}
}

// percentile returns the nearest-rank p-th percentile of sorted s: the
// smallest value with at least p% of the samples at or below it.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	return sorted[max(rank, 1)-1]
}

// medianDuration is the 50th percentile of ds, or 0 for none.
func medianDuration(ds []time.Duration) time.Duration { return summarize(ds).p50 }

// scaledFromZero returns, in order, the durations funcd logged for its
// wake-ups of function (NAME.NAMESPACE): lines of slog's text format such
// as `time=... level=INFO msg="scaled from zero" function=f.ns in=85.2ms`.
func scaledFromZero(log, function string) []time.Duration {
	var out []time.Duration
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, ` msg="scaled from zero" `) {
			continue
		}
		var fn, in string
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "function="); ok {
				fn = v
			} else if v, ok := strings.CutPrefix(f, "in="); ok {
				in = v
			}
		}
		if fn != function {
			continue
		}
		if d, err := time.ParseDuration(in); err == nil {
			out = append(out, d)
		}
	}
	return out
}
