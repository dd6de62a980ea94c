package ui

import (
	"context"
	"sync"
	"time"

	"github.com/funcd/funcd/internal/metrics"
)

// Totals gives every function's counts since funcd started, keyed
// "NAME.NS" (the metrics).
type Totals interface {
	Totals() map[string]metrics.Totals
}

// HistoryMinutes is how much history is kept: one point a minute.
const HistoryMinutes = 60

// History keeps the last hour of each function's invocations, errors and
// seconds, one point a minute, from funcd's own counters. Run samples
// them at each minute's start; a function costs memory (about 1 KB) only
// once it has been invoked, and then for as long as funcd runs, as its
// counters do.
type History struct {
	src Totals

	mu    sync.Mutex
	rings map[string]*ring // by "NAME.NS"
}

// ring is one function's hour. base is the totals at the last sample:
// what the current minute's point is measured from.
type ring struct {
	base  metrics.Totals
	slots [HistoryMinutes]slot // minute m in slots[m%HistoryMinutes]
}

// slot is one minute's point; minute tells whether it is still current
// (a slot not written for an hour holds an old minute and reads as 0).
type slot struct {
	minute      int32 // Unix minutes
	invocations uint32
	errors      uint32
	seconds     float32
}

// Point is one minute of a function's history.
type Point struct {
	Time        time.Time `json:"time"`
	Invocations uint64    `json:"invocations"`
	Errors      uint64    `json:"errors"`
	AvgSeconds  float64   `json:"avgSeconds"`
}

// NewHistory returns an empty history of src's counts.
func NewHistory(src Totals) *History {
	return &History{src: src, rings: map[string]*ring{}}
}

// Run samples at the start of every minute until ctx ends.
func (h *History) Run(ctx context.Context) error {
	for {
		now := time.Now()
		next := now.Truncate(time.Minute).Add(time.Minute)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(next.Sub(now)):
		}
		h.sample(time.Now())
	}
}

// sample records, for each function, what its counters gained since the
// last sample as the minute before now's: a sample is taken at a
// minute's start.
func (h *History) sample(now time.Time) {
	totals := h.src.Totals()
	m := unixMinute(now) - 1
	h.mu.Lock()
	defer h.mu.Unlock()
	for fn, t := range totals {
		r := h.rings[fn]
		if r == nil {
			if t == (metrics.Totals{}) {
				continue
			}
			r = &ring{} // its base is 0: counters start at 0 with funcd
			h.rings[fn] = r
		}
		d := delta(t, r.base)
		r.base = t
		r.slots[m%HistoryMinutes] = slot{minute: int32(m), invocations: uint32(d.Invocations),
			errors: uint32(d.Errors), seconds: float32(d.Seconds)}
	}
}

// Points returns fn's last hour at now: HistoryMinutes points, oldest
// first, the current minute (measured live from the counters) last,
// zeros where nothing happened.
func (h *History) Points(fn string, now time.Time) []Point {
	cur := h.src.Totals()[fn]
	m := unixMinute(now)
	out := make([]Point, HistoryMinutes)
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rings[fn]
	for i := range out {
		k := m - HistoryMinutes + 1 + int64(i)
		p := Point{Time: time.Unix(k*60, 0).UTC()}
		switch {
		case k == m:
			var base metrics.Totals
			if r != nil {
				base = r.base
			}
			d := delta(cur, base)
			p.Invocations, p.Errors = d.Invocations, d.Errors
			p.AvgSeconds = avg(d.Seconds, d.Invocations)
		case r != nil && int64(r.slots[k%HistoryMinutes].minute) == k:
			s := r.slots[k%HistoryMinutes]
			p.Invocations, p.Errors = uint64(s.invocations), uint64(s.errors)
			p.AvgSeconds = avg(float64(s.seconds), p.Invocations)
		}
		out[i] = p
	}
	return out
}

// Len is the number of functions with a ring.
func (h *History) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.rings)
}

func delta(now, then metrics.Totals) metrics.Totals {
	if now.Invocations < then.Invocations { // never, unless counters restart
		return now
	}
	return metrics.Totals{Invocations: now.Invocations - then.Invocations, Errors: now.Errors - then.Errors,
		Seconds: max(now.Seconds-then.Seconds, 0)}
}

func avg(seconds float64, n uint64) float64 {
	if n == 0 {
		return 0
	}
	return seconds / float64(n)
}

func unixMinute(t time.Time) int64 { return t.Unix() / 60 }
