package main

import (
	"testing"
	"time"
)

func TestKBField(t *testing.T) {
	const status = "Name:\tfuncd\nVmRSS:\t   43012 kB\nRssAnon:\t   13300 kB\nRssFile:\t   29712 kB\nBad:\t12 MB\nNeg:\t-4 kB\n"
	for _, tc := range []struct {
		name string
		want int64
		ok   bool
	}{
		{"VmRSS", 43012 << 10, true},
		{"RssAnon", 13300 << 10, true},
		{"RssFile", 29712 << 10, true},
		{"Rss", 0, false}, // a prefix of other names, not a line of its own
		{"Bad", 0, false},
		{"Neg", 0, false},
		{"Pss", 0, false},
	} {
		got, err := kBField(status, tc.name)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("kBField(%s) = %d, %v; want %d, ok %t", tc.name, got, err, tc.want, tc.ok)
		}
	}
}

func TestStatCPU(t *testing.T) {
	// utime 250 and stime 75 ticks; the command holds ") " and spaces.
	const stat = "4242 (fun) cd x) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 75 0 0 20 0 12 0 100 1000 2000"
	got, err := statCPU(stat)
	if err != nil || got != 3250*time.Millisecond {
		t.Errorf("statCPU = %v, %v; want 3.25s", got, err)
	}
	for _, bad := range []string{"", "4242 (funcd) S 1 2", "4242 (funcd) S 1 2 3 4 5 6 7 8 9 10 x 75 0"} {
		if _, err := statCPU(bad); err == nil {
			t.Errorf("statCPU(%q) did not fail", bad)
		}
	}
}
