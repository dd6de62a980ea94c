// Package metrics defines funcd's Prometheus metrics: the OpenFaaS gateway
// ones (gateway_function_invocation_total, gateway_functions_seconds) that
// dashboards and autoscaling rules expect, gateway_service_replicas
// (OpenFaaS's gateway_service_count under a name that follows Prometheus's
// conventions; see ServiceCount), and funcd's own (funcd_cold_start_seconds,
// funcd_scale_events_total, funcd_replica_restarts_total). Every name passes
// `promtool check metrics`. Everything is registered on the registry passed
// in; there is no global state.
//
// It implements the hooks the proxy (Invocation) and the provider (Events)
// call, and must not import either: it declares the little it reads from
// them (ReplicaSource).
package metrics

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics holds funcd's metric vectors.
type Metrics struct {
	invocations *prometheus.CounterVec
	seconds     *prometheus.HistogramVec
	coldStart   *prometheus.HistogramVec
	scaleEvents *prometheus.CounterVec
	restarts    *prometheus.CounterVec

	// calls caches the children of invocations and seconds per function
	// and status code, so that recording an invocation costs a map lookup
	// and no allocation. It is copied on write: new keys are rare.
	calls   atomic.Pointer[map[callKey]call]
	callsMu sync.Mutex // serialises writers of calls

	coldMu sync.Mutex
	colds  map[string]uint64 // cold starts by "NAME.NS", for Totals
}

type callKey struct {
	name, ns string
	code     int
}

type call struct {
	count   prometheus.Counter
	seconds prometheus.Observer
}

// New creates funcd's metrics and registers them on reg.
func New(reg prometheus.Registerer) *Metrics {
	fn := []string{"function_name"}
	m := &Metrics{
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_function_invocation_total",
			Help: "Synchronous invocations completed, by function and status code.",
		}, []string{"function_name", "code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gateway_functions_seconds",
			Help:    "Wall-clock seconds of synchronous invocations, by function and status code.",
			Buckets: prometheus.DefBuckets,
		}, []string{"function_name", "code"}),
		coldStart: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "funcd_cold_start_seconds",
			Help:    "Seconds from a request finding no ready replica to a replica being ready.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, fn),
		scaleEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "funcd_scale_events_total",
			Help: "Changes of a function's replica count, by direction (up or down).",
		}, []string{"function_name", "direction"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "funcd_replica_restarts_total",
			Help: "Replicas restarted by the supervisor after their task exited.",
		}, fn),
	}
	empty := map[callKey]call{}
	m.calls.Store(&empty)
	reg.MustRegister(m.invocations, m.seconds, m.coldStart, m.scaleEvents, m.restarts)
	return m
}

// Invocation records one synchronous invocation of name.ns that ended with
// code after d. It is on the invocation hot path: once a function and code
// have been seen, it does not allocate.
func (m *Metrics) Invocation(name, ns string, code int, d time.Duration) {
	k := callKey{name, ns, code}
	c, ok := (*m.calls.Load())[k]
	if !ok {
		c = m.newCall(k)
	}
	c.count.Inc()
	c.seconds.Observe(d.Seconds())
}

// newCall looks up (creating) the children for k and caches them.
func (m *Metrics) newCall(k callKey) call {
	m.callsMu.Lock()
	defer m.callsMu.Unlock()
	old := *m.calls.Load()
	if c, ok := old[k]; ok {
		return c
	}
	fn, code := k.name+"."+k.ns, strconv.Itoa(k.code)
	c := call{count: m.invocations.WithLabelValues(fn, code), seconds: m.seconds.WithLabelValues(fn, code)}
	next := make(map[callKey]call, len(old)+1)
	for kk, v := range old {
		next[kk] = v
	}
	next[k] = c
	m.calls.Store(&next)
	return c
}

// ColdStart records that fn ("NAME.NS") waited d for a ready replica.
func (m *Metrics) ColdStart(fn string, d time.Duration) {
	m.coldStart.WithLabelValues(fn).Observe(d.Seconds())
	m.coldMu.Lock()
	if m.colds == nil {
		m.colds = map[string]uint64{}
	}
	m.colds[fn]++
	m.coldMu.Unlock()
}

// ScaleEvent records a change of fn's replica count; direction is "up" or
// "down".
func (m *Metrics) ScaleEvent(fn, direction string) {
	m.scaleEvents.WithLabelValues(fn, direction).Inc()
}

// Restart records that the supervisor restarted a replica of fn.
func (m *Metrics) Restart(fn string) {
	m.restarts.WithLabelValues(fn).Inc()
}
