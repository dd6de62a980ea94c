package provider

import (
	"context"
	"fmt"
	"time"
)

// Freezing, the warm tier: a function annotated com.funcd.idle=pause
// keeps its replicas when it idles (the same rule that scales others to
// zero: com.openfaas.scale.zero=true and its zero-duration) but freezes
// them with the cgroup freezer. A frozen replica keeps its process, its
// memory and its place in f.replicas (the desired count does not change),
// but uses no CPU and is out of the endpoint table. The first request
// that finds none ready thaws them all: a write to a cgroup file per
// replica, no containerd call and no readiness probe, since the process
// is exactly where it stopped. Freeze and thaw run under the function's
// operation lock, so they never cross a deploy, scale or delete.
//
// A request that picked a replica just before it was unpublished is not
// stranded: freeze marks the replica frozen before it checks for requests
// in flight, and pick counts the request before it checks the mark (see
// endpoints.pick), so one of the two always sees the other.

const (
	annotationIdle = "com.funcd.idle"
	idlePark       = "park"  // scale to zero, parking replicas (the default)
	idlePause      = "pause" // freeze replicas in place
)

// freezeTimeout bounds waiting for a replica's processes to freeze (one
// in an uninterruptible sleep freezes only when it wakes).
const freezeTimeout = 5 * time.Second

// validateIdle checks the com.funcd.idle annotation.
func validateIdle(annotations map[string]string) error {
	switch v, ok := annotations[annotationIdle]; {
	case !ok, v == idlePark, v == idlePause:
		return nil
	default:
		return fmt.Errorf("%w: annotation %s: %q must be %s or %s", ErrInvalid, annotationIdle, v, idlePark, idlePause)
	}
}

// pauses reports whether rec's function freezes rather than scales to
// zero when idle.
func pauses(rec record) bool { return rec.Spec.Annotations[annotationIdle] == idlePause }

// freeze freezes f's ready replicas; those with a request in flight, and
// those whose group cannot be frozen, stay in service.
func (p *Provider) freeze(k key, f *function) {
	unlock := p.locks.lock(k)
	defer unlock()
	if p.get(k) != f {
		return
	}
	_, rs := f.snapshot()
	var cold []*replica
	for _, r := range rs {
		if r.ready.Load() && !r.frozen.Load() && r.inflight.Load() == 0 {
			r.ready.Store(false)
			cold = append(cold, r)
		}
	}
	if len(cold) == 0 {
		return
	}
	f.publish()
	frozen := 0
	for _, r := range cold {
		if err := p.freezeReplica(r); err != nil {
			p.log.Warn("freeze replica; it stays in service", "replica", r.id, "err", err)
			r.ready.Store(true)
			continue
		}
		frozen++
	}
	f.publish()
	if frozen > 0 {
		p.log.Info("frozen", "function", k.String(), "replicas", frozen)
	}
}

// freezeReplica freezes r unless a request reached it meanwhile.
func (p *Provider) freezeReplica(r *replica) error {
	fz, err := p.cfg.Cgroups.Freezer(r.pid.Load())
	if err != nil {
		return err
	}
	r.freezer = fz
	r.frozen.Store(true)
	if r.inflight.Load() > 0 {
		r.frozen.Store(false)
		return fmt.Errorf("a request arrived")
	}
	ctx, cancel := context.WithTimeout(p.ctx, freezeTimeout)
	defer cancel()
	if err := fz.Freeze(ctx); err != nil {
		r.frozen.Store(false)
		return err
	}
	return nil
}

// thaw thaws f's frozen replicas in the background, for a request that
// found none ready. Concurrent requests share one thaw.
func (p *Provider) thaw(k key, f *function) {
	if !f.thawing.CompareAndSwap(false, true) {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer f.thawing.Store(false)
		start := time.Now()
		unlock := p.locks.lock(k)
		defer unlock()
		if p.get(k) != f {
			return
		}
		_, rs := f.snapshot()
		n := 0
		for _, r := range rs {
			if p.thawReplica(r) {
				r.ready.Store(true)
				n++
			}
		}
		f.eps.used.Store(time.Now().UnixNano()) // idle time starts again
		f.publish()
		if n > 0 {
			p.log.Info("thawed", "function", k.String(), "replicas", n, "in", time.Since(start))
		}
	}()
}

// thawReplica thaws r if it is frozen and reports whether it is ready
// again. A group that cannot be written is gone with its process: the
// supervisor sees the task exit and starts a new one.
func (p *Provider) thawReplica(r *replica) bool {
	if !r.frozen.Load() {
		return false
	}
	err := r.freezer.Thaw()
	r.frozen.Store(false)
	if err != nil {
		p.log.Error("thaw replica", "replica", r.id, "err", err)
		return false
	}
	return true
}

// hasFrozen reports whether any of f's replicas is frozen.
func (f *function) hasFrozen() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.replicas {
		if r.frozen.Load() {
			return true
		}
	}
	return false
}

// frozenCount is how many of f's replicas are frozen.
func (f *function) frozenCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.replicas {
		if r.frozen.Load() {
			n++
		}
	}
	return n
}

// thawTask thaws r's task if its group is frozen, for a task found after
// a restart: containerd does not know of the freezing (its shim keeps its
// own idea of a task's state and still says running), and a frozen
// process still accepts TCP connections, so only its group tells. An
// adopted task is thawed, its function's scaler freezes it again once it
// has idled.
func (p *Provider) thawTask(r *replica) {
	fz, err := p.cfg.Cgroups.Freezer(r.pid.Load())
	if err != nil {
		return // no freezer: nothing can be frozen
	}
	if frozen, err := fz.Frozen(); err != nil || !frozen {
		return
	}
	if err := fz.Thaw(); err != nil {
		p.log.Error("thaw replica found frozen", "replica", r.id, "err", err)
		return
	}
	p.log.Info("thawed replica found frozen", "replica", r.id)
}
