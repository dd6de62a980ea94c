package provider

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/funcd/funcd/internal/backoff"
	"github.com/funcd/funcd/internal/containerd"
)

// startReplica creates one replica of rec: a pinned network namespace with
// an address from CNI, a container, and a task that is ready. Supervision
// starts as soon as it is ready. On failure nothing is left behind.
func (p *Provider) startReplica(ctx context.Context, f *function, rec record) (*replica, error) {
	r, err := p.prepareReplica(ctx, rec)
	if err != nil {
		f.failed(err)
		return nil, err
	}
	exited, err := p.boot(ctx, r)
	if err != nil {
		f.failed(err)
		p.release(r)
		return nil, err
	}
	f.started()
	p.supervise(f, r, exited, 0)
	return r, nil
}

// prepareReplica makes a replica of rec up to its task: network namespace,
// address and container. Nothing runs in it yet.
func (p *Provider) prepareReplica(ctx context.Context, rec record) (_ *replica, err error) {
	d := rec.Spec
	id := newReplicaID(d.Service)
	r := &replica{
		id:        id,
		fn:        d.Service,
		ns:        d.Namespace,
		revision:  rec.Revision,
		netns:     p.netnsPath(id),
		readyPath: d.Annotations[annotationReadyPath],
	}
	defer func() {
		if err != nil {
			p.release(r)
		}
	}()
	if err := p.net.NewNetNS(r.netns); err != nil {
		return nil, err
	}
	addr, err := p.net.Attach(ctx, r.id, r.netns)
	if err != nil {
		return nil, err
	}
	r.host = netip.AddrPortFrom(addr, p.cfg.FunctionPort).String()
	spec, err := p.containerSpec(rec, r, addr)
	if err != nil {
		return nil, err
	}
	if err := p.rt.Create(ctx, r.ns, spec); err != nil {
		return nil, err
	}
	return r, nil
}

func (p *Provider) containerSpec(rec record, r *replica, addr netip.Addr) (containerd.ContainerSpec, error) {
	d := rec.Spec
	spec := containerd.ContainerSpec{
		ID:    r.id,
		Image: rec.Image,
		Labels: map[string]string{
			labelFunction: d.Service,
			labelRevision: strconv.FormatUint(rec.Revision, 10),
			labelIP:       addr.String(),
			labelInstance: p.cfg.Instance,
		},
		Env:          env(d),
		MemoryLimit:  memoryLimit(d),
		CPUMillis:    cpuLimit(d),
		PidsLimit:    p.cfg.PidsLimit,
		Hostname:     hostname(r.id),
		ReadOnlyRoot: d.ReadOnlyRootFilesystem,
		NetNS:        r.netns,
		NetRaw:       netRaw(d),
	}
	for _, m := range p.cfg.Mounts {
		spec.Mounts = append(spec.Mounts, bindMount(m.Source, m.Destination))
	}
	if len(d.Secrets) > 0 {
		m, err := p.secretsMount(d, r)
		if err != nil {
			return spec, err
		}
		spec.Mounts = append(spec.Mounts, m)
	}
	return spec, nil
}

// release removes everything a replica may own: task, container, snapshot,
// address, network namespace and log. Each step tolerates what is already
// gone, so it also cleans up after a half-created replica.
func (p *Provider) release(r *replica) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.rt.Delete(ctx, r.ns, r.id); err != nil {
		p.log.Error("delete container", "replica", r.id, "err", err)
	}
	if err := p.net.Detach(ctx, r.id, r.netns); err != nil {
		p.log.Error("release address", "replica", r.id, "err", err)
	}
	if err := p.net.RemoveNetNS(r.netns); err != nil {
		p.log.Error("remove netns", "replica", r.id, "err", err)
	}
	p.removeLogs(r)
	p.releaseSecrets(r)
}

// stopReplica takes r out of service: it ends supervision, waits for
// requests in flight (bounded by grace), stops the task (SIGTERM, then
// SIGKILL after grace) and releases everything. The caller has already
// unpublished r.
func (p *Provider) stopReplica(r *replica, grace time.Duration) {
	p.halt(r, grace)
	p.release(r)
}

// halt ends supervision, waits for requests in flight (bounded by grace)
// and stops the task, keeping the container and network.
func (p *Provider) halt(r *replica, grace time.Duration) {
	r.ready.Store(false)
	if r.frozen.Load() { // a frozen process takes no signal
		if err := r.freezer.Thaw(); err != nil {
			p.log.Error("thaw replica", "replica", r.id, "err", err)
		}
		r.frozen.Store(false)
	}
	if r.cancel != nil {
		r.cancel()
		<-r.done
	}
	deadline := time.Now().Add(grace)
	for r.inflight.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if f := p.get(key{r.ns, r.fn}); f != nil {
		p.retire(f, r, nil)
	}
	p.stopTask(r, grace)
}

