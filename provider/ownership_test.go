package provider

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pids returns container ID → task PID for every container in h's runtime.
func (h *harness) pids() map[string]uint32 {
	out := map[string]uint32{}
	for _, id := range h.rt.ids() {
		out[id] = h.rt.pidOf(id)
	}
	return out
}

// neighbour is a second funcd on h's containerd and host: its own state
// directory and identity.
func (h *harness) neighbour(instance string) (*harness, *Provider) {
	o := &harness{t: h.t, rt: h.rt, net: h.net, dir: h.t.TempDir()}
	return o, o.startWith(func(c *Config) { c.Instance = instance })
}

// TestRestoreLeavesOtherInstancesAlone starts a second provider (another
// state directory and identity) on the same runtime: it must neither adopt
// nor remove the first one's containers, nor those an older funcd made
// for the first one (no identity label, netns in the first's state dir);
// and the first, restarted, must leave the second's alone.
func TestRestoreLeavesOtherInstancesAlone(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.p.Deploy(ctx, deployment("a", withLabel(labelScaleMin, "2"))); err != nil {
		t.Fatal(err)
	}
	// A replica made by a funcd from before identities: no label.
	legacy := h.rt.ids()[0]
	h.rt.mu.Lock()
	delete(h.rt.containers[legacy].spec.Labels, labelInstance)
	h.rt.mu.Unlock()
	before := h.pids()

	o, p2 := h.neighbour("fedcba9876543210fedcba9876543210")
	if got := h.pids(); !maps.Equal(got, before) {
		t.Fatalf("after a second funcd started, tasks = %v, want %v untouched", got, before)
	}
	if fns := p2.List("openfaas-fn"); len(fns) != 0 {
		t.Errorf("second funcd lists %v, want nothing", fns)
	}
	if got, err := h.invoke(h.p, "a"); err != nil || got == "" {
		t.Errorf("invoke on the first funcd = %q, %v", got, err)
	}

	// The second one deploys a function of the same name; the first,
	// restarted, leaves it alone and adopts its own (the legacy one too).
	if err := p2.Deploy(ctx, deployment("a")); err != nil {
		t.Fatal(err)
	}
	theirs := map[string]uint32{}
	for id, pid := range h.pids() {
		if _, ok := before[id]; !ok {
			theirs[id] = pid
		}
	}
	h.p.Shutdown(ctx)
	p1 := h.start()
	eventually(t, "both replicas adopted", func() bool {
		st, _ := p1.Status("a", "openfaas-fn")
		return st.AvailableReplicas == 2
	})
	want := maps.Clone(before)
	maps.Copy(want, theirs)
	if got := h.pids(); !maps.Equal(got, want) {
		t.Errorf("after the first funcd restarted, tasks = %v, want %v (its own adopted, the other's untouched)", got, want)
	}
	if got, err := o.invoke(p2, "a"); err != nil || theirs[got] == 0 {
		t.Errorf("invoke on the second funcd = %q, %v; want one of %v", got, err, theirs)
	}
}

// TestRestoreReleasesOrphans: a replica whose container vanished while
// funcd was down leaves no address, netns, log or secrets view.
func TestRestoreReleasesOrphans(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.p.Deploy(ctx, deployment("a", withLabel(labelScaleMin, "2"))); err != nil {
		t.Fatal(err)
	}
	h.p.Shutdown(ctx)
	gone := h.rt.ids()[0]
	log := filepath.Join(h.dir, "logs", "openfaas-fn", "a", gone+".log")
	os.MkdirAll(filepath.Dir(log), 0o700)
	os.WriteFile(log, []byte("x\n"), 0o600)
	h.rt.Delete(ctx, "openfaas-fn", gone)

	p2 := h.start()
	eventually(t, "two ready replicas", func() bool {
		st, _ := p2.Status("a", "openfaas-fn")
		return st.AvailableReplicas == 2
	})
	if a, n := h.net.inUse(); a != 2 || n != 2 {
		t.Errorf("%d addresses and %d netns in use, want 2 and 2 (the vanished replica's released)", a, n)
	}
	if h.net.IsNetNS(h.p.netnsPath(gone)) {
		t.Errorf("netns of vanished replica %s still pinned", gone)
	}
	if _, err := os.Stat(log); !os.IsNotExist(err) {
		t.Errorf("log of vanished replica: %v, want it removed", err)
	}
}

