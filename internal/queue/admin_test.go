package queue

import (
	"math"
	"testing"
)

func TestCountUpTo(t *testing.T) {
	tests := []struct {
		name   string
		counts map[string]uint64
		limit  int
		want   int
	}{
		{"none", nil, 100, 0},
		{"under the limit", map[string]uint64{"a": 3, "b": 4}, 100, 7},
		{"at the limit", map[string]uint64{"a": 60, "b": 40}, 100, 100},
		{"over the limit", map[string]uint64{"a": 60, "b": 41}, 100, 100},
		{"past 2^31 (int on 32-bit arm)", map[string]uint64{"a": 1 << 31}, 100, 100},
		{"sum past 2^64", map[string]uint64{"a": math.MaxUint64, "b": math.MaxUint64}, 1000, 1000},
		{"limit past 2^31 counts", map[string]uint64{"a": 1<<32 + 5}, math.MaxInt32, math.MaxInt32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := countUpTo(tt.counts, tt.limit); got != tt.want {
				t.Errorf("countUpTo(%v, %d) = %d, want %d", tt.counts, tt.limit, got, tt.want)
			}
		})
	}
}
