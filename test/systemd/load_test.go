package systemd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"time"
)

// callBudget is how long one call of the load may wait for a 200.
const callBudget = 2 * time.Second

// loadResult is what a load run saw.
type loadResult struct {
	calls, failed int
	refused       int           // connection attempts refused (nothing listening) and retried
	maxLatency    time.Duration // of a successful call, retries included
	gap           time.Duration // longest time without a successful answer
	firstFailure  string
}

func (r loadResult) String() string {
	return fmt.Sprintf("calls=%d failed=%d refused_retries=%d max_latency_ms=%d gap_ms=%d",
		r.calls, r.failed, r.refused, r.maxLatency.Milliseconds(), r.gap.Milliseconds())
}

// runLoad calls url from workers goroutines in a loop until stop is
// closed. A call is one GET with callBudget to get a 200: a refused
// connection (funcd not listening for a moment) is retried within the
// budget, as a client that waits up to 2 s would; anything else, or no 200
// in time, is a failed call.
func runLoad(ctx context.Context, c *http.Client, url string, workers int, stop <-chan struct{}) loadResult {
	var (
		mu  sync.Mutex
		res loadResult
		oks []time.Time // completion times of successful calls
		wg  sync.WaitGroup
	)
	begin := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				start := time.Now()
				refused, err := loadCall(ctx, c, url)
				end := time.Now()
				mu.Lock()
				res.calls++
				res.refused += refused
				if err != nil {
					res.failed++
					if res.firstFailure == "" {
						res.firstFailure = err.Error()
					}
				} else {
					oks = append(oks, end)
					res.maxLatency = max(res.maxLatency, end.Sub(start))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.SortFunc(oks, func(a, b time.Time) int { return a.Compare(b) })
	prev := begin
	for _, t := range append(oks, time.Now()) {
		res.gap = max(res.gap, t.Sub(prev))
		prev = t
	}
	return res
}

// loadCall makes one call; it returns how many connection attempts were
// refused on the way.
func loadCall(ctx context.Context, c *http.Client, url string) (refused int, err error) {
	ctx, cancel := context.WithTimeout(ctx, callBudget)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return refused, err
		}
		res, err := c.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				return refused, fmt.Errorf("GET %s: %s", url, res.Status)
			}
			return refused, nil
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return refused, err
		}
		refused++
		select {
		case <-ctx.Done():
			return refused, fmt.Errorf("GET %s: refused for %v: %w", url, callBudget, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
