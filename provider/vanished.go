package provider

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/containerd"
)

// maxRemakes bounds how many times a replica's vanished container is made
// again before the replica is given up and replaced by a fresh one.
const maxRemakes = 3

// remake is called by r's supervisor when restarting r failed. If r's
// container has vanished from containerd (removed behind funcd's back:
// `ctr c rm`, or an older funcd on the same containerd removing what it did
// not own), no restart can succeed: the container is made again in place,
// with the same ID, network namespace and address, at most maxRemakes
// times. Past that, or when it cannot be made again, r is released and a
// fresh replica takes its place. It returns false when r's supervision
// must end.
func (p *Provider) remake(ctx context.Context, f *function, r *replica) bool {
	infos, err := p.rt.List(ctx, r.ns, map[string]string{labelFunction: r.fn})
	if err != nil || slices.ContainsFunc(infos, func(i containerd.Info) bool { return i.ID == r.id }) {
		return true // an ordinary failure, or containerd not answering: retry as usual
	}
	if r.remade < maxRemakes {
		r.remade++
		err := p.recreate(ctx, f, r)
		if err == nil {
			p.log.Warn("container of replica vanished; made it again", "replica", r.id, "times", r.remade)
			return true
		}
		p.log.Error("container of replica vanished and cannot be made again", "replica", r.id, "err", err)
	}
	p.log.Warn("container of replica vanished; replacing the replica", "replica", r.id)
	p.replace(f, r)
	return false
}

// recreate makes r's container again from its function's record, in r's
// network namespace and with r's address.
func (p *Provider) recreate(ctx context.Context, f *function, r *replica) error {
	rec, _ := f.snapshot()
	if rec.Revision != r.revision {
		return fmt.Errorf("revision %d is no longer wanted", r.revision)
	}
	if !p.net.IsNetNS(r.netns) {
		return errors.New("its network namespace is gone too")
	}
	ap, err := netip.ParseAddrPort(r.host)
	if err != nil {
		return fmt.Errorf("address of %s: %w", r.id, err)
	}
	// The image may have gone with it: get it back, from a registry
	// only if it has gone (so replicas stay alike), and not even then
	// under the policy never.
	policy := api.PullMissing
	if p.pullPolicy(rec.Spec) == api.PullNever {
		policy = api.PullNever
	}
	image, err := p.rt.EnsureImage(ctx, r.ns, rec.Image, policy)
	if err != nil {
		return err
	}
	rec.Image = image
	spec, err := p.containerSpec(rec, r, ap.Addr())
	if err != nil {
		return err
	}
	return p.rt.Create(ctx, r.ns, spec)
}

// replace gives up r, whose supervision has ended, releasing everything it
// holds, and starts a fresh replica of its function in its place. It runs
// in the background under the function's operation lock, so it waits for a
// deploy, update, scale or delete under way, and does nothing if that one
// took r out of the function.
func (p *Provider) replace(f *function, r *replica) {
	p.wg.Add(1) // the caller, r's supervisor, still counts: Shutdown is not past Wait
	go func() {
		defer p.wg.Done()
		k := key{r.ns, r.fn}
		unlock := p.locks.lock(k)
		defer unlock()
		f.mu.Lock()
		ours := slices.Contains(f.replicas, r)
		f.mu.Unlock()
		if p.get(k) != f || !ours {
			return // whoever took r out stopped and released it
		}
		r.ready.Store(false)
		p.release(r)
		rec, _ := f.snapshot()
		fresh, err := p.startReplica(p.ctx, f, rec)
		if err != nil {
			p.log.Error("start a replica in place of one whose container vanished", "function", k.String(), "err", err)
		}
		f.mu.Lock()
		if i := slices.Index(f.replicas, r); i >= 0 {
			if fresh != nil {
				f.replicas[i] = fresh
			} else {
				f.replicas = slices.Delete(f.replicas, i, i+1)
			}
		}
		f.mu.Unlock()
		f.publish()
	}()
}
