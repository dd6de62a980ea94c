package provider

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestParseScaling(t *testing.T) {
	good := []map[string]string{
		nil,
		{labelScaleZero: "true", labelScaleZeroDuration: "5m"},
		{labelScaleZeroDuration: "90"},
		{labelScaleTarget: "5", labelScaleType: "rps", labelScaleProportion: "0.5"},
		{labelScaleMin: "0", labelScaleMax: "50"},
	}
	for _, l := range good {
		if _, err := parseScaling(l); err != nil {
			t.Errorf("parseScaling(%v) = %v, want nil", l, err)
		}
	}
	bad := []map[string]string{
		{labelScaleZero: "yes please"},
		{labelScaleZeroDuration: "soon"},
		{labelScaleZeroDuration: "100ms"},
		{labelScaleTarget: "-1"},
		{labelScaleTarget: "many"},
		{labelScaleType: "cpu-ish"},
		{labelScaleProportion: "1.5"},
		{labelScaleMin: "x"},
	}
	for _, l := range bad {
		if _, err := parseScaling(l); !errors.Is(err, ErrInvalid) {
			t.Errorf("parseScaling(%v) = %v, want ErrInvalid", l, err)
		}
	}
	s, _ := parseScaling(map[string]string{labelScaleZeroDuration: "90"})
	if s.zeroAfter != 90*time.Second || s.proportion != defaultProportion || s.max != defaultMaxReplicas {
		t.Errorf("parseScaling defaults = %+v", s)
	}
}

func TestWanted(t *testing.T) {
	s := scaling{min: 1, max: 5, target: 2, proportion: 1}
	tests := []struct {
		inflight, rps float64
		want          uint64
	}{{0, 0, 1}, {2, 0, 1}, {3, 0, 2}, {8, 0, 4}, {100, 0, 5}}
	for _, tt := range tests {
		if got := s.wanted(tt.inflight, tt.rps); got != tt.want {
			t.Errorf("wanted(%v in flight) = %d, want %d", tt.inflight, got, tt.want)
		}
	}
	s.rps = true
	if got := s.wanted(0, 7); got != 4 {
		t.Errorf("wanted(7 rps) = %d, want 4", got)
	}
}

func TestScaleToZeroWhenIdle(t *testing.T) {
	h := newHarness(t)
	h.p.Shutdown(context.Background())
	h.p = h.startWith(func(c *Config) { c.ScaleTick = 20 * time.Millisecond })
	ctx := context.Background()
	if err := h.p.Deploy(ctx, deployment("sleepy", withLabel(labelScaleZero, "true"), withLabel(labelScaleZeroDuration, "1s"))); err != nil {
		t.Fatal(err)
	}
	if err := h.p.Deploy(ctx, deployment("awake")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "sleepy at zero", func() bool {
		st, _ := h.p.Status("sleepy", "openfaas-fn")
		return st.Replicas == 0
	})
	if st, _ := h.p.Status("awake", "openfaas-fn"); st.Replicas != 1 {
		t.Errorf("a function without scale.zero went to %d replicas", st.Replicas)
	}
	if got, err := h.invoke(h.p, "sleepy"); err != nil || got == "" {
		t.Errorf("invoke after scale to zero = %q, %v; want it woken", got, err)
	}
}

func TestAutoscaleCapacity(t *testing.T) {
	h := newHarness(t)
	h.p.Shutdown(context.Background())
	h.p = h.startWith(func(c *Config) { c.ScaleTick = 20 * time.Millisecond; c.ScaleDownDelay = 200 * time.Millisecond })
	ctx := context.Background()
	if err := h.p.Deploy(ctx, deployment("busy", withLabel(labelScaleTarget, "2"), withLabel(labelScaleProportion, "1"), withLabel(labelScaleMax, "4"))); err != nil {
		t.Fatal(err)
	}
	f := h.p.get(key{"openfaas-fn", "busy"})
	_, rs := f.snapshot()
	rs[0].inflight.Store(7) // 7 requests in flight, 2 per replica wanted
	eventually(t, "scale up to 4", func() bool { st, _ := h.p.Status("busy", "openfaas-fn"); return st.Replicas == 4 })
	rs[0].inflight.Store(0)
	eventually(t, "scale back to 1", func() bool { st, _ := h.p.Status("busy", "openfaas-fn"); return st.Replicas == 1 })
}

func TestParkedReplicasSurviveRestart(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.p.Deploy(ctx, deployment("a")); err != nil {
		t.Fatal(err)
	}
	if err := h.p.Scale(ctx, "a", "openfaas-fn", 0); err != nil {
		t.Fatal(err)
	}
	parked := h.rt.ids()
	h.p.Shutdown(ctx)
	p2 := h.start()
	if got := h.rt.ids(); len(got) != 1 || got[0] != parked[0] {
		t.Fatalf("after restart containers = %v, want the parked %v kept", got, parked)
	}
	if pid := h.rt.pidOf(parked[0]); pid != 0 {
		t.Errorf("parked replica has a task after restart (pid %d)", pid)
	}
	if got, err := h.invoke(p2, "a"); err != nil || got != parked[0] {
		t.Errorf("invoke after restart = %q, %v; want the parked replica woken", got, err)
	}
}
