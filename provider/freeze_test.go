package provider

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestValidateIdle(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	for _, v := range []string{"pause", "park"} {
		if err := h.p.Deploy(ctx, deployment("ok-"+v, withAnnotation(annotationIdle, v))); err != nil {
			t.Errorf("Deploy with %s=%s = %v, want nil", annotationIdle, v, err)
		}
	}
	for _, v := range []string{"", "freeze", "Pause"} {
		err := h.p.Deploy(ctx, deployment("bad", withAnnotation(annotationIdle, v)))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), annotationIdle) || !strings.Contains(err.Error(), "park or pause") {
			t.Errorf("Deploy with %s=%q = %v, want ErrInvalid naming the annotation and its values", annotationIdle, v, err)
		}
	}
	if _, err := h.p.Status("bad", "openfaas-fn"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a refused deploy left a function behind: %v", err)
	}
}

// freezeFile is the fake cgroup v2 freeze file of the fake task with pid.
func freezeFile(h *harness, pid uint32) string {
	return filepath.Join(h.dir, "host", "sys/fs/cgroup", fmt.Sprintf("openfaas-fn/task-%d", pid), "cgroup.freeze")
}

func readFreeze(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// An idle function annotated pause keeps its replica, frozen, counted in
// its status; a request thaws the same task; delete removes it.
func TestFreezeWhenIdle(t *testing.T) {
	h := newHarness(t)
	fakeGroups(t, h, 4, 10)
	for pid := 1; pid <= 4; pid++ {
		p := filepath.Join(h.dir, "host", fmt.Sprintf("sys/fs/cgroup/openfaas-fn/task-%d", pid))
		os.WriteFile(filepath.Join(p, "cgroup.freeze"), []byte("0"), 0o644)
		os.WriteFile(filepath.Join(p, "cgroup.events"), []byte("populated 1\nfrozen 1\n"), 0o644) // the fake kernel freezes at once
	}
	h.p.Shutdown(context.Background())
	h.p = h.startWith(func(c *Config) { c.ScaleTick = 20 * time.Millisecond })
	ctx := context.Background()
	if err := h.p.Deploy(ctx, deployment("icy", withLabel(labelScaleZero, "true"), withLabel(labelScaleZeroDuration, "1s"), withAnnotation(annotationIdle, idlePause))); err != nil {
		t.Fatal(err)
	}
	id := h.rt.ids()[0]
	pid := h.rt.pidOf(id)
	f := h.p.get(key{"openfaas-fn", "icy"})
	eventually(t, "icy frozen", func() bool { return f.frozenCount() == 1 })
	if got := readFreeze(t, freezeFile(h, pid)); got != "1" {
		t.Errorf("cgroup.freeze of the idle replica = %q, want 1", got)
	}
	if n := f.eps.count(); n != 0 {
		t.Errorf("%d frozen replicas in the endpoint table, want 0", n)
	}
	if st, _ := h.p.Status("icy", "openfaas-fn"); st.Replicas != 1 || st.AvailableReplicas != 1 {
		t.Errorf("status of the frozen function: replicas %d, available %d; want 1 and 1", st.Replicas, st.AvailableReplicas)
	}
	if c := costOf(h.p, "icy.openfaas-fn"); c.Frozen != 1 || c.Ready != 0 {
		t.Errorf("cost of the frozen function: %d frozen, %d ready; want 1 and 0", c.Frozen, c.Ready)
	}
	if got, err := h.invoke(h.p, "icy"); err != nil || got != id {
		t.Fatalf("invoke of the frozen function = %q, %v; want its replica %s", got, err, id)
	}
	if got := readFreeze(t, freezeFile(h, pid)); got != "0" {
		t.Errorf("cgroup.freeze after a request = %q, want 0", got)
	}
	if now := h.rt.pidOf(id); now != pid {
		t.Errorf("the thawed replica's task is %d, want the same %d", now, pid)
	}
	eventually(t, "icy frozen again", func() bool { return f.frozenCount() == 1 })
	if err := h.p.Delete(ctx, "icy", "openfaas-fn"); err != nil {
		t.Fatal(err)
	}
	if ids := h.rt.ids(); len(ids) != 0 {
		t.Errorf("containers after deleting a frozen function: %v, want none", ids)
	}
}

// A replica picked from a table read just before it froze is not used:
// the request waits for the thaw instead.
func TestPickSkipsFrozen(t *testing.T) {
	e := newEndpoints()
	r := &replica{id: "a"}
	e.set([]*replica{r})
	r.frozen.Store(true)
	if got := e.pick(); got != nil {
		t.Errorf("pick = %s, want nil for a frozen replica", got.id)
	}
	if n := r.inflight.Load(); n != 0 {
		t.Errorf("in flight on the frozen replica = %d, want 0", n)
	}
}

// A task a previous funcd froze is thawed when a restart adopts it: the
// runtime still calls it running.
func TestFrozenTaskThawedOnRestart(t *testing.T) {
	h := newHarness(t)
	fakeGroups(t, h, 2, 10)
	ctx := context.Background()
	if err := h.p.Deploy(ctx, deployment("icy", withAnnotation(annotationIdle, idlePause))); err != nil {
		t.Fatal(err)
	}
	id := h.rt.ids()[0]
	pid := h.rt.pidOf(id)
	dir := filepath.Dir(freezeFile(h, pid))
	os.WriteFile(filepath.Join(dir, "cgroup.freeze"), []byte("1"), 0o644)
	os.WriteFile(filepath.Join(dir, "cgroup.events"), []byte("populated 1\nfrozen 1\n"), 0o644)
	h.p.Shutdown(ctx)
	p2 := h.start()
	if got := readFreeze(t, freezeFile(h, pid)); got != "0" {
		t.Errorf("cgroup.freeze of the adopted task = %q, want 0", got)
	}
	if got, err := h.invoke(p2, "icy"); err != nil || got != id {
		t.Errorf("invoke after restart = %q, %v; want the adopted %s", got, err, id)
	}
	if now := h.rt.pidOf(id); now != pid {
		t.Errorf("after restart the task is %d, want the adopted %d", now, pid)
	}
}
