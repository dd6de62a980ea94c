package main

import (
	"maps"
	"slices"
	"testing"
	"time"
)

const exposition = `# HELP funcd_async_invocations_total Attempts at queued invocations, by function and the status they ended with.
# TYPE funcd_async_invocations_total counter
funcd_async_invocations_total{code="200",function_name="queue32.openfaas-fn"} 2032
funcd_async_invocations_total{code="502",function_name="queue32.openfaas-fn"} 3
funcd_async_invocations_total{code="200",function_name="queue1.openfaas-fn"} 532
funcd_async_invocations_total{code="200", function_name="odd \"name\\"} 7 1700000000000
funcd_queue_enqueued_total{function_name="queue32.openfaas-fn",source="async"} 2035
funcd_async_invocations_total{code="200",function_name="broken.openfaas-fn" 9
funcd_async_invocations_total{code="200",function_name="nan.openfaas-fn"} many
go_goroutines 42
`

func TestCountsBy(t *testing.T) {
	tests := []struct {
		metric, fn string
		want       map[string]float64
	}{
		{"funcd_async_invocations_total", "queue32.openfaas-fn", map[string]float64{"200": 2032, "502": 3}},
		{"funcd_async_invocations_total", "queue1.openfaas-fn", map[string]float64{"200": 532}},
		{"funcd_async_invocations_total", `odd "name\`, map[string]float64{"200": 7}},
		{"funcd_async_invocations_total", "broken.openfaas-fn", map[string]float64{}},
		{"funcd_async_invocations_total", "nan.openfaas-fn", map[string]float64{}},
		{"funcd_async_invocations_total", "queuetopic.openfaas-fn", map[string]float64{}},
		{"funcd_queue_enqueued_total", "queue32.openfaas-fn", map[string]float64{"": 2035}},
	}
	for _, tt := range tests {
		if got := countsBy(exposition, tt.metric, "function_name", tt.fn, "code"); !maps.Equal(got, tt.want) {
			t.Errorf("countsBy(%s, function_name=%q) = %v, want %v", tt.metric, tt.fn, got, tt.want)
		}
	}
}

func TestParseSample(t *testing.T) {
	tests := []struct {
		line   string
		name   string
		labels map[string]string
		value  float64
		ok     bool
	}{
		{"go_goroutines 42", "go_goroutines", map[string]string{}, 42, true},
		{`m{a="1",b="x y"} 1.5e3`, "m", map[string]string{"a": "1", "b": "x y"}, 1500, true},
		{`m{a="1",} 2 123`, "m", map[string]string{"a": "1"}, 2, true},
		{`m{a="line\nbreak"} 3`, "m", map[string]string{"a": "line\nbreak"}, 3, true},
		{"# TYPE m counter", "", nil, 0, false},
		{"", "", nil, 0, false},
		{`m{a="1" 2`, "", nil, 0, false},
		{`m{a=1} 2`, "", nil, 0, false},
		{"m", "", nil, 0, false},
		{"m 1 2 3", "", nil, 0, false},
	}
	for _, tt := range tests {
		name, labels, value, ok := parseSample(tt.line)
		if name != tt.name || !maps.Equal(labels, tt.labels) || value != tt.value || ok != tt.ok {
			t.Errorf("parseSample(%q) = %q, %v, %v, %v, want %q, %v, %v, %v", tt.line, name, labels, value, ok, tt.name, tt.labels, tt.value, tt.ok)
		}
	}
}

func TestParseLatencies(t *testing.T) {
	tests := []struct {
		body    string
		want    []time.Duration
		wantErr bool
	}{
		{"[]\n", []time.Duration{}, false},
		{"[1500000, 250]\n", []time.Duration{1500 * time.Microsecond, 250}, false},
		{"null", []time.Duration{}, false},
		{`{"a":1}`, nil, true},
		{"[1.5]", nil, true},
	}
	for _, tt := range tests {
		got, err := parseLatencies([]byte(tt.body))
		if (err != nil) != tt.wantErr || (!tt.wantErr && !slices.Equal(got, tt.want)) {
			t.Errorf("parseLatencies(%q) = %v, %v, want %v (error: %v)", tt.body, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestMedianBurst(t *testing.T) {
	burst := func(ms int) throughput {
		return throughput{name: "q", n: 1000, completed: time.Duration(ms) * time.Millisecond}
	}
	tests := []struct {
		name   string
		in     []throughput
		want   throughput
		lo, hi float64
	}{
		{"none", nil, throughput{}, 0, 0},
		{"one", []throughput{burst(500)}, burst(500), 2000, 2000},
		{"three", []throughput{burst(1000), burst(250), burst(500)}, burst(500), 1000, 4000},
		{"never completed", []throughput{burst(0), burst(1000), burst(500)}, burst(1000), 0, 2000},
	}
	for _, tt := range tests {
		got, lo, hi := medianBurst(tt.in)
		if got.completed != tt.want.completed || got.n != tt.want.n || lo != tt.lo || hi != tt.hi {
			t.Errorf("medianBurst(%s) = %v (%v..%v), want %v (%v..%v)", tt.name, got.completed, lo, hi, tt.want.completed, tt.lo, tt.hi)
		}
	}
}
