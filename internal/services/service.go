package services

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/funcd/funcd/cni"
	"github.com/funcd/funcd/internal/backoff"
	"github.com/funcd/funcd/internal/compose"
	"github.com/funcd/funcd/internal/containerd"
	"github.com/funcd/funcd/internal/logs"
)

// service is one side service: its container, task and supervision. One
// goroutine (run) owns its life; Runner.mu guards the fields others read.
type service struct {
	spec compose.Service
	hash string
	id   string // container ID

	state    string
	pid      uint32
	addr     netip.Addr
	health   string
	restarts int

	restart chan struct{} // asks supervision to restart the task
	cancel  context.CancelFunc
	done    chan struct{}
}

// States a service goes through.
const (
	statePulling  = "pulling"  // its image is being pulled (again, after a failure)
	stateWaiting  = "waiting"  // for its dependencies
	stateStarting = "starting" // container or task being made
	stateRunning  = "running"
	stateExited   = "exited" // and its restart policy does not restart it
	stateFailed   = "failed" // could not be created; retried with back-off
)

func (r *Runner) newService(spec compose.Service, id string) *service {
	return &service{spec: spec, hash: hash(spec), id: id, state: stateStarting, restart: make(chan struct{}, 1)}
}

func (s *service) status() Status {
	st := Status{Name: s.spec.Name, Image: s.spec.Image, State: s.state, PID: s.pid, Health: s.health, Restarts: s.restarts}
	if s.addr.IsValid() {
		st.Address = s.addr.String()
	}
	for _, p := range s.spec.Ports {
		st.Ports = append(st.Ports, portString(p))
	}
	return st
}

// set changes s's state under the runner's lock and wakes its dependents.
func (r *Runner) set(s *service, f func()) {
	r.mu.Lock()
	f()
	r.notify()
	r.mu.Unlock()
}

// run starts s's supervision: adopted, its task is already running.
func (r *Runner) run(s *service, adopted bool) {
	ctx, cancel := context.WithCancel(r.ctx)
	s.cancel = cancel
	s.done = make(chan struct{})
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(s.done)
		r.supervise(ctx, s, adopted)
	}()
}

// supervise makes s's container (unless adopted) and keeps its task
// running as its restart policy says, until ctx ends.
func (r *Runner) supervise(ctx context.Context, s *service, adopted bool) {
	log := r.log.With("service", s.spec.Name)
	if !adopted {
		if !r.awaitDependencies(ctx, s) || !r.create(ctx, s) {
			return
		}
	}
	exits, failures := 0, 0
	for {
		var exited <-chan containerd.Exit
		var err error
		if adopted {
			exited, err = r.rt.Wait(ctx, Namespace, s.id)
			adopted = false
		} else {
			exited, err = r.boot(ctx, s)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			exits++
			log.Error("start side service", "attempt", exits, "err", err, "retry_in", backoff.Delay(exits+1))
			r.set(s, func() { s.state, s.pid = stateFailed, 0 })
			if !sleep(ctx, backoff.Delay(exits+1)) {
				return
			}
			continue
		}
		started := time.Now()
		hctx, stopHealth := context.WithCancel(ctx)
		healthDone := make(chan struct{})
		go func() {
			defer close(healthDone)
			r.healthcheck(hctx, s)
		}()
		var e containerd.Exit
		var ok, manual bool
		select {
		case <-ctx.Done():
		case e, ok = <-exited:
		case <-s.restart:
			manual = true
		}
		stopHealth()
		<-healthDone
		if ctx.Err() != nil {
			return
		}
		if manual {
			log.Info("restarting side service on request")
			r.stopTask(s)
			r.set(s, func() { s.restarts++ })
			exits, failures = 0, 0
			continue
		}
		if !ok {
			return
		}
		r.set(s, func() { s.state, s.pid = stateExited, 0 })
		if time.Since(started) > time.Minute {
			exits, failures = 0, 0
		}
		exits++ // every quick exit grows the back-off, a clean one too
		if e.Code != 0 {
			failures++ // what on-failure:N counts
		}
		if !restarts(s.spec.Restart, e.Code, failures) {
			log.Warn("side service exited; its restart policy keeps it stopped", "code", e.Code, "restart", s.spec.Restart.Policy)
			select { // until `funcd service restart`
			case <-ctx.Done():
				return
			case <-s.restart:
				log.Info("restarting side service on request")
				r.set(s, func() { s.restarts++ })
				exits, failures = 0, 0
				continue
			}
		}
		wait := backoff.Delay(exits)
		log.Warn("side service exited; restarting", "code", e.Code, "in", wait)
		if !sleep(ctx, wait) {
			return
		}
		r.set(s, func() { s.restarts++ })
	}
}

