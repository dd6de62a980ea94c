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

// fakeFreezers is fakeGroups with a v2 freezer in each group, whose fake
// kernel says the group is frozen at once (and always).
func fakeFreezers(t *testing.T, h *harness, n int) {
	t.Helper()
	fakeGroups(t, h, n, 10)
	for pid := 1; pid <= n; pid++ {
		dir := filepath.Dir(freezeFile(h, uint32(pid)))
		for name, content := range map[string]string{"cgroup.freeze": "0", "cgroup.events": "populated 1\nfrozen 1\n"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
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

// idlingPauseFunction deploys "icy", annotated pause and idle after 1s,
// on a provider whose scaler looks every 20ms.
func idlingPauseFunction(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t)
	fakeFreezers(t, h, 4)
	h.p.Shutdown(context.Background())
	h.p = h.startWith(func(c *Config) { c.ScaleTick = 20 * time.Millisecond })
	if err := h.p.Deploy(context.Background(), deployment("icy", withLabel(labelScaleZero, "true"), withLabel(labelScaleZeroDuration, "1s"), withAnnotation(annotationIdle, idlePause))); err != nil {
		t.Fatal(err)
	}
	return h
}

// An idle function annotated pause keeps its replica, frozen, counted in
// its status; a request thaws the same task; delete removes it.
func TestFreezeWhenIdle(t *testing.T) {
	h := idlingPauseFunction(t)
	ctx := context.Background()
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
	fakeFreezers(t, h, 2)
	ctx := context.Background()
	if err := h.p.Deploy(ctx, deployment("icy", withAnnotation(annotationIdle, idlePause))); err != nil {
		t.Fatal(err)
	}
	id := h.rt.ids()[0]
	pid := h.rt.pidOf(id)
	if err := os.WriteFile(freezeFile(h, pid), []byte("1"), 0o644); err != nil { // frozen by the funcd before
		t.Fatal(err)
	}
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

// A request that came while a freeze was under way (its replica already
// out of the table, not yet marked frozen) is not left waiting: the
// freeze's end wakes it and it thaws the replica.
func TestRequestDuringFreezeThaws(t *testing.T) {
	h := newHarness(t)
	fakeFreezers(t, h, 2)
	ctx := context.Background()
	if err := h.p.Deploy(ctx, deployment("icy", withAnnotation(annotationIdle, idlePause))); err != nil {
		t.Fatal(err)
	}
	f := h.p.get(key{"openfaas-fn", "icy"})
	_, rs := f.snapshot()
	r := rs[0]
	r.ready.Store(false) // freeze's first step
	f.publish()
	type result struct {
		b   Backend
		err error
	}
	done := make(chan result, 1)
	go func() {
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		b, err := h.p.Resolve(rctx, "icy", "openfaas-fn")
		done <- result{b, err}
	}()
	time.Sleep(50 * time.Millisecond) // let the request find nothing ready and wait
	fz, err := h.p.cfg.Cgroups.Freezer(r.pid.Load())
	if err != nil {
		t.Fatal(err)
	}
	if err := fz.Freeze(ctx); err != nil {
		t.Fatal(err)
	}
	r.freezer = fz
	r.frozen.Store(true) // freeze's last steps
	f.publish()
	res := <-done
	if res.err != nil || res.b == nil || res.b.Host() != r.host {
		t.Fatalf("Resolve during a freeze = %v, %v; want the thawed replica", res.b, res.err)
	}
	res.b.Release()
	if got := readFreeze(t, filepath.Join(fz.Dir, "cgroup.freeze")); got != "0" {
		t.Errorf("cgroup.freeze after the request = %q, want 0", got)
	}
}

// Scaling a frozen function: up adds replicas beside the frozen one;
// to zero thaws the frozen one before it stops it, and parks it.
func TestScaleFrozen(t *testing.T) {
	h := idlingPauseFunction(t)
	ctx := context.Background()
	pid := h.rt.pidOf(h.rt.ids()[0])
	f := h.p.get(key{"openfaas-fn", "icy"})
	eventually(t, "icy frozen", func() bool { return f.frozenCount() == 1 })
	if err := h.p.Scale(ctx, "icy", "openfaas-fn", 2); err != nil {
		t.Fatal(err)
	}
	// The new replica may be frozen at once: the function is still idle.
	if st, _ := h.p.Status("icy", "openfaas-fn"); st.Replicas != 2 || st.AvailableReplicas != 2 {
		t.Errorf("after scaling a frozen function to 2: replicas %d, available %d; want 2 and 2", st.Replicas, st.AvailableReplicas)
	}
	if err := h.p.Scale(ctx, "icy", "openfaas-fn", 0); err != nil {
		t.Fatal(err)
	}
	if got := readFreeze(t, freezeFile(h, pid)); got != "0" {
		t.Errorf("cgroup.freeze of a frozen replica stopped by a scale to zero = %q, want 0 (thawed first)", got)
	}
	if n := f.frozenCount(); n != 0 {
		t.Errorf("%d replicas frozen at zero, want 0", n)
	}
}
