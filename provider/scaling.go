package provider

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Scaling labels, as OpenFaaS names them.
const (
	labelScaleZero         = "com.openfaas.scale.zero"
	labelScaleZeroDuration = "com.openfaas.scale.zero-duration"
	labelScaleTarget       = "com.openfaas.scale.target"
	labelScaleType         = "com.openfaas.scale.type"
	labelScaleProportion   = "com.openfaas.scale.target-proportion"
)

// Defaults for the scaling labels.
const (
	defaultZeroDuration = 15 * time.Minute
	defaultProportion   = 0.9
)

// scaling is a function's scaling policy, from its labels.
type scaling struct {
	min, max   uint64
	zero       bool          // scale to zero when idle
	zeroAfter  time.Duration // idle time before that
	target     float64       // load per replica to aim for; 0 for no autoscaling
	rps        bool          // target counts requests per second, else requests in flight
	proportion float64       // of target, at which to add a replica
}

// parseScaling reads and checks the scaling labels.
func parseScaling(labels map[string]string) (scaling, error) {
	s := scaling{zeroAfter: defaultZeroDuration, proportion: defaultProportion}
	if err := validateScaleLabels(labels); err != nil {
		return s, err
	}
	s.min, s.max = replicaBounds(labels)
	bad := func(label, v, want string) error {
		return fmt.Errorf("%w: label %s: %q must be %s", ErrInvalid, label, v, want)
	}
	if v, ok := labels[labelScaleZero]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return s, bad(labelScaleZero, v, "true or false")
		}
		s.zero = b
	}
	if v, ok := labels[labelScaleZeroDuration]; ok {
		d, err := parseDuration(v)
		if err != nil || d < time.Second {
			return s, bad(labelScaleZeroDuration, v, "a duration of at least 1s (e.g. 15m, or seconds)")
		}
		s.zeroAfter = d
	}
	if v, ok := labels[labelScaleTarget]; ok {
		t, err := strconv.ParseFloat(v, 64)
		if err != nil || t <= 0 || math.IsInf(t, 0) || math.IsNaN(t) {
			return s, bad(labelScaleTarget, v, "a positive number")
		}
		s.target = t
	}
	switch v := labels[labelScaleType]; v {
	case "", "capacity":
	case "rps":
		s.rps = true
	default:
		return s, bad(labelScaleType, v, "capacity or rps")
	}
	if v, ok := labels[labelScaleProportion]; ok {
		p, err := strconv.ParseFloat(v, 64)
		if err != nil || p <= 0 || p > 1 {
			return s, bad(labelScaleProportion, v, "a number in (0, 1]")
		}
		s.proportion = p
	}
	return s, nil
}

// parseDuration accepts a Go duration or a whole number of seconds, as
// OpenFaaS components do.
func parseDuration(v string) (time.Duration, error) {
	if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(v)
}

// wanted is the replica count the load asks for, within min..max (and at
// least 1: autoscaling never scales to zero; idling does).
func (s scaling) wanted(inflight, rps float64) uint64 {
	load := inflight
	if s.rps {
		load = rps
	}
	n := uint64(math.Ceil(load / (s.target * s.proportion)))
	return min(max(n, s.min, 1), s.max)
}