// restarts reports whether policy restarts a task that exited with code
// after failures consecutive failed runs.
func restarts(policy compose.Restart, code uint32, failures int) bool {
	switch policy.Policy {
	case "always", "unless-stopped":
		return true
	case "on-failure":
		return code != 0 && (policy.MaxAttempts == 0 || failures <= policy.MaxAttempts)
	default: // "no", ""
		return false
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// awaitDependencies waits until every service s depends on is started
// (or healthy, when the condition asks for it).
func (r *Runner) awaitDependencies(ctx context.Context, s *service) bool {
	if len(s.spec.DependsOn) == 0 {
		return true
	}
	r.set(s, func() { s.state = stateWaiting })
	for {
		r.mu.Lock()
		ready, changed := r.dependenciesReady(s), r.changed
		r.mu.Unlock()
		if ready {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-changed:
		}
	}
}

// dependenciesReady is called with r.mu held.
func (r *Runner) dependenciesReady(s *service) bool {
	for _, d := range s.spec.DependsOn {
		dep, ok := r.svcs[d.Service]
		if !ok || dep.state != stateRunning {
			return false
		}
		if d.Condition == "service_healthy" && dep.spec.Health != nil && dep.health != healthHealthy {
			return false
		}
	}
	return true
}

// create pulls s's image and makes its network namespace, address and
// container, retrying with back-off until it succeeds or ctx ends.
func (r *Runner) create(ctx context.Context, s *service) bool {
	log := r.log.With("service", s.spec.Name)
	for attempt := 1; ; attempt++ {
		err := r.createOnce(ctx, s)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		wait := backoff.Delay(attempt + 1)
		log.Error("create side service", "attempt", attempt, "err", err, "retry_in", wait)
		r.set(s, func() { s.state = stateFailed })
		if !sleep(ctx, wait) {
			return false
		}
	}
}

func (r *Runner) createOnce(ctx context.Context, s *service) (err error) {
	r.set(s, func() { s.state = statePulling })
	image, err := r.rt.EnsureImage(ctx, Namespace, s.spec.Image, pullPolicy(s.spec))
	if err != nil {
		return err
	}
	r.set(s, func() { s.state = stateStarting })
	defer func() {
		if err != nil {
			r.remove(context.WithoutCancel(ctx), s.id)
		}
	}()
	netns := r.netnsPath(s.id)
	if err := r.ensureDir(filepath.Dir(netns)); err != nil {
		return err
	}
	want := r.previousAddress(s.spec.Name)
	rec := record{Service: s.spec.Name, Ports: ports(s.spec)}
	if err := r.saveRecord(s.id, rec); err != nil { // before anything needs releasing
		return err
	}
	if err := cni.NewNetNS(netns); err != nil {
		return err
	}
	addr, err := r.net.Attach(ctx, s.id, netns, want, rec.Ports)
	if err != nil {
		return err
	}
	rec.Address = addr.String()
	if err := r.saveRecord(s.id, rec); err != nil {
		return err
	}
	r.set(s, func() { s.addr = addr })
	r.updateHosts()
	spec, err := r.containerSpec(s.spec, s.id, image, netns)
	if err != nil {
		return err
	}
	if err := r.rt.Create(ctx, Namespace, spec); err != nil {
		return err
	}
	return r.fillVolumes(ctx, s)
}

// fillVolumes copies what s's image holds at each named volume's target
// into the volume while it is empty, as Docker does for a new volume: the
// image's data directory, its owner and mode with it.
func (r *Runner) fillVolumes(ctx context.Context, s *service) error {
	for _, m := range s.spec.Mounts {
		if m.Volume == "" {
			continue
		}
		dir := r.volumeDir(m.Volume)
		if entries, err := os.ReadDir(dir); err != nil || len(entries) > 0 {
			continue // mountSource made it; not empty: the volume's own data
		}
		if err := r.rt.CopyUp(ctx, Namespace, s.id, m.Target, dir); err != nil {
			// It was empty: leave it so, for the next attempt to fill.
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				_ = os.RemoveAll(filepath.Join(dir, e.Name()))
			}
			return fmt.Errorf("volume %s: %w", m.Volume, err)
		}
	}
	return nil
}

// previousAddress is the address the last container of service name had,
// so that a recreated service keeps it (functions' hosts files and
// connections stay valid); invalid when there is none.
func (r *Runner) previousAddress(name string) netip.Addr {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastAddr[name]
}

// boot creates and starts s's task and returns its exit channel.
func (r *Runner) boot(ctx context.Context, s *service) (<-chan containerd.Exit, error) {
	r.set(s, func() { s.state = stateStarting })
	task, err := r.rt.NewTask(ctx, Namespace, s.id, r.logPath(s.spec.Name, s.id))
	if err != nil {
		return nil, err
	}
	exited, err := r.rt.Wait(ctx, Namespace, s.id)
	if err == nil {
		err = r.rt.StartTask(ctx, Namespace, s.id)
	}
	if err != nil {
		r.stopTask(s)
		return nil, err
	}
	r.set(s, func() {
		s.state, s.pid = stateRunning, task.PID
		if s.spec.Health != nil {
			s.health = healthStarting
		}
	})
	return exited, nil
}

func (r *Runner) stopTask(s *service) {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.StopGrace+30*time.Second)
	defer cancel()
	if err := r.rt.StopTask(ctx, Namespace, s.id, r.cfg.StopGrace); err != nil {
		r.log.Error("stop side service", "service", s.spec.Name, "err", err)
	}
}

