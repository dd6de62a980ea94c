package provider

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// reboot does to h's fakes what a machine's reboot does: every task ends
// and every network namespace is gone; containers and state stay.
func (h *harness) reboot() {
	h.rt.mu.Lock()
	for _, c := range h.rt.containers {
		if c.task != nil {
			c.task.end(137)
			c.task = nil
		}
	}
	h.rt.mu.Unlock()
	h.net.mu.Lock()
	h.net.netnss = map[string]bool{}
	h.net.addrs = map[string]netip.Addr{}
	h.net.mu.Unlock()
}

// TestAwaitReplicasAfterReboot restarts funcd after a simulated reboot:
// the replicas that were running are recreated, and AwaitReplicas returns
// once they all answer, which is when funcd tells systemd it is ready.
func TestAwaitReplicasAfterReboot(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.p.Deploy(ctx, deployment("two", withLabel(labelScaleMin, "2"))); err != nil {
		t.Fatal(err)
	}
	if err := h.p.Deploy(ctx, deployment("one")); err != nil {
		t.Fatal(err)
	}
	if short := h.p.AwaitReplicas(ctx); short != nil {
		t.Fatalf("AwaitReplicas after deploys = %v, want none short", short)
	}
	h.p.Shutdown(ctx)
	h.reboot()

	p := h.start()
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if short := p.AwaitReplicas(actx); short != nil {
		t.Fatalf("AwaitReplicas after reboot = %v, want none short", short)
	}
	for name, want := range map[string]uint64{"two": 2, "one": 1} {
		if st, _ := p.Status(name, "openfaas-fn"); st.AvailableReplicas != want {
			t.Errorf("%s after AwaitReplicas: %d/%d ready, want %d", name, st.AvailableReplicas, st.Replicas, want)
		}
		if out, err := h.invoke(p, name); err != nil {
			t.Errorf("invoke %s after reboot: %q, %v", name, out, err)
		}
	}
}

// TestAwaitReplicasReportsShort gives up at ctx's end and names the
// functions still short of replicas.
func TestAwaitReplicasReportsShort(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.p.Deploy(ctx, deployment("b")); err != nil {
		t.Fatal(err)
	}
	if err := h.p.Deploy(ctx, deployment("a")); err != nil {
		t.Fatal(err)
	}
	h.p.Shutdown(ctx)
	h.reboot()
	h.rt.noTasks.Store(true) // no replica can start
	p := h.start()
	actx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if short := p.AwaitReplicas(actx); !slices.Equal(short, []string{"a.openfaas-fn", "b.openfaas-fn"}) {
		t.Errorf("AwaitReplicas with no task starting = %v, want [a.openfaas-fn b.openfaas-fn]", short)
	}
}

func TestAliveFailsWhileTableLocked(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := h.p.Alive(ctx); err != nil {
		t.Fatalf("Alive = %v on an idle provider", err)
	}
	h.p.mu.RLock()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	err := h.p.Alive(ctx2)
	h.p.mu.RUnlock()
	if err == nil {
		t.Error("Alive passed while the function table was held")
	}
}

// TestRebootReparksFunctionsAtZero: a function at zero whose parked
// replica a reboot took (its network namespace is gone) gets a new parked
// replica, with nothing running in it, and still wakes on a request.
func TestRebootReparksFunctionsAtZero(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.p.Deploy(ctx, deployment("sleepy")); err != nil {
		t.Fatal(err)
	}
	if err := h.p.Scale(ctx, "sleepy", "openfaas-fn", 0); err != nil {
		t.Fatal(err)
	}
	before := h.rt.ids()
	h.p.Shutdown(ctx)
	h.reboot()
	p := h.start()

	parked := func() []*replica {
		f := p.get(key{"openfaas-fn", "sleepy"})
		f.mu.Lock()
		defer f.mu.Unlock()
		return append([]*replica(nil), f.parked...)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(parked()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	rs := parked()
	if len(rs) != 1 {
		t.Fatalf("parked replicas after reboot = %d, want 1", len(rs))
	}
	if slices.Contains(before, rs[0].id) || !h.net.IsNetNS(rs[0].netns) {
		t.Errorf("parked replica %s: new %v, netns %v; want a new one with its namespace", rs[0].id, !slices.Contains(before, rs[0].id), h.net.IsNetNS(rs[0].netns))
	}
	if pid := h.rt.pidOf(rs[0].id); pid != 0 {
		t.Errorf("parked replica runs task pid %d, want none", pid)
	}
	if st, _ := p.Status("sleepy", "openfaas-fn"); st.Replicas != 0 {
		t.Errorf("replicas after reboot = %d, want 0", st.Replicas)
	}
	if out, err := h.invoke(p, "sleepy"); err != nil {
		t.Errorf("wake after reboot: %q, %v", out, err)
	}
}
