package provider

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// Purge removes every replica this instance owns, running or parked, and
// what each holds: its task, container and snapshot, address, network
// namespace, logs and secrets view. It starts nothing: call it instead of
// Restore, with no funcd running on the state directory (`funcd purge`).
// The records of the functions stay; removing the state directory is the
// caller's part. It returns how many replicas it removed and the
// containerd namespaces the instance used, sorted.
func (p *Provider) Purge(ctx context.Context) (removed int, namespaces []string, err error) {
	if err := p.loadNamespaces(); err != nil {
		return 0, nil, err
	}
	recs, err := p.store.load()
	if err != nil {
		return 0, nil, err
	}
	nss := map[string]bool{defaultNamespace(): true}
	for _, rec := range recs {
		nss[rec.Spec.Namespace] = true
	}
	for ns := range p.namespaces {
		nss[ns] = true
	}
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for ns := range nss {
		infos, err := p.rt.List(ctx, ns, map[string]string{labelFunction: ""})
		if err != nil {
			return 0, nil, fmt.Errorf("purge: %w", err)
		}
		for _, info := range infos {
			if !p.owned(info) {
				continue
			}
			seen[info.ID] = true
			r := &replica{id: info.ID, fn: info.Labels[labelFunction], ns: ns, netns: p.netnsPath(info.ID)}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if info.Status != "" {
					r.pid.Store(info.PID)
					p.thawTask(r) // a frozen process takes no signal
					p.stopTask(r, p.cfg.StopGrace)
				}
				p.release(r)
			}()
		}
	}
	wg.Wait()
	p.releaseOrphans(nss, seen) // replicas whose container had vanished
	return len(seen), slices.Sorted(maps.Keys(nss)), nil
}