// stop ends s's supervision and removes its container, address, ports and
// logs; it is no longer one of the runner's services.
func (r *Runner) stop(ctx context.Context, s *service) {
	s.cancel()
	<-s.done
	r.mu.Lock()
	if s.addr.IsValid() {
		r.lastAddr[s.spec.Name] = s.addr
	}
	delete(r.svcs, s.spec.Name)
	r.notify()
	r.mu.Unlock()
	r.remove(ctx, s.id)
}

// remove deletes container id (stopping its task within the grace) and
// releases what its record says it holds.
func (r *Runner) remove(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.StopGrace+time.Minute)
	defer cancel()
	if err := r.rt.StopTask(ctx, Namespace, id, r.cfg.StopGrace); err != nil {
		r.log.Error("stop side service", "container", id, "err", err)
	}
	if err := r.rt.Delete(ctx, Namespace, id); err != nil {
		r.log.Error("delete side service's container", "container", id, "err", err)
	}
	r.release(ctx, id)
}

// release frees what record id holds: address, ports, network namespace,
// logs, and the record itself.
func (r *Runner) release(ctx context.Context, id string) {
	rec, err := r.loadRecord(id)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	netns := r.netnsPath(id)
	if err := r.net.Detach(ctx, id, netns, rec.Ports); err != nil {
		r.log.Error("release side service's address", "container", id, "err", err)
	}
	if err := cni.RemoveNetNS(netns); err != nil {
		r.log.Error("remove side service's netns", "container", id, "err", err)
	}
	if rec.Service != "" {
		path := r.logPath(rec.Service, id)
		_ = logs.Remove(path)
		_ = os.Remove(filepath.Dir(path))
	}
	if err := os.Remove(r.recordPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		r.log.Error("remove side service's record", "container", id, "err", err)
	}
}

// removeOrphanRecords releases records whose container is gone (removed
// while funcd was down).
func (r *Runner) removeOrphanRecords(ctx context.Context, seen map[string]bool) {
	entries, err := os.ReadDir(r.serviceDir())
	if err != nil {
		return
	}
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || seen[id] {
			continue
		}
		r.log.Warn("container of a side service vanished; releasing its address", "container", id)
		r.release(ctx, id)
	}
}