// TestVanishedContainerIsRemade removes a running replica's container
// behind funcd's back: its supervisor makes it again (same ID, same
// address) instead of failing to restart it forever.
func TestVanishedContainerIsRemade(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.p.Deploy(ctx, deployment("a")); err != nil {
		t.Fatal(err)
	}
	id := h.rt.ids()[0]
	ip := h.rt.containers[id].spec.Labels[labelIP]
	h.rt.Delete(ctx, "openfaas-fn", id) // ctr c rm: the task is killed, the container gone
	eventually(t, "the container made again with a task", func() bool { return h.rt.pidOf(id) != 0 })
	if got, err := h.invoke(h.p, "a"); err != nil || got != id {
		t.Errorf("invoke after the container vanished = %q, %v; want %q", got, err, id)
	}
	h.rt.mu.Lock()
	spec := h.rt.containers[id].spec
	h.rt.mu.Unlock()
	if spec.Labels[labelIP] != ip || spec.Labels[labelInstance] != testInstance {
		t.Errorf("remade container labels = %v, want address %s and instance %s", spec.Labels, ip, testInstance)
	}
}

// TestVanishedReplicaIsReplaced removes a replica's container and its
// network namespace: it cannot be made again in place, so it is released
// and a fresh replica serves instead. A container that vanished again and
// again (maxRemakes times already) is replaced too.
func TestVanishedReplicaIsReplaced(t *testing.T) {
	for _, tt := range []struct {
		name   string
		netns  bool // its netns goes too
		remade int  // times it was made again before
	}{
		{"netns gone", true, 0},
		{"made again too often", false, maxRemakes},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			ctx := context.Background()
			if err := h.p.Deploy(ctx, deployment("a")); err != nil {
				t.Fatal(err)
			}
			id := h.rt.ids()[0]
			_, rs := h.p.get(key{"openfaas-fn", "a"}).snapshot()
			rs[0].remade = tt.remade // its supervisor reads it after the exit below
			if tt.netns {
				h.net.RemoveNetNS(h.p.netnsPath(id))
			}
			h.rt.Delete(ctx, "openfaas-fn", id)
			var fresh string
			eventually(t, "a fresh replica", func() bool {
				ids := h.rt.ids()
				if len(ids) != 1 || ids[0] == id || h.rt.pidOf(ids[0]) == 0 {
					return false
				}
				fresh = ids[0]
				return true
			})
			if got, err := h.invoke(h.p, "a"); err != nil || got != fresh {
				t.Errorf("invoke = %q, %v; want the fresh replica %q", got, err, fresh)
			}
			eventually(t, "the old replica released", func() bool {
				a, n := h.net.inUse()
				return a == 1 && n == 1
			})
			if st, _ := h.p.Status("a", "openfaas-fn"); st.Replicas != 1 || st.AvailableReplicas != 1 {
				t.Errorf("status = %d/%d, want 1/1", st.AvailableReplicas, st.Replicas)
			}
		})
	}
}

func TestHostname(t *testing.T) {
	name := func(n int) string { return strings.Repeat("f", n) }
	const suffix = "-0123456789"
	tests := []struct {
		id, want string
	}{
		{"echo" + suffix, "echo" + suffix},
		{name(52) + suffix, name(52) + suffix},                               // 63: the ID fits
		{name(53) + suffix, name(52) + suffix},                               // cut to fit
		{name(63) + suffix, name(52) + suffix},                               // the longest name
		{name(51) + "-ab" + suffix, name(51) + suffix},                       // no '-' left dangling
		{name(40) + "-b-c-d-e-f" + suffix, name(40) + "-b-c-d-e-f" + suffix}, // short enough
		{name(70), name(63)},                                                 // not a replica ID: cut
	}
	for _, tt := range tests {
		if got := hostname(tt.id); got != tt.want || len(got) > maxHostname {
			t.Errorf("hostname(%q) = %q, want %q", tt.id, got, tt.want)
		}
	}
	h := newHarness(t)
	long := name(63)
	if err := h.p.Deploy(context.Background(), deployment(long)); err != nil {
		t.Fatal(err)
	}
	id := h.rt.ids()[0]
	if spec := h.rt.containers[id].spec; len(spec.Hostname) > maxHostname || !strings.HasSuffix(spec.Hostname, id[len(long):]) {
		t.Errorf("hostname of a replica of a 63-character name = %q (%d), want at most %d ending in its ID's suffix", spec.Hostname, len(spec.Hostname), maxHostname)
	}
}
