package backoff

import (
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	for n, want := range map[int]time.Duration{
		0: 0, 1: 0, 2: 500 * time.Millisecond, 3: time.Second, 4: 2 * time.Second,
		8: 30 * time.Second, 100: 30 * time.Second,
	} {
		if got := Delay(n); got != want {
			t.Errorf("Delay(%d) = %v, want %v", n, got, want)
		}
	}
}
