// Package backoff is the one restart back-off funcd uses, for function
// replicas and side services alike.
package backoff

import "time"

// Max is the longest wait.
const Max = 30 * time.Second

// Delay is the wait before attempt n (1-based): none for the first two (a
// one-off crash costs no extra downtime), then 0.5 s doubling up to Max.
func Delay(n int) time.Duration {
	if n <= 1 {
		return 0
	}
	d := 500 * time.Millisecond
	for i := 2; i < n && d < Max; i++ {
		d *= 2
	}
	return min(d, Max)
}
