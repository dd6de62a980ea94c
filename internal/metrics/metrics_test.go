package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

type fakeReplicas map[string]uint64

func (f fakeReplicas) Replicas() map[string]uint64 { return f }

func TestInvocation(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.Invocation("figlet", "openfaas-fn", 200, 20*time.Millisecond)
	m.Invocation("figlet", "openfaas-fn", 200, 30*time.Millisecond)
	m.Invocation("figlet", "openfaas-fn", 502, time.Second)
	m.Invocation("env", "dev", 200, time.Millisecond)

	want := `
# HELP gateway_function_invocation_total Synchronous invocations completed, by function and status code.
# TYPE gateway_function_invocation_total counter
gateway_function_invocation_total{code="200",function_name="env.dev"} 1
gateway_function_invocation_total{code="200",function_name="figlet.openfaas-fn"} 2
gateway_function_invocation_total{code="502",function_name="figlet.openfaas-fn"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gateway_function_invocation_total"); err != nil {
		t.Error(err)
	}
	// The histogram: count and sum per function and code, in seconds.
	tests := []struct {
		fn, code string
		count    uint64
		sum      float64
	}{
		{"figlet.openfaas-fn", "200", 2, 0.05},
		{"figlet.openfaas-fn", "502", 1, 1},
		{"env.dev", "200", 1, 0.001},
	}
	for _, tt := range tests {
		h := histogram(t, reg, "gateway_functions_seconds", map[string]string{"function_name": tt.fn, "code": tt.code})
		if h.count != tt.count || h.sum < tt.sum-1e-9 || h.sum > tt.sum+1e-9 {
			t.Errorf("gateway_functions_seconds{%s,%s} = count %d sum %g, want count %d sum %g", tt.fn, tt.code, h.count, h.sum, tt.count, tt.sum)
		}
	}
}

func TestInvocationDoesNotAllocate(t *testing.T) {
	m := New(prometheus.NewRegistry())
	m.Invocation("figlet", "openfaas-fn", 200, time.Millisecond) // creates the children
	if n := testing.AllocsPerRun(100, func() { m.Invocation("figlet", "openfaas-fn", 200, time.Millisecond) }); n != 0 {
		t.Errorf("Invocation allocates %v times per call, want 0", n)
	}
}

func TestEvents(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.ScaleEvent("figlet.openfaas-fn", "up")
	m.ScaleEvent("figlet.openfaas-fn", "up")
	m.ScaleEvent("figlet.openfaas-fn", "down")
	m.Restart("figlet.openfaas-fn")
	m.ColdStart("figlet.openfaas-fn", 1500*time.Millisecond)

	want := `
# HELP funcd_replica_restarts_total Replicas restarted by the supervisor after their task exited.
# TYPE funcd_replica_restarts_total counter
funcd_replica_restarts_total{function_name="figlet.openfaas-fn"} 1
# HELP funcd_scale_events_total Changes of a function's replica count, by direction (up or down).
# TYPE funcd_scale_events_total counter
funcd_scale_events_total{direction="down",function_name="figlet.openfaas-fn"} 1
funcd_scale_events_total{direction="up",function_name="figlet.openfaas-fn"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "funcd_scale_events_total", "funcd_replica_restarts_total"); err != nil {
		t.Error(err)
	}
	h := histogram(t, reg, "funcd_cold_start_seconds", map[string]string{"function_name": "figlet.openfaas-fn"})
	if h.count != 1 || h.sum != 1.5 {
		t.Errorf("funcd_cold_start_seconds = count %d sum %g, want count 1 sum 1.5", h.count, h.sum)
	}
}

func TestServiceCount(t *testing.T) {
	reg := prometheus.NewRegistry()
	src := fakeReplicas{"figlet.openfaas-fn": 2, "env.dev": 0}
	reg.MustRegister(NewServiceCount(src))
	want := `
# HELP gateway_service_replicas Desired replicas of each function.
# TYPE gateway_service_replicas gauge
gateway_service_replicas{function_name="env.dev"} 0
gateway_service_replicas{function_name="figlet.openfaas-fn"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gateway_service_replicas"); err != nil {
		t.Error(err)
	}
	// Read at scrape time: a change shows at the next scrape.
	src["figlet.openfaas-fn"] = 5
	delete(src, "env.dev")
	want = `
# HELP gateway_service_replicas Desired replicas of each function.
# TYPE gateway_service_replicas gauge
gateway_service_replicas{function_name="figlet.openfaas-fn"} 5
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gateway_service_replicas"); err != nil {
		t.Error(err)
	}
}

type histo struct {
	count uint64
	sum   float64
}

// histogram returns the sample count and sum of the histogram name with
// exactly labels, failing the test when there is none.
func histogram(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) histo {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, mt := range mf.GetMetric() {
			if len(mt.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range mt.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue next
				}
			}
			return histo{mt.GetHistogram().GetSampleCount(), mt.GetHistogram().GetSampleSum()}
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return histo{}
}

func BenchmarkInvocation(b *testing.B) {
	m := New(prometheus.NewRegistry())
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Invocation("figlet", "openfaas-fn", 200, time.Millisecond)
		}
	})
}

// TestNamesFollowConventions lints every metric of this package, each with
// a child, with the linter `promtool check metrics` runs (the e2e test
// TestMetricsPromtool runs promtool itself over a live funcd).
func TestNamesFollowConventions(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	reg.MustRegister(NewServiceCount(fakeReplicas{"figlet.openfaas-fn": 1}))
	m.Invocation("figlet", "openfaas-fn", 200, time.Millisecond)
	m.ColdStart("figlet.openfaas-fn", time.Second)
	m.ScaleEvent("figlet.openfaas-fn", "up")
	m.Restart("figlet.openfaas-fn")

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 6 {
		t.Errorf("Gather returned %d metric families, want 6: give every new metric a child here", len(mfs))
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

func TestTotals(t *testing.T) {
	m := New(prometheus.NewRegistry())
	m.Invocation("figlet", "openfaas-fn", 200, 20*time.Millisecond)
	m.Invocation("figlet", "openfaas-fn", 200, 30*time.Millisecond)
	m.Invocation("figlet", "openfaas-fn", 502, time.Second)
	m.Invocation("figlet", "openfaas-fn", 404, time.Millisecond)
	m.Invocation("env", "dev", 200, time.Millisecond)
	m.ColdStart("figlet.openfaas-fn", time.Second)
	m.ColdStart("figlet.openfaas-fn", time.Second)
	m.ColdStart("idle.dev", time.Second)
	got := m.Totals()
	want := map[string]Totals{
		"figlet.openfaas-fn": {Invocations: 4, Errors: 1, Seconds: 1.051, ColdStarts: 2},
		"env.dev":            {Invocations: 1, Seconds: 0.001},
		"idle.dev":           {ColdStarts: 1},
	}
	if len(got) != len(want) {
		t.Errorf("Totals() = %v, want %v", got, want)
	}
	for fn, w := range want {
		g := got[fn]
		if g.Invocations != w.Invocations || g.Errors != w.Errors || g.ColdStarts != w.ColdStarts || g.Seconds < w.Seconds-1e-9 || g.Seconds > w.Seconds+1e-9 {
			t.Errorf("Totals()[%s] = %+v, want %+v", fn, g, w)
		}
	}
	if name, ns := SplitFunction("figlet.openfaas-fn"); name != "figlet" || ns != "openfaas-fn" {
		t.Errorf("SplitFunction = %q, %q", name, ns)
	}
}
