package metrics

import "github.com/prometheus/client_golang/prometheus"

// ReplicaSource reports the desired replicas of every function, keyed by
// "NAME.NS".
type ReplicaSource interface {
	Replicas() map[string]uint64
}

// ServiceCount is a collector reporting gateway_service_replicas, read
// from the provider at scrape time: it costs nothing between scrapes.
//
// OpenFaaS's gateway calls this gauge gateway_service_count, a name
// Prometheus's conventions reserve for a histogram's or summary's sample
// count (promtool check metrics rejects it). funcd serves the conventional
// name; a metric_relabel_configs rule in the scrape config (README, the
// shipped prometheus.yml) gives dashboards the OpenFaaS one back.
type ServiceCount struct {
	src  ReplicaSource
	desc *prometheus.Desc
}

// NewServiceCount returns a collector of src's replica counts. Register it
// on the same registry as New's metrics.
func NewServiceCount(src ReplicaSource) *ServiceCount {
	return &ServiceCount{
		src: src,
		desc: prometheus.NewDesc("gateway_service_replicas",
			"Desired replicas of each function.", []string{"function_name"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (s *ServiceCount) Describe(ch chan<- *prometheus.Desc) { ch <- s.desc }

// Collect implements prometheus.Collector.
func (s *ServiceCount) Collect(ch chan<- prometheus.Metric) {
	for fn, n := range s.src.Replicas() {
		ch <- prometheus.MustNewConstMetric(s.desc, prometheus.GaugeValue, float64(n), fn)
	}
}
