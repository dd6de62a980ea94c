package compose

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// Docker's healthcheck defaults, for the fields a file leaves out.
const (
	defaultInterval = 30 * time.Second
	defaultTimeout  = 30 * time.Second
	defaultRetries  = 3
)

func (c converter) health(s types.ServiceConfig) (*Healthcheck, error) {
	h := s.HealthCheck
	if h == nil || h.Disable || (len(h.Test) > 0 && h.Test[0] == "NONE") {
		return nil, nil
	}
	at := []string{"services", s.Name, "healthcheck"}
	out := &Healthcheck{Interval: defaultInterval, Timeout: defaultTimeout, Retries: defaultRetries}
	switch {
	case len(h.Test) == 0:
		return nil, c.errorf(at, "healthcheck without test: funcd does not read the image's HEALTHCHECK")
	case h.Test[0] == "CMD" && len(h.Test) > 1:
		out.Test = h.Test[1:]
	case h.Test[0] == "CMD-SHELL" && len(h.Test) == 2:
		out.Test = []string{"/bin/sh", "-c", h.Test[1]}
	default:
		return nil, c.errorf(append(at, "test"), `healthcheck test must be ["CMD", arg...], ["CMD-SHELL", command] or ["NONE"]`)
	}
	for _, d := range []struct {
		name string
		in   *types.Duration
		out  *time.Duration
	}{{"interval", h.Interval, &out.Interval}, {"timeout", h.Timeout, &out.Timeout}, {"start_period", h.StartPeriod, &out.StartPeriod}} {
		if d.in == nil {
			continue
		}
		if *d.in < 0 || (d.name != "start_period" && *d.in == 0) {
			return nil, c.errorf(append(at, d.name), "healthcheck %s %s must be positive", d.name, time.Duration(*d.in))
		}
		*d.out = time.Duration(*d.in)
	}
	if h.Retries != nil {
		if *h.Retries > math.MaxInt32 {
			return nil, c.errorf(append(at, "retries"), "healthcheck retries %d is too many", *h.Retries)
		}
		out.Retries = int(*h.Retries)
	}
	return out, nil
}

// restart reads compose's restart: no, always, on-failure[:N],
// unless-stopped (always: funcd stops a service only when told to).
func restart(s string) (Restart, error) {
	policy, max, hasMax := strings.Cut(s, ":")
	switch {
	case s == "" || s == types.RestartPolicyNo:
		return Restart{Policy: types.RestartPolicyNo}, nil
	case s == types.RestartPolicyAlways || s == types.RestartPolicyUnlessStopped:
		return Restart{Policy: types.RestartPolicyAlways}, nil
	case policy == types.RestartPolicyOnFailure && !hasMax:
		return Restart{Policy: types.RestartPolicyOnFailure}, nil
	case policy == types.RestartPolicyOnFailure:
		n, err := strconv.Atoi(max)
		if err != nil || n < 0 {
			return Restart{}, fmt.Errorf("restart %q: the attempts after on-failure: must be a number", s)
		}
		return Restart{Policy: types.RestartPolicyOnFailure, MaxAttempts: n}, nil
	}
	return Restart{}, fmt.Errorf("restart %q is not supported (no, always, on-failure[:N] or unless-stopped)", s)
}

// limits reads mem_limit and cpus, or their deploy.resources.limits
// equivalents (compose-go refuses a file giving both with different values).
func (c converter) limits(s types.ServiceConfig, out *Service) error {
	mem, cpus := int64(s.MemLimit), float64(s.CPUS)
	if l := s.Deploy; l != nil && l.Resources.Limits != nil {
		if m := int64(l.Resources.Limits.MemoryBytes); m != 0 {
			mem = m
		}
		if n := float64(l.Resources.Limits.NanoCPUs.Value()); n != 0 {
			cpus = n
		}
	}
	at := []string{"services", s.Name}
	if mem < 0 {
		return c.errorf(append(at, "mem_limit"), "memory limit must not be negative")
	}
	if cpus < 0 || math.IsNaN(cpus) || cpus > 1<<20 {
		return c.errorf(append(at, "cpus"), "cpus %v must be a positive number of CPUs", cpus)
	}
	out.MemoryBytes = mem
	out.CPUMillis = int64(math.Round(cpus * 1000))
	return nil
}
