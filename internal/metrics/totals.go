package metrics

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Totals are one function's counts since funcd started, read from the
// counters above (the web UI's list and its hour of history use them;
// no Prometheus needed).
type Totals struct {
	Invocations uint64  // synchronous invocations completed
	Errors      uint64  // of them, answered 5xx (the function's or funcd's)
	Seconds     float64 // their wall-clock seconds, summed
	ColdStarts  uint64  // requests that waited for a replica from zero
}

// Totals returns every function's totals, keyed "NAME.NS". Only
// functions that have been invoked or cold-started appear. It reads the
// counters: the hot path does nothing more for it.
func (m *Metrics) Totals() map[string]Totals {
	out := map[string]Totals{}
	var v dto.Metric
	for k, c := range *m.calls.Load() {
		fn := k.name + "." + k.ns
		t := out[fn]
		v.Reset()
		if h, ok := c.seconds.(prometheus.Metric); ok && h.Write(&v) == nil {
			n := v.GetHistogram().GetSampleCount()
			t.Invocations += n
			t.Seconds += v.GetHistogram().GetSampleSum()
			if k.code >= 500 {
				t.Errors += n
			}
		}
		out[fn] = t
	}
	m.coldMu.Lock()
	for fn, n := range m.colds {
		t := out[fn]
		t.ColdStarts = n
		out[fn] = t
	}
	m.coldMu.Unlock()
	return out
}

// SplitFunction splits "NAME.NS" at its first dot: function names have
// none.
func SplitFunction(fn string) (name, ns string) {
	name, ns, _ = strings.Cut(fn, ".")
	return name, ns
}
