package provider

import (
	"context"
	"errors"
	"sync"
)

// Parking: when a function scales to zero, up to the replicas it will want
// on waking (com.openfaas.scale.min, at least 1) keep their container,
// snapshot, network namespace and address, but no task: nothing runs. A
// cold start then only creates and starts a task in a prepared container,
// skipping container creation and CNI, which is most of the floor.
// Parked replicas go with an update (they carry the old spec) and with
// the function.

// toPark splits the replicas leaving a function going to zero into those to
// park and those to release.
func (p *Provider) toPark(f *function, rec record, leaving []*replica) (park, release []*replica) {
	s, _ := parseScaling(rec.Spec.Labels)
	f.mu.Lock()
	room := int(max(s.min, 1)) - len(f.parked)
	f.mu.Unlock()
	room = max(0, min(room, len(leaving)))
	return leaving[:room], leaving[room:]
}

// park stops rs's tasks (draining first) and keeps the rest for later.
func (p *Provider) park(f *function, rs []*replica) {
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.halt(r, p.cfg.StopGrace)
		}()
	}
	wg.Wait()
	f.mu.Lock()
	f.parked = append(f.parked, rs...)
	f.mu.Unlock()
}

// unpark boots up to n parked replicas and returns those that became
// ready, supervised. Those that fail are released, unless containerd could
// not be reached: those stay parked (releasing them would fail too, and
// leave their containers behind).
func (p *Provider) unpark(ctx context.Context, f *function, n int) []*replica {
	f.mu.Lock()
	n = min(n, len(f.parked))
	rs := f.parked[:n:n]
	f.parked = append([]*replica(nil), f.parked[n:]...)
	f.mu.Unlock()
	ok := make([]bool, len(rs))
	var mu sync.Mutex
	var keep []*replica
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			exited, err := p.boot(ctx, r)
			if errors.Is(err, ErrUnavailable) {
				p.log.Warn("parked replica did not start; it stays parked", "replica", r.id, "err", err)
				mu.Lock()
				keep = append(keep, r)
				mu.Unlock()
				return
			}
			if err != nil {
				f.failed(err)
				p.log.Warn("parked replica did not start; creating a new one", "replica", r.id, "err", err)
				p.release(r)
				return
			}
			f.started()
			p.supervise(f, r, exited, 0)
			ok[i] = true
		}()
	}
	wg.Wait()
	if len(keep) > 0 {
		f.mu.Lock()
		f.parked = append(f.parked, keep...)
		f.mu.Unlock()
	}
	var out []*replica
	for i, r := range rs {
		if ok[i] {
			out = append(out, r)
		}
	}
	return out
}

// takeParked empties f's parked list and returns what it held.
func (f *function) takeParked() []*replica {
	f.mu.Lock()
	defer f.mu.Unlock()
	rs := f.parked
	f.parked = nil
	return rs
}