// supervise watches r's task and restarts it when it exits, with
// exponential back-off. exited nil means the task must be (re)started
// first; failures seeds the back-off.
func (p *Provider) supervise(f *function, r *replica, exited <-chan containerd.Exit, failures int) {
	ctx, cancel := context.WithCancel(p.ctx)
	r.cancel = cancel
	r.done = make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(r.done)
		if exited != nil {
			p.track(f, r)
		}
		p.superviseLoop(ctx, f, r, exited, failures)
	}()
}

func (p *Provider) superviseLoop(ctx context.Context, f *function, r *replica, exited <-chan containerd.Exit, failures int) {
	started := time.Now()
	for {
		if exited == nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff.Delay(failures)):
			}
			var err error
			if exited, err = p.boot(ctx, r); err != nil {
				if ctx.Err() != nil {
					return
				}
				if errors.Is(err, ErrUnavailable) {
					// containerd is away, not the function at fault: try
					// again each second, without growing the back-off.
					p.log.Warn("restart replica: containerd is unavailable; retrying", "replica", r.id)
					select {
					case <-ctx.Done():
						return
					case <-time.After(time.Second):
					}
					continue
				}
				failures++
				f.failed(err)
				p.log.Error("restart replica", "replica", r.id, "attempt", failures, "err", err)
				if !p.remake(ctx, f, r) {
					return // given up; a fresh replica takes its place
				}
				continue
			}
			started = time.Now()
			f.started()
			p.track(f, r)
			f.publish()
			p.log.Info("replica restarted", "replica", r.id, "pid", r.pid.Load())
			if p.cfg.Events != nil {
				p.cfg.Events.Restart(r.fn + "." + r.ns)
			}
		}
		select {
		case <-ctx.Done():
			return
		case e, ok := <-exited:
			exited = nil
			if !ok {
				return // the wait ended without an exit: we are shutting down
			}
			r.ready.Store(false)
			f.publish()
			p.retire(f, r, &e) // before the next boot deletes the task and its group
			if time.Since(started) > time.Minute {
				failures = 0
			}
			failures++
			f.failed(fmt.Errorf("replica %s exited with code %d", r.id, e.Code))
			p.log.Warn("replica exited; restarting", "replica", r.id, "code", e.Code, "in", backoff.Delay(failures))
		}
	}
}

// Restore loads the desired state and makes containerd match it: running
// replicas are adopted untouched, stopped ones restarted, missing ones
// started (in the background, so the API comes up at once), and containers
// funcd no longer wants are removed. Only this instance's containers are
// looked at (see owned); another funcd's are left alone.
func (p *Provider) Restore(ctx context.Context) error {
	if err := p.loadNamespaces(); err != nil {
		return err
	}
	recs, err := p.store.load()
	if err != nil {
		return err
	}
	nss := map[string]bool{}
	for _, rec := range recs {
		k := key{rec.Spec.Namespace, rec.Spec.Service}
		p.fns[k] = &function{eps: newEndpoints(), rec: rec}
		nss[k.ns] = true
	}
	nss[defaultNamespace()] = true
	for ns := range p.namespaces {
		nss[ns] = true
	}
	seen := map[string]bool{} // our containers, by ID
	others := 0
	var wg sync.WaitGroup
	for ns := range nss {
		infos, err := p.rt.List(ctx, ns, map[string]string{labelFunction: ""})
		if err != nil {
			return err
		}
		for _, info := range infos {
			if !p.owned(info) {
				others++
				continue
			}
			seen[info.ID] = true
			r, f, parked := p.claim(ns, info)
			if info.Status != "" {
				r.pid.Store(info.PID)
				p.thawTask(r) // frozen by the funcd before (freeze.go): adopt, stop or remove it thawed
			}
			if f == nil {
				wg.Add(1)
				go func() { defer wg.Done(); p.release(r) }()
				continue
			}
			if parked {
				if info.Status != "" { // a task left from before: nothing runs at zero
					wg.Add(1)
					go func() { defer wg.Done(); p.stopTask(r, p.cfg.StopGrace) }()
				}
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.resume(ctx, f, r, info.Status)
			}()
		}
	}
	wg.Wait()
	if others > 0 {
		p.log.Info("left alone the containers of other funcd instances", "containers", others)
	}
	p.releaseOrphans(nss, seen)
	for k, f := range p.fns {
		rec, rs := f.snapshot()
		if missing := int(rec.Replicas) - len(rs); missing > 0 {
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.fill(k, f, missing)
			}()
		}
		if rec.Replicas == 0 {
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.repark(k, f)
			}()
		}
	}
	tick := p.cfg.ScaleTick
	if tick <= 0 {
		tick = time.Second
	}
	p.wg.Add(1)
	go p.runScaler(tick)
	p.log.Info("state restored", "functions", len(p.fns))
	return nil
}

