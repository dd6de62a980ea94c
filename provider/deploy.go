package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/funcd/funcd/internal/api"
)

// Annotations and labels the provider reads.
const (
	annotationReadyPath = "com.openfaas.ready.http.path"
	// annotationNetRaw "true" gives a function CAP_NET_RAW back (raw and
	// packet sockets), which funcd drops by default.
	annotationNetRaw = "io.funcd.net-raw"
	labelScaleMin    = "com.openfaas.scale.min"
	labelScaleMax    = "com.openfaas.scale.max"
)

// defaultMaxReplicas bounds scaling when com.openfaas.scale.max is unset.
const defaultMaxReplicas = 20

// Deploy creates a function and waits until its replicas are ready. If
// they never become ready, nothing is left behind and the error says why.
func (p *Provider) Deploy(ctx context.Context, d api.FunctionDeployment) error {
	d, err := p.validate(d)
	if err != nil {
		return err
	}
	k := key{d.Namespace, d.Service}
	unlock := p.locks.lock(k)
	defer unlock()
	if p.get(k) != nil {
		return fmt.Errorf("function %s: %w; update it with PUT", k, ErrExists)
	}
	if err := p.rt.Ping(ctx); err != nil {
		return fmt.Errorf("deploy %s: %w", k, err)
	}
	p.images.RLock()
	defer p.images.RUnlock()
	image, err := p.ensureImage(ctx, d)
	if err != nil {
		return err
	}
	n, _ := replicaBounds(d.Labels)
	if err := p.reserveMemory(k, d, n); err != nil {
		return err
	}
	defer p.releaseMemory(k)
	rec := record{Spec: d, Image: image, Replicas: n, Revision: 1, CreatedAt: time.Now().UTC().Truncate(time.Second)}
	f := &function{eps: newEndpoints(), rec: rec}
	rs, err := p.startReplicas(ctx, f, rec, int(n))
	if err != nil {
		return fmt.Errorf("deploy %s: %w", k, err)
	}
	if err := p.store.save(rec); err != nil {
		p.stopReplicas(rs, 0)
		return fmt.Errorf("deploy %s: %w", k, err)
	}
	f.mu.Lock()
	f.replicas = rs
	f.mu.Unlock()
	p.mu.Lock()
	p.fns[k] = f
	p.mu.Unlock()
	f.publish()
	p.log.Info("deployed", "function", k.String(), "image", image, "replicas", n)
	return nil
}

// Update replaces a function's spec without downtime: it starts replicas of
// the new spec, waits until they are ready, switches traffic to them, then
// drains and stops the old ones. If the new replicas never become ready,
// the old ones keep serving and the error says why.
func (p *Provider) Update(ctx context.Context, d api.FunctionDeployment) error {
	d, err := p.validate(d)
	if err != nil {
		return err
	}
	k := key{d.Namespace, d.Service}
	f, unlock, err := p.lockExisting(k)
	if err != nil {
		return err
	}
	defer unlock()
	if err := p.rt.Ping(ctx); err != nil {
		return fmt.Errorf("update %s: %w", k, err)
	}
	p.images.RLock()
	defer p.images.RUnlock()
	image, err := p.ensureImage(ctx, d)
	if err != nil {
		return err
	}
	old, oldReplicas := f.snapshot()
	rec := record{Spec: d, Image: image, Replicas: updatedReplicas(old.Replicas, d.Labels), Revision: old.Revision + 1, CreatedAt: old.CreatedAt}
	if err := p.reserveMemory(k, d, rec.Replicas); err != nil {
		return err
	}
	defer p.releaseMemory(k)
	rs, err := p.startReplicas(ctx, f, rec, int(rec.Replicas))
	if err != nil {
		return fmt.Errorf("update %s: the previous version keeps serving: %w", k, err)
	}
	if err := p.commit(f, rec, rs, rs, oldReplicas); err != nil {
		return fmt.Errorf("update %s: %w", k, err)
	}
	p.stopReplicas(f.takeParked(), 0) // parked replicas of the old spec
	p.log.Info("updated", "function", k.String(), "image", image, "revision", rec.Revision)
	return nil
}

// Delete removes a function: no new request reaches it, requests in flight
// finish (bounded by the grace period), then its tasks, containers,
// snapshots and addresses are released.
func (p *Provider) Delete(ctx context.Context, name, ns string) error {
	k := key{ns, name}
	f, unlock, err := p.lockExisting(k)
	if err != nil {
		return err
	}
	defer unlock()
	// Without containerd the replicas could not be stopped: they would
	// keep running, unrecorded, until the next start.
	if err := p.rt.Ping(ctx); err != nil {
		return fmt.Errorf("delete %s: %w", k, err)
	}
	if err := p.store.remove(ns, name); err != nil {
		return err
	}
	p.mu.Lock()
	delete(p.fns, k)
	p.mu.Unlock()
	f.eps.close()
	_, rs := f.snapshot()
	p.stopReplicas(append(rs, f.takeParked()...), p.cfg.StopGrace)
	p.log.Info("removed", "function", k.String())
	return nil
}

