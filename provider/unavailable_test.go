package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// TestContainerdUnavailable: while containerd cannot be reached, every
// operation that needs it fails with ErrUnavailable and changes nothing
// (no record, container, address or network namespace made or lost), and
// the running replicas keep serving.
func TestContainerdUnavailable(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.p.Deploy(ctx, deployment("a", withLabel(labelScaleMax, "4"))); err != nil {
		t.Fatal(err)
	}
	if err := h.p.Deploy(ctx, deployment("z")); err != nil {
		t.Fatal(err)
	}
	if err := h.p.Scale(ctx, "z", "openfaas-fn", 0); err != nil {
		t.Fatal(err)
	}
	ids := fmt.Sprint(h.rt.ids())
	addrs, netnss := h.net.inUse()
	served, err := h.invoke(h.p, "a")
	if err != nil {
		t.Fatal(err)
	}

	h.rt.down.Store(true)
	ops := []struct {
		name string
		op   func() error
	}{
		{"Deploy", func() error { return h.p.Deploy(ctx, deployment("b")) }},
		{"Update", func() error { return h.p.Update(ctx, deployment("a", withEnv("V", "2"))) }},
		{"Scale up", func() error { return h.p.Scale(ctx, "a", "openfaas-fn", 3) }},
		{"Scale to zero", func() error { return h.p.Scale(ctx, "a", "openfaas-fn", 0) }},
		{"Scale from zero", func() error { return h.p.Scale(ctx, "z", "openfaas-fn", 1) }},
		{"Delete", func() error { return h.p.Delete(ctx, "a", "openfaas-fn") }},
		{"start replicas", func() error {
			// Past the check: containerd went away in the middle.
			f := h.p.get(key{"openfaas-fn", "a"})
			if f == nil {
				return errors.New("function a is gone")
			}
			rec, _ := f.snapshot()
			_, err := h.p.startReplicas(ctx, f, rec, 2)
			return err
		}},
		{"unpark", func() error {
			f := h.p.get(key{"openfaas-fn", "z"})
			rs := h.p.unpark(ctx, f, 1)
			f.mu.Lock()
			left := len(f.parked)
			f.mu.Unlock()
			if len(rs) != 0 || left != 1 {
				return fmt.Errorf("unpark woke %d and left %d parked, want 0 woken and 1 still parked", len(rs), left)
			}
			return ErrUnavailable
		}},
	}
	for _, tt := range ops {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.op(); !errors.Is(err, ErrUnavailable) {
				t.Errorf("%s with containerd down = %v, want ErrUnavailable", tt.name, err)
			}
			if got := fmt.Sprint(h.rt.ids()); got != ids {
				t.Errorf("after %s containers = %v, want %v untouched", tt.name, got, ids)
			}
			if a, n := h.net.inUse(); a != addrs || n != netnss {
				t.Errorf("after %s %d addresses and %d netns in use, want %d and %d", tt.name, a, n, addrs, netnss)
			}
			st, err := h.p.Status("a", "openfaas-fn")
			if err != nil || st.Replicas != 1 || st.AvailableReplicas != 1 || st.EnvVars["V"] != "" {
				t.Errorf("after %s Status(a) = %+v, %v; want 1/1 replicas of the first spec", tt.name, st, err)
			}
			if _, err := h.p.Status("b", "openfaas-fn"); !errors.Is(err, ErrNotFound) {
				t.Errorf("after %s Status(b) = %v, want ErrNotFound", tt.name, err)
			}
			if got, err := h.invoke(h.p, "a"); err != nil || got != served {
				t.Errorf("after %s invoke(a) = %q, %v; want %q serving on", tt.name, got, err, served)
			}
		})
	}

	h.rt.down.Store(false)
	if err := h.p.Deploy(ctx, deployment("b")); err != nil {
		t.Errorf("Deploy once containerd is back = %v", err)
	}
	if err := h.p.Delete(ctx, "a", "openfaas-fn"); err != nil {
		t.Errorf("Delete once containerd is back = %v", err)
	}
}

// TestScaleFromZeroWaitsForContainerd: a request that finds a function at
// zero while containerd is away waits (within its own deadline) and is
// served by the parked replica once containerd is back.
func TestScaleFromZeroWaitsForContainerd(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.p.Deploy(ctx, deployment("z")); err != nil {
		t.Fatal(err)
	}
	if err := h.p.Scale(ctx, "z", "openfaas-fn", 0); err != nil {
		t.Fatal(err)
	}
	parked := h.rt.ids()

	h.rt.down.Store(true)
	type result struct {
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		b, err := h.p.Resolve(rctx, "z", "openfaas-fn")
		if err != nil {
			done <- result{err: err}
			return
		}
		defer b.Release()
		resp, err := http.Get("http://" + b.Host() + "/")
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		done <- result{string(body), err}
	}()
	select {
	case r := <-done:
		t.Fatalf("with containerd down the request ended at once: %q, %v; want it to wait", r.body, r.err)
	case <-time.After(3 * wakeRetry / 2): // at least one retry of the wake-up
	}
	if got := h.rt.ids(); fmt.Sprint(got) != fmt.Sprint(parked) {
		t.Errorf("with containerd down containers = %v, want the parked %v kept", got, parked)
	}

	h.rt.down.Store(false)
	select {
	case r := <-done:
		if r.err != nil || r.body != parked[0] {
			t.Errorf("request once containerd is back = %q, %v; want an answer from the parked replica %s", r.body, r.err, parked[0])
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the request was not served within 20s of containerd coming back")
	}
	if st, _ := h.p.Status("z", "openfaas-fn"); st.Replicas != 1 || st.AvailableReplicas != 1 {
		t.Errorf("after the wake-up replicas %d/%d, want 1/1", st.AvailableReplicas, st.Replicas)
	}
}

// TestRestartWaitsOutContainerd: a replica that dies while containerd is
// away is restarted within about a second of containerd's return, however
// long it was away: failing to reach containerd is not the function's
// failure, so it does not grow the restart back-off (which, counting
// each attempt, would wait 8 s after the attempt at 7.5 s).
func TestRestartWaitsOutContainerd(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.p.Deploy(ctx, deployment("a")); err != nil {
		t.Fatal(err)
	}
	id := h.rt.ids()[0]
	h.rt.down.Store(true)
	h.rt.crash(id)
	time.Sleep(8 * time.Second) // containerd stays away; the supervisor keeps trying
	h.rt.down.Store(false)
	back := time.Now()
	eventually(t, "the replica restarted", func() bool {
		_, err := h.invoke(h.p, "a")
		return err == nil
	})
	if d := time.Since(back); d > 3*time.Second {
		t.Errorf("restarted %s after containerd returned, want within about a second", d)
	}
}
