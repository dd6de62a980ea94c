package queue

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the queue's Prometheus metrics. The gauges are read from
// the streams at scrape time; the counters are kept here. function_name
// is NAME.NS, as in the gateway metrics.
type metrics struct {
	enqueuedTotal *prometheus.CounterVec
	attempts      *prometheus.CounterVec
	retries       *prometheus.CounterVec
	dead          *prometheus.CounterVec
	callbacks     *prometheus.CounterVec
	q             *Queue
}

var (
	depthDesc     = prometheus.NewDesc("funcd_queue_depth", "Queued invocations waiting for their first attempt.", []string{"function_name"}, nil)
	inflightDesc  = prometheus.NewDesc("funcd_queue_inflight", "Queued invocations being invoked now.", []string{"function_name"}, nil)
	retryingDesc  = prometheus.NewDesc("funcd_queue_retrying", "Queued invocations waiting for another attempt.", []string{"function_name"}, nil)
	deadDesc      = prometheus.NewDesc("funcd_queue_dead_letters", "Invocations kept in the dead-letter stream.", []string{"function_name"}, nil)
	callbacksDesc = prometheus.NewDesc("funcd_queue_callbacks_pending", "Results waiting to be delivered to a callback URL.", nil, nil)
	degradedDesc  = prometheus.NewDesc("funcd_queue_degraded", "1 while the queue refuses new invocations: its disk is full or its store is being reloaded.", nil, nil)
)

func newMetrics(q *Queue) *metrics {
	fn := []string{"function_name"}
	m := &metrics{
		enqueuedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "funcd_queue_enqueued_total",
			Help: "Invocations accepted into the queue, by function and source (async, cron, nats, mqtt).",
		}, []string{"function_name", "source"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "funcd_async_invocations_total",
			Help: "Attempts at queued invocations, by function and the status they ended with.",
		}, []string{"function_name", "code"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "funcd_queue_retries_total",
			Help: "Queued invocations handed back for another attempt.",
		}, fn),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "funcd_queue_dead_letters_total",
			Help: "Queued invocations that ran out of attempts and became dead letters.",
		}, fn),
		callbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "funcd_queue_callbacks_total",
			Help: "Callback deliveries, by result (delivered, refused, retried, dropped).",
		}, []string{"result"}),
		q: q,
	}
	return m
}

// register adds the metrics to reg once the queue runs.
func (m *metrics) register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.enqueuedTotal, m.attempts, m.retries, m.dead, m.callbacks, m} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func (m *metrics) enqueued(j Job) {
	m.enqueuedTotal.WithLabelValues(j.Function+"."+j.Namespace, j.Source).Inc()
}
func (m *metrics) attempt(k fnKey, code int) {
	m.attempts.WithLabelValues(k.name+"."+k.ns, strconv.Itoa(code)).Inc()
}
func (m *metrics) retry(k fnKey)          { m.retries.WithLabelValues(k.name + "." + k.ns).Inc() }
func (m *metrics) buried(k fnKey)         { m.dead.WithLabelValues(k.name + "." + k.ns).Inc() }
func (m *metrics) callback(result string) { m.callbacks.WithLabelValues(result).Inc() }
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- depthDesc
	ch <- inflightDesc
	ch <- retryingDesc
	ch <- deadDesc
	ch <- callbacksDesc
	ch <- degradedDesc
}

// Collect reads the gauges from the streams.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	degraded := 0.0
	if m.q.Health().Degraded {
		degraded = 1
	}
	ch <- prometheus.MustNewConstMetric(degradedDesc, prometheus.GaugeValue, degraded)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := m.q.Stats(ctx)
	if err != nil {
		m.q.log.Warn("queue metrics", "err", err)
		return
	}
	for _, f := range st.Functions {
		name := f.Name + "." + f.Namespace
		ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(f.Depth), name)
		ch <- prometheus.MustNewConstMetric(inflightDesc, prometheus.GaugeValue, float64(f.InFlight), name)
		ch <- prometheus.MustNewConstMetric(retryingDesc, prometheus.GaugeValue, float64(f.Retrying), name)
		ch <- prometheus.MustNewConstMetric(deadDesc, prometheus.GaugeValue, float64(f.DeadLetters), name)
	}
	ch <- prometheus.MustNewConstMetric(callbacksDesc, prometheus.GaugeValue, float64(st.Callbacks))
}