// Scale sets the number of replicas. Scaling down drains the replicas it
// stops.
func (p *Provider) Scale(ctx context.Context, name, ns string, n uint64) error {
	k := key{ns, name}
	f, unlock, err := p.lockExisting(k)
	if err != nil {
		return err
	}
	defer unlock()
	rec, rs := f.snapshot()
	if _, max := replicaBounds(rec.Spec.Labels); n > max {
		return fmt.Errorf("%w: replicas %d is above the maximum of %d (label %s)", ErrInvalid, n, max, labelScaleMax)
	}
	if p.cfg.MaxReplicas > 0 && n > p.cfg.MaxReplicas {
		return fmt.Errorf("%w: replicas %d is above the %d replicas this host allows a function (--max-replicas)", ErrInvalid, n, p.cfg.MaxReplicas)
	}
	if err := p.rt.Ping(ctx); err != nil {
		return fmt.Errorf("scale %s to %d: %w", k, n, err)
	}
	if err := p.reserveMemory(k, rec.Spec, n); err != nil {
		return err
	}
	defer p.releaseMemory(k)
	rec.Replicas = n
	var more, victims, toPark []*replica
	if int(n) > len(rs) {
		more = p.unpark(ctx, f, int(n)-len(rs))
		if need := int(n) - len(rs) - len(more); need > 0 {
			started, err := p.startReplicas(ctx, f, rec, need)
			if err != nil {
				p.stopReplicas(more, 0)
				return fmt.Errorf("scale %s to %d: %w", k, n, err)
			}
			more = append(more, started...)
		}
		rs = append(rs, more...)
	} else {
		rs, victims = rs[:n], rs[n:]
		if n == 0 {
			toPark, victims = p.toPark(f, rec, victims)
		}
	}
	if err := p.commit(f, rec, rs, more, victims); err != nil {
		return fmt.Errorf("scale %s: %w", k, err)
	}
	p.park(f, toPark)
	if p.cfg.Events != nil && len(more) > 0 {
		p.cfg.Events.ScaleEvent(k.String(), "up")
	}
	if p.cfg.Events != nil && len(victims)+len(toPark) > 0 {
		p.cfg.Events.ScaleEvent(k.String(), "down")
	}
	return nil
}

// commit makes rec f's desired state: it persists rec, switches f's traffic
// to replicas rs, then drains and stops retired. If rec cannot be written,
// the replicas just started are stopped and nothing changes.
func (p *Provider) commit(f *function, rec record, rs, started, retired []*replica) error {
	if err := p.store.save(rec); err != nil {
		p.stopReplicas(started, 0)
		return err
	}
	f.mu.Lock()
	f.rec, f.replicas = rec, rs
	f.mu.Unlock()
	f.publish()
	p.stopReplicas(retired, p.cfg.StopGrace)
	return nil
}

// lockExisting takes k's operation lock and returns its function, or
// ErrNotFound (without the lock held).
func (p *Provider) lockExisting(k key) (*function, func(), error) {
	unlock := p.locks.lock(k)
	f := p.get(k)
	if f == nil {
		unlock()
		return nil, nil, fmt.Errorf("function %s %w", k, ErrNotFound)
	}
	return f, unlock, nil
}

// validate checks a deployment and fills in defaults.
func (p *Provider) validate(d api.FunctionDeployment) (api.FunctionDeployment, error) {
	if d.Namespace == "" {
		d.Namespace = api.DefaultNamespace
	}
	if err := api.ValidateName(d.Service); err != nil {
		return d, fmt.Errorf("%w: service: %v", ErrInvalid, err)
	}
	if !p.namespaceExists(d.Namespace) {
		return d, fmt.Errorf("%w: namespace %q not found; create it first (funcd namespace create)", ErrInvalid, d.Namespace)
	}
	if strings.TrimSpace(d.Image) == "" {
		return d, fmt.Errorf("%w: image: is required", ErrInvalid)
	}
	for k := range d.EnvVars {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return d, fmt.Errorf("%w: envVars: %q is not a valid variable name", ErrInvalid, k)
		}
	}
	for _, s := range d.Secrets {
		if _, err := p.secrets.Path(d.Namespace, s); err != nil {
			return d, fmt.Errorf("%w: unable to find secret: %s: %v", ErrInvalid, s, err)
		}
	}
	if err := validateResources(d); err != nil {
		return d, err
	}
	if _, err := parseScaling(d.Labels); err != nil {
		return d, err
	}
	if path := d.Annotations[annotationReadyPath]; path != "" && !strings.HasPrefix(path, "/") {
		return d, fmt.Errorf("%w: annotation %s: %q must start with /", ErrInvalid, annotationReadyPath, path)
	}
	if err := validateIdle(d.Annotations); err != nil {
		return d, err
	}
	if err := validatePullPolicy(d); err != nil {
		return d, err
	}
	if v, ok := d.Annotations[annotationNetRaw]; ok {
		if _, err := strconv.ParseBool(v); err != nil {
			return d, fmt.Errorf("%w: annotation %s: %q must be true or false", ErrInvalid, annotationNetRaw, v)
		}
	}
	// Explicit bounds above the host's cap are refused; the default
	// maximum (20) is only clamped to it, by Scale and the autoscaler.
	for _, l := range []string{labelScaleMin, labelScaleMax} {
		if v, err := strconv.ParseUint(d.Labels[l], 10, 64); err == nil && p.cfg.MaxReplicas > 0 && v > p.cfg.MaxReplicas {
			return d, fmt.Errorf("%w: label %s: %d is above the %d replicas this host allows a function (--max-replicas)", ErrInvalid, l, v, p.cfg.MaxReplicas)
		}
	}
	return d, nil
}

