package main

import (
	"slices"
	"testing"
	"time"
)

func ms(n ...int) []time.Duration {
	var ds []time.Duration
	for _, v := range n {
		ds = append(ds, time.Duration(v)*time.Millisecond)
	}
	return ds
}

func TestSummarize(t *testing.T) {
	var thirty []int
	for i := 30; i >= 1; i-- {
		thirty = append(thirty, i) // unsorted on purpose
	}
	tests := []struct {
		name string
		in   []time.Duration
		want summary
	}{
		{"none", nil, summary{}},
		{"one", ms(7), summary{n: 1, p50: ms(7)[0], p99: ms(7)[0], min: ms(7)[0], max: ms(7)[0]}},
		{"four", ms(40, 10, 30, 20), summary{n: 4, p50: ms(20)[0], p99: ms(40)[0], min: ms(10)[0], max: ms(40)[0]}},
		{"thirty", ms(thirty...), summary{n: 30, p50: ms(15)[0], p99: ms(30)[0], min: ms(1)[0], max: ms(30)[0]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.in)
			if got := summarize(tt.in); got != tt.want {
				t.Errorf("summarize(%v) = %+v, want %+v", tt.in, got, tt.want)
			}
			if !slices.Equal(in, tt.in) {
				t.Errorf("summarize changed its input to %v", tt.in)
			}
		})
	}
	var hundred []int
	for i := 1; i <= 200; i++ {
		hundred = append(hundred, i)
	}
	if got := summarize(ms(hundred...)); got.p50 != ms(100)[0] || got.p99 != ms(198)[0] {
		t.Errorf("summarize(1..200 ms) = p50 %v p99 %v, want 100ms 198ms", got.p50, got.p99)
	}
}

const funcdLog = `time=2026-11-26T03:40:01.000Z level=INFO msg=deployed function=coldstart.openfaas-fn
time=2026-11-26T03:40:02.000Z level=INFO msg="scaled from zero" function=coldstart.openfaas-fn in=85.25ms
time=2026-11-26T03:40:02.100Z level=INFO msg="scaled from zero" function=cold1.openfaas-fn in=1.2s
time=2026-11-26T03:40:03.000Z level=ERROR msg="scale from zero" function=coldstart.openfaas-fn err="boom in=3ms"
time=2026-11-26T03:40:04.000Z level=INFO msg="scaled from zero" function=coldstart.openfaas-fn in=92.001µs
`

func TestScaledFromZero(t *testing.T) {
	tests := []struct {
		fn   string
		want []time.Duration
	}{
		{"coldstart.openfaas-fn", []time.Duration{85250 * time.Microsecond, 92001 * time.Nanosecond}},
		{"cold1.openfaas-fn", []time.Duration{1200 * time.Millisecond}},
		{"cold10.openfaas-fn", nil},
	}
	for _, tt := range tests {
		if got := scaledFromZero(funcdLog, tt.fn); !slices.Equal(got, tt.want) {
			t.Errorf("scaledFromZero(log, %q) = %v, want %v", tt.fn, got, tt.want)
		}
	}
}