// claim matches a container found in containerd with the desired state. It
// returns the function it belongs to, or nil when it is not wanted (its
// function is gone, its revision is stale, it is surplus, or its network
// namespace did not survive a reboot).
func (p *Provider) claim(ns string, info containerd.Info) (r *replica, f *function, parked bool) {
	r = &replica{id: info.ID, fn: info.Labels[labelFunction], ns: ns, netns: p.netnsPath(info.ID)}
	f = p.fns[key{ns, info.Labels[labelFunction]}]
	if f == nil {
		return r, nil, false
	}
	rev, _ := strconv.ParseUint(info.Labels[labelRevision], 10, 64)
	addr, err := netip.ParseAddr(info.Labels[labelIP])
	f.mu.Lock()
	defer f.mu.Unlock()
	if rev != f.rec.Revision || err != nil || !p.net.IsNetNS(r.netns) {
		return r, nil, false
	}
	r.revision = rev
	r.host = netip.AddrPortFrom(addr, p.cfg.FunctionPort).String()
	r.readyPath = f.rec.Spec.Annotations[annotationReadyPath]
	if f.rec.Replicas == 0 {
		// A function at zero keeps up to the replicas it wakes with, parked.
		s, _ := parseScaling(f.rec.Spec.Labels)
		if len(f.parked) >= int(max(s.min, 1)) {
			return r, nil, false
		}
		f.parked = append(f.parked, r)
		return r, f, true
	}
	if len(f.replicas) >= int(f.rec.Replicas) {
		return r, nil, false
	}
	r.pid.Store(info.PID)
	f.replicas = append(f.replicas, r)
	return r, f, false
}

// resume adopts r's running task, or restarts it.
func (p *Provider) resume(ctx context.Context, f *function, r *replica, status string) {
	if status == "running" {
		exited, err := p.adopt(ctx, r)
		if err == nil {
			p.supervise(f, r, exited, 0)
			f.publish()
			p.log.Info("adopted running replica", "replica", r.id, "pid", r.pid.Load())
			return
		}
		p.log.Warn("running replica is not ready; restarting it", "replica", r.id, "err", err)
	}
	p.supervise(f, r, nil, 0)
}

// repark prepares the parked replicas a function at zero is missing, as
// after a reboot, which takes their network namespaces: its next cold start
// then only starts a task. Nothing runs in them.
func (p *Provider) repark(k key, f *function) {
	unlock := p.locks.lock(k)
	defer unlock()
	rec, _ := f.snapshot()
	s, _ := parseScaling(rec.Spec.Labels)
	f.mu.Lock()
	missing := int(max(s.min, 1)) - len(f.parked)
	f.mu.Unlock()
	if rec.Replicas != 0 || missing <= 0 {
		return
	}
	var made []*replica
	for range missing {
		r, err := p.prepareReplica(p.ctx, rec)
		if err != nil {
			p.log.Warn("prepare parked replica; the next cold start creates one", "function", k.String(), "err", err)
			break
		}
		made = append(made, r)
	}
	f.mu.Lock()
	f.parked = append(f.parked, made...)
	f.mu.Unlock()
}

// fill starts the replicas a restored function is missing.
func (p *Provider) fill(k key, f *function, n int) {
	unlock := p.locks.lock(k)
	defer unlock()
	rec, _ := f.snapshot()
	rs, err := p.startReplicas(p.ctx, f, rec, n)
	if err != nil {
		p.log.Error("start missing replicas", "function", k.String(), "err", err)
		return
	}
	f.mu.Lock()
	f.replicas = append(f.replicas, rs...)
	f.mu.Unlock()
	f.publish()
}

// AwaitReplicas waits until every function has as many ready replicas as
// it wants, or ctx ends, and returns the functions still short of them,
// sorted. After a machine's reboot, Restore recreates every replica that
// was running; funcd tells systemd it is ready once they answer.
func (p *Provider) AwaitReplicas(ctx context.Context) []string {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		var short []string
		p.mu.RLock()
		for k, f := range p.fns {
			rec, _ := f.snapshot()
			if uint64(f.eps.count()) < rec.Replicas {
				short = append(short, k.String())
			}
		}
		p.mu.RUnlock()
		if len(short) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			slices.Sort(short)
			return short
		case <-tick.C:
		}
	}
}

// Alive reports an error when the provider's table of functions cannot be
// locked before ctx ends: a lock held that long means a stuck funcd, which
// its service manager should restart. Operations on one function (a deploy
// pulling an image for minutes) hold only that function's lock and do not
// count.
func (p *Provider) Alive(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		p.mu.Lock()
		//lint:ignore SA2001 only the wait for the lock matters
		p.mu.Unlock()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return errors.New("provider: the function table stayed locked")
	}
}
