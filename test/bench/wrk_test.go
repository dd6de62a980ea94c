package main

import (
	"testing"
	"time"
)

const wrkOutput = `Running 5s test @ http://127.0.0.1:40000/function/bench
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.01ms    1.20ms  25.31ms   80.12%
    Req/Sec     5.40k   312.11     6.01k    71.00%
  Latency Distribution
     50%    2.80ms
     75%    3.50ms
     90%    4.40ms
     99%    7.12ms
  53712 requests in 5.00s, 25.61MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  10741.23
Transfer/sec:      5.12MB
`

func TestParseWrk(t *testing.T) {
	got, err := parseWrk(wrkOutput)
	want := result{rps: 10741.23, p50: 2800 * time.Microsecond, p99: 7120 * time.Microsecond, requests: 53712, errors: 7}
	if err != nil || got != want {
		t.Errorf("parseWrk() = %+v, %v, want %+v", got, err, want)
	}
	if _, err := parseWrk("Running 5s test\nunable to connect to 10.0.0.1:8080 Connection refused\n"); err == nil {
		t.Errorf("parseWrk(no report) succeeded, want an error")
	}
}

func TestParseWrkDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"98.00us", 98 * time.Microsecond},
		{"1.25ms", 1250 * time.Microsecond},
		{"2.00s", 2 * time.Second},
		{"1.50m", 90 * time.Second},
		{"1.00h", time.Hour},
	}
	for _, tt := range tests {
		if got, err := parseWrkDuration(tt.in); err != nil || got != tt.want {
			t.Errorf("parseWrkDuration(%q) = %v, %v, want %v", tt.in, got, err, tt.want)
		}
	}
	if _, err := parseWrkDuration("12.0xs"); err == nil {
		t.Errorf("parseWrkDuration(%q) succeeded, want an error", "12.0xs")
	}
}
