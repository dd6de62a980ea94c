package services

import (
	"context"
	"time"
)

// Health states of a service with a healthcheck.
const (
	healthStarting  = "starting"
	healthHealthy   = "healthy"
	healthUnhealthy = "unhealthy"
)

// Compose's defaults for a healthcheck's timings.
const (
	defaultInterval = 30 * time.Second
	defaultTimeout  = 30 * time.Second
	defaultRetries  = 3
)

// healthcheck runs s's healthcheck in its task every interval until ctx
// ends, as Docker does: it is healthy after one success, unhealthy after
// Retries failures in a row, and failures within StartPeriod of the start
// do not count. An unhealthy service is reported, not restarted.
func (r *Runner) healthcheck(ctx context.Context, s *service) {
	h := s.spec.Health
	if h == nil || len(h.Test) == 0 {
		return
	}
	interval, timeout, retries := h.Interval, h.Timeout, h.Retries
	if interval <= 0 {
		interval = defaultInterval
	}
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	if retries <= 0 {
		retries = defaultRetries
	}
	started := time.Now()
	failures := 0
	// The first check runs at once: dependents wait for it.
	for first := true; ; first = false {
		if !first && !sleep(ctx, interval) {
			return
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		code, err := r.rt.Exec(cctx, Namespace, s.id, h.Test)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil && code == 0 {
			failures = 0
			r.setHealth(s, healthHealthy)
			continue
		}
		if time.Since(started) < h.StartPeriod {
			continue
		}
		failures++
		if failures >= retries {
			r.setHealth(s, healthUnhealthy)
		}
		r.log.Debug("healthcheck failed", "service", s.spec.Name, "code", code, "err", err, "failures", failures)
	}
}

func (r *Runner) setHealth(s *service, h string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.health != h {
		if h == healthUnhealthy || s.health == healthUnhealthy {
			r.log.Warn("side service health changed", "service", s.spec.Name, "health", h)
		}
		s.health = h
		r.notify()
	}
}
