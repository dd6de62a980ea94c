package provider

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/funcd/funcd/internal/containerd"
)

// Ownership: several funcds may share one containerd (each with its own
// state directory, bridge and subnet). Each labels its containers with its
// identity (Config.Instance, kept in its state directory) and claims,
// restarts or removes only those.

// owned reports whether a container found in containerd is this
// instance's: it carries our identity; or it was made by a funcd from
// before identities (no label at all) and its pinned network namespace is
// in our state directory, which only the funcd that made it has. The file
// is enough (after a reboot it stays while the pin is gone): claim then
// removes the container as it always did.
func (p *Provider) owned(info containerd.Info) bool {
	if id, ok := info.Labels[labelInstance]; ok {
		return id == p.cfg.Instance
	}
	path := p.netnsPath(info.ID)
	if p.net.IsNetNS(path) {
		return true
	}
	_, err := os.Lstat(path)
	return err == nil
}

// releaseOrphans releases the replicas whose network namespace is pinned
// in the state directory while their container is gone from containerd
// (removed while funcd was down: `ctr c rm`, or an older funcd on the same
// containerd removing containers it did not own). seen holds the IDs of
// our containers; nss the namespaces looked in. Without this their
// addresses, pins, NAT rules, logs and secret views would leak for good.
func (p *Provider) releaseOrphans(nss, seen map[string]bool) {
	entries, err := os.ReadDir(filepath.Join(p.cfg.StateDir, "netns"))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			p.log.Error("look for replicas whose container vanished", "err", err)
		}
		return
	}
	var wg sync.WaitGroup
	for _, e := range entries {
		if seen[e.Name()] {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.releaseOrphan(e.Name(), nss)
		}()
	}
	wg.Wait()
}

// releaseOrphan releases what replica id left without its container: its
// address and interface (CNI DEL), its pinned network namespace, its logs
// and its secrets view.
func (p *Provider) releaseOrphan(id string, nss map[string]bool) {
	p.log.Warn("container of replica vanished; releasing its address, network namespace and logs", "replica", id)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	netns := p.netnsPath(id)
	if err := p.net.Detach(ctx, id, netns); err != nil {
		p.log.Error("release address", "replica", id, "err", err)
	}
	if err := p.net.RemoveNetNS(netns); err != nil {
		p.log.Error("remove netns", "replica", id, "err", err)
	}
	// Its log file says which function it was: STATE/logs/NS/FUNCTION/ID.log.
	found, _ := filepath.Glob(filepath.Join(p.cfg.StateDir, "logs", "*", "*", id+".log*"))
	for _, path := range found {
		fnDir := filepath.Dir(path)
		p.removeLogs(&replica{id: id, fn: filepath.Base(fnDir), ns: filepath.Base(filepath.Dir(fnDir))})
	}
	for ns := range nss {
		p.releaseSecrets(&replica{id: id, ns: ns})
	}
}
