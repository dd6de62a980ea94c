package provider

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// The scaler wakes every tick and, per function: scales it up when its
// load per replica passes the target, down once the load has stayed lower
// for the stabilisation window, and to zero once it has been idle for its
// zero-duration (com.openfaas.scale.zero=true). Scale from zero is not
// here: Resolve starts a replica the moment a request finds none.

// scaleState is the scaler's memory of one function between ticks.
type scaleState struct {
	requests  uint64      // the request counter at the last tick
	at        time.Time   // when it was read
	lowSince  time.Time   // since when the load has asked for fewer replicas
	lowWanted uint64      // the most replicas asked for since then
	busy      atomic.Bool // a scale operation is under way
}

// runScaler runs until the provider shuts down.
func (p *Provider) runScaler(tick time.Duration) {
	defer p.wg.Done()
	t := time.NewTicker(tick)
	defer t.Stop()
	states := map[key]*scaleState{}
	for {
		select {
		case <-p.ctx.Done():
			return
		case now := <-t.C:
			p.scaleOnce(now, states)
		}
	}
}

func (p *Provider) scaleOnce(now time.Time, states map[key]*scaleState) {
	p.mu.RLock()
	fns := make(map[key]*function, len(p.fns))
	for k, f := range p.fns {
		fns[k] = f
	}
	p.mu.RUnlock()
	for k := range states {
		if fns[k] == nil {
			delete(states, k)
		}
	}
	for k, f := range fns {
		st := states[k]
		if st == nil {
			st = &scaleState{requests: f.eps.requests.Load(), at: now}
			states[k] = st
			continue
		}
		rec, rs := f.snapshot()
		s, err := parseScaling(rec.Spec.Labels)
		if err != nil {
			continue // validated at deploy; an old record may predate a rule
		}
		if p.cfg.MaxReplicas > 0 {
			s.max = min(s.max, p.cfg.MaxReplicas) // an old record may predate the cap
		}
		reqs := f.eps.requests.Load()
		rps := float64(reqs-st.requests) / now.Sub(st.at).Seconds()
		st.requests, st.at = reqs, now
		var inflight int64
		for _, r := range rs {
			inflight += r.inflight.Load()
		}
		if st.busy.Load() || rec.Replicas == 0 {
			continue
		}
		if pauses(rec) && idle(now, s, float64(inflight), f) {
			if f.eps.count() > 0 { // some replica is ready, not frozen
				st.busy.Store(true)
				p.wg.Add(1)
				go func() {
					defer p.wg.Done()
					defer st.busy.Store(false)
					p.freeze(k, f)
				}()
			}
			continue
		}
		if n, ok := p.decide(now, s, st, rec.Replicas, float64(inflight), rps, f); ok {
			st.busy.Store(true)
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				defer st.busy.Store(false)
				p.autoScale(k, n)
			}()
		}
	}
}

// decide returns the replica count to move to, if any.
func (p *Provider) decide(now time.Time, s scaling, st *scaleState, cur uint64, inflight, rps float64, f *function) (uint64, bool) {
	if idle(now, s, inflight, f) {
		return 0, true
	}
	if s.target == 0 {
		return 0, false
	}
	want := s.wanted(inflight, rps)
	switch {
	case want > cur:
		st.lowSince = time.Time{}
		return want, true
	case want < cur:
		if st.lowSince.IsZero() {
			st.lowSince, st.lowWanted = now, want
		}
		st.lowWanted = max(st.lowWanted, want)
		if now.Sub(st.lowSince) >= p.cfg.ScaleDownDelay {
			st.lowSince = time.Time{}
			return st.lowWanted, st.lowWanted < cur
		}
	default:
		st.lowSince = time.Time{}
	}
	return 0, false
}

// idle reports whether f has idled long enough to scale to zero (or, with
// com.funcd.idle=pause, to freeze).
func idle(now time.Time, s scaling, inflight float64, f *function) bool {
	return s.zero && inflight == 0 && now.Sub(f.eps.lastUsed()) >= s.zeroAfter
}

func (p *Provider) autoScale(k key, n uint64) {
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.ReadyTimeout+time.Minute)
	defer cancel()
	if err := p.Scale(ctx, k.name, k.ns, n); err != nil {
		p.log.Warn("autoscale", "function", k.String(), "replicas", n, "err", err)
		return
	}
	p.log.Info("autoscaled", "function", k.String(), "replicas", n)
}

// wakeRetry is how often a scale from zero is tried again while
// containerd cannot be reached.
const wakeRetry = time.Second

// wake starts the function's replicas when a request finds it at zero.
// Concurrent requests share one wake-up. While containerd cannot be
// reached (a restart), the wake-up is tried again every wakeRetry, so
// that requests waiting (each bounded by its own timeout) are served once
// containerd is back; it gives up after the ready timeout and a minute.
func (p *Provider) wake(k key, f *function) {
	if !f.waking.CompareAndSwap(false, true) {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer f.waking.Store(false)
		start := time.Now()
		ctx, cancel := context.WithTimeout(p.ctx, p.cfg.ReadyTimeout+time.Minute)
		defer cancel()
		for attempt := 1; ; attempt++ {
			rec, _ := f.snapshot()
			if rec.Replicas > 0 {
				return // someone scaled it up meanwhile
			}
			s, _ := parseScaling(rec.Spec.Labels)
			err := p.Scale(ctx, k.name, k.ns, max(s.min, 1))
			if err == nil {
				p.log.Info("scaled from zero", "function", k.String(), "in", time.Since(start))
				return
			}
			if !errors.Is(err, ErrUnavailable) || ctx.Err() != nil {
				p.log.Error("scale from zero", "function", k.String(), "err", err)
				return
			}
			if attempt == 1 {
				p.log.Warn("scale from zero: containerd is unavailable; retrying", "function", k.String(), "every", wakeRetry, "err", err)
			}
			select {
			case <-ctx.Done():
				p.log.Error("scale from zero: gave up", "function", k.String(), "after", time.Since(start).Round(time.Millisecond), "err", err)
				return
			case <-time.After(wakeRetry):
			}
		}
	}()
}