// validateResources checks that limits and requests are quantities.
func validateResources(d api.FunctionDeployment) error {
	for field, r := range map[string]*api.FunctionResources{"limits": d.Limits, "requests": d.Requests} {
		if r == nil {
			continue
		}
		if r.Memory != "" {
			if _, err := api.ParseMemory(r.Memory); err != nil {
				return fmt.Errorf("%w: %s.memory: %v", ErrInvalid, field, err)
			}
		}
		if r.CPU != "" {
			if _, err := api.ParseCPU(r.CPU); err != nil {
				return fmt.Errorf("%w: %s.cpu: %v", ErrInvalid, field, err)
			}
		}
	}
	return nil
}

func validateScaleLabels(labels map[string]string) error {
	for _, l := range []string{labelScaleMin, labelScaleMax} {
		if v, ok := labels[l]; ok {
			if _, err := strconv.ParseUint(v, 10, 32); err != nil {
				return fmt.Errorf("%w: label %s: %q is not a whole number", ErrInvalid, l, v)
			}
		}
	}
	if lo, hi := replicaBounds(labels); lo > hi {
		return fmt.Errorf("%w: label %s (%d) is above %s (%d)", ErrInvalid, labelScaleMin, lo, labelScaleMax, hi)
	}
	return nil
}

// replicaBounds returns the initial and maximum replica counts from the
// scaling labels. Labels are validated before this is called.
func replicaBounds(labels map[string]string) (initial, max uint64) {
	initial, max = 1, defaultMaxReplicas
	if v, err := strconv.ParseUint(labels[labelScaleMin], 10, 32); err == nil && v > 0 {
		initial = v
	}
	if v, err := strconv.ParseUint(labels[labelScaleMax], 10, 32); err == nil && v > 0 {
		max = v
	}
	return initial, max
}

// updatedReplicas is the replica count after an update: the current one,
// raised to an explicit com.openfaas.scale.min and capped at the maximum.
func updatedReplicas(current uint64, labels map[string]string) uint64 {
	lo, hi := replicaBounds(labels)
	if _, ok := labels[labelScaleMin]; ok {
		current = max(current, lo)
	}
	return min(current, hi)
}

// startReplicas starts n replicas of rec in parallel and waits until all are
// ready. Either all start, or none is left behind.
func (p *Provider) startReplicas(ctx context.Context, f *function, rec record, n int) ([]*replica, error) {
	rs := make([]*replica, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rs[i], errs[i] = p.startReplica(ctx, f, rec)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		p.stopReplicas(slices.DeleteFunc(rs, func(r *replica) bool { return r == nil }), 0)
		return nil, err
	}
	return rs, nil
}

// stopReplicas drains and stops rs in parallel.
func (p *Provider) stopReplicas(rs []*replica, grace time.Duration) {
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.stopReplica(r, grace)
		}()
	}
	wg.Wait()
}

// env builds the container environment: envVars in a stable order, then
// fprocess from envProcess, as the watchdogs expect.
// netRaw reports whether d asks for CAP_NET_RAW back (validated at deploy).
func netRaw(d api.FunctionDeployment) bool {
	b, _ := strconv.ParseBool(d.Annotations[annotationNetRaw])
	return b
}

func env(d api.FunctionDeployment) []string {
	keys := slices.Sorted(maps.Keys(d.EnvVars))
	out := make([]string, 0, len(keys)+1)
	for _, k := range keys {
		out = append(out, k+"="+d.EnvVars[k])
	}
	if d.EnvProcess != "" {
		out = append(out, "fprocess="+d.EnvProcess)
	}
	return out
}
