package metrics

import (
	"github.com/funcd/funcd/internal/api"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Invocations returns how many invocations of each function in namespace
// ns have completed, keyed by name: the sum over status codes of
// gateway_function_invocation_total, for the invocationCount of
// GET /system/functions. It reads the counters Invocation keeps; the hot
// path does nothing more for it.
func (m *Metrics) Invocations(ns string) map[string]float64 {
	out := map[string]float64{}
	for k, c := range *m.calls.Load() {
		if k.ns != ns {
			continue
		}
		var v dto.Metric
		if err := c.count.Write(&v); err == nil {
			out[k.name] += v.GetCounter().GetValue()
		}
	}
	return out
}

// CostSource reports what every function has used (the provider).
type CostSource interface {
	Costs() []api.Cost
}

// Costs is a collector of what each function costs, read from the
// provider at scrape time (which reads the replicas' cgroups then):
// memory in use, CPU seconds, OOM kills and replicas ready, desired and
// frozen.
// Restarts and cold starts are New's (funcd_replica_restarts_total, and
// the count of funcd_cold_start_seconds).
type Costs struct {
	src                                   CostSource
	memory, cpu, oomKills, ready, desired *prometheus.Desc
	frozen                                *prometheus.Desc
}

// NewCosts returns a collector of src's costs. Register it on the same
// registry as New's metrics.
func NewCosts(src CostSource) *Costs {
	fn := []string{"function_name"}
	return &Costs{
		src: src,
		memory: prometheus.NewDesc("funcd_function_memory_working_set_bytes",
			"Memory in use by a function's running replicas, without inactive file cache.", fn, nil),
		cpu: prometheus.NewDesc("funcd_function_cpu_seconds_total",
			"CPU time used by a function's replicas, including those that have exited.", fn, nil),
		oomKills: prometheus.NewDesc("funcd_function_oom_kills_total",
			"Processes of a function's replicas the kernel killed for exceeding its memory limit.", fn, nil),
		ready: prometheus.NewDesc("funcd_function_replicas_ready",
			"Replicas of a function ready to serve.", fn, nil),
		desired: prometheus.NewDesc("funcd_function_replicas_desired",
			"Replicas of a function wanted.", fn, nil),
		frozen: prometheus.NewDesc("funcd_function_replicas_frozen",
			"Replicas of a function frozen while idle (com.funcd.idle=pause): no CPU, memory kept.", fn, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Costs) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.memory, c.cpu, c.oomKills, c.ready, c.desired, c.frozen} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Costs) Collect(ch chan<- prometheus.Metric) {
	for _, f := range c.src.Costs() {
		ch <- prometheus.MustNewConstMetric(c.memory, prometheus.GaugeValue, float64(f.MemoryBytes), f.Function)
		ch <- prometheus.MustNewConstMetric(c.cpu, prometheus.CounterValue, f.CPUSeconds, f.Function)
		ch <- prometheus.MustNewConstMetric(c.oomKills, prometheus.CounterValue, float64(f.OOMKills), f.Function)
		ch <- prometheus.MustNewConstMetric(c.ready, prometheus.GaugeValue, float64(f.Ready), f.Function)
		ch <- prometheus.MustNewConstMetric(c.desired, prometheus.GaugeValue, float64(f.Desired), f.Function)
		ch <- prometheus.MustNewConstMetric(c.frozen, prometheus.GaugeValue, float64(f.Frozen), f.Function)
	}
}
