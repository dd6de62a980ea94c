package queue

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/funcd/funcd/internal/api"
)

// Policy says how a function's queued invocations are retried and how
// many run at once. The daemon's flags give the defaults; a function's
// labels or annotations override them (api.AnnotationRetry*,
// api.LabelQueueMaxInflight).
type Policy struct {
	Attempts    int           // total attempts, the first included; at least 1
	Codes       []int         // function statuses worth another attempt
	MinWait     time.Duration // first delay, and the floor of every delay
	MaxWait     time.Duration // ceiling of every delay
	MaxInflight int           // 0: only the global limit
}

// DefaultPolicy is the policy when no flag or annotation says otherwise.
var DefaultPolicy = Policy{
	Attempts: 10,
	Codes:    []int{http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout},
	MinWait:  2 * time.Second,
	MaxWait:  2 * time.Minute,
}

// parseWait reads a Go duration ("500ms", "2m") or a number of seconds.
func parseWait(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseFloat(s, 64); err == nil && n >= 0 {
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration", s)
	}
	return d, nil
}

// lookup returns a key's value from labels, else annotations.
func lookup(key string, labels, annotations map[string]string) (string, bool) {
	if v, ok := labels[key]; ok {
		return v, true
	}
	v, ok := annotations[key]
	return v, ok
}

// For returns p with a function's overrides applied. The error names the
// label or annotation that could not be read.
func (p Policy) For(labels, annotations map[string]string) (Policy, error) {
	var errs []error
	bad := func(key string, err error) { errs = append(errs, fmt.Errorf("%s: %w", key, err)) }
	if v, ok := lookup(api.AnnotationRetryAttempts, labels, annotations); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > 1000 {
			bad(api.AnnotationRetryAttempts, fmt.Errorf("%q is not a number of attempts from 1 to 1000", v))
		} else {
			p.Attempts = n
		}
	}
	if v, ok := lookup(api.AnnotationRetryCodes, labels, annotations); ok {
		if codes, err := api.ParseStatusList(v); err != nil {
			bad(api.AnnotationRetryCodes, err)
		} else {
			p.Codes = codes
		}
	}
	for _, w := range []struct {
		key string
		to  *time.Duration
	}{{api.AnnotationRetryMinWait, &p.MinWait}, {api.AnnotationRetryMaxWait, &p.MaxWait}} {
		if v, ok := lookup(w.key, labels, annotations); ok {
			if d, err := parseWait(v); err != nil {
				bad(w.key, err)
			} else {
				*w.to = d
			}
		}
	}
	if v, ok := lookup(api.LabelQueueMaxInflight, labels, annotations); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 {
			bad(api.LabelQueueMaxInflight, fmt.Errorf("%q is not a positive number", v))
		} else {
			p.MaxInflight = n
		}
	}
	if p.MaxWait < p.MinWait {
		p.MaxWait = p.MinWait
	}
	return p, errors.Join(errs...)
}

// Validate checks a function's queue labels and annotations at deploy.
func Validate(labels, annotations map[string]string) error {
	_, err := DefaultPolicy.For(labels, annotations)
	return err
}

// retryable says whether res deserves another attempt: nothing answered,
// the platform answered (X-OpenFaaS-Internal: a replica was unreachable
// or never became ready), or the function answered a listed status.
func (p Policy) retryable(res Result) bool {
	if res.Status == 0 || res.Header.Get("X-OpenFaaS-Internal") != "" {
		return true
	}
	return slices.Contains(p.Codes, res.Status)
}

// delay is the wait before attempt+1: exponential from MinWait, capped at
// MaxWait, with "equal jitter" (between half and all of it) so a burst of
// failures does not come back as a burst, never below MinWait. A
// Retry-After in seconds on a 429 or 503 is obeyed instead, within
// MinWait and MaxWait.
func (p Policy) delay(attempt int, res Result) time.Duration {
	if ra, ok := retryAfter(res); ok {
		return min(max(ra, p.MinWait), p.MaxWait)
	}
	d := p.MinWait
	for i := 1; i < attempt && d < p.MaxWait; i++ {
		d *= 2
	}
	d = min(d, p.MaxWait)
	if d > 0 {
		d = d/2 + rand.N(d/2+1)
	}
	return max(d, p.MinWait)
}

func retryAfter(res Result) (time.Duration, bool) {
	if res.Status != http.StatusTooManyRequests && res.Status != http.StatusServiceUnavailable {
		return 0, false
	}
	s, err := strconv.Atoi(strings.TrimSpace(res.Header.Get("Retry-After")))
	if err != nil || s < 0 {
		return 0, false
	}
	return time.Duration(s) * time.Second, true
}
