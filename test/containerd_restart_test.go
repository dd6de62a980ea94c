package e2e

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/test/testenv"
)

// TestContainerdRestart stops containerd for 5 s under a steady stream of
// invocations. The functions' shims keep them running, so no invocation
// may fail and every task keeps its PID; /system calls that need
// containerd answer 503 naming it meanwhile and leave nothing behind; and
// once containerd is back funcd supervises as before: a replica whose
// process dies, after containerd is back or while it is away, is
// restarted. Last, funcd started while containerd is stopped waits for it
// and adopts the same tasks.
func TestContainerdRestart(t *testing.T) {
	requireE2E(t)
	// A replica out of routing makes invocations wait for one: with a
	// short --timeout that wait is a 504, counted as a failure.
	f := startFuncd(t, WithArgs("--timeout", "3s"))
	// Registered after startFuncd, so it runs before funcd's cleanup,
	// which needs containerd: a failed test must not leave it stopped
	// for the next tests either.
	t.Cleanup(func() {
		if !h.Containerd.Running() {
			if err := h.Containerd.Start(context.Background()); err != nil {
				t.Errorf("start containerd again: %v", err)
			}
		}
	})
	c := f.Client(t)
	ctx := t.Context()
	deployReady(t, c, api.FunctionDeployment{Service: "steady", Image: imageRef("testfn:v1"),
		Labels: map[string]string{"com.openfaas.scale.min": "2"}})
	before := tasks(t, "steady")
	if len(before) != 2 {
		t.Fatalf("tasks(steady) = %v, want 2 replicas", before)
	}

	var (
		mu       sync.Mutex
		n        int
		failures []string
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 3000; i++ { // one every 10 ms, bounded; stop ends it sooner
			select {
			case <-stop:
				return
			default:
			}
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			began := time.Now()
			code, body, err := call(cctx, c, "steady", http.MethodGet, "/", "")
			cancel()
			mu.Lock()
			n++
			if err != nil || code != http.StatusOK {
				failures = append(failures, fmt.Sprintf("at %s: %d %q %v", began.Format("15:04:05.000"), code, body, err))
			}
			mu.Unlock()
			time.Sleep(10 * time.Millisecond)
		}
	}()
	defer func() { // also when the test stops early
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-done
	}()

	time.Sleep(time.Second) // traffic before the stop
	stopped := time.Now()
	if err := h.Containerd.Stop(); err != nil {
		t.Fatalf("stop containerd: %v", err)
	}
	t.Logf("containerd stopped at %s", stopped.Format("15:04:05.000"))

	// Meanwhile, what needs containerd says it is unavailable.
	deploy := fmt.Sprintf(`{"service":"late","image":%q}`, imageRef("testfn:v1"))
	resp, body := authed(t, f, http.MethodPost, "/system/functions", strings.NewReader(deploy))
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "containerd") || resp.Header.Get("Retry-After") == "" {
		t.Errorf("deploy with containerd stopped = %d %q (Retry-After %q), want 503 naming containerd, with Retry-After",
			resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	resp, body = authed(t, f, http.MethodPost, "/system/scale-function/steady", strings.NewReader(`{"replicas":1}`))
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "containerd") {
		t.Errorf("scale with containerd stopped = %d %q, want 503 naming containerd", resp.StatusCode, body)
	}

	time.Sleep(time.Until(stopped.Add(5 * time.Second))) // the outage lasts 5 s
	if err := h.Containerd.Start(ctx); err != nil {
		t.Fatalf("start containerd again: %v", err)
	}
	t.Logf("containerd answers again at %s", time.Now().Format("15:04:05.000"))
	time.Sleep(3 * time.Second) // traffic while funcd finds containerd again
	close(stop)
	<-done

	mu.Lock()
	t.Logf("%d invocations across the containerd restart, %d failed", n, len(failures))
	if len(failures) > 0 {
		t.Errorf("%d of %d invocations failed across the containerd restart; first: %s", len(failures), n, failures[0])
	}
	mu.Unlock()
	if after := tasks(t, "steady"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("tasks after the containerd restart = %v, want %v (same containers, same PIDs)", after, before)
	}
	st, err := c.GetFunction(ctx, "steady", "")
	if err != nil || st.Replicas != 2 || st.AvailableReplicas != 2 {
		t.Errorf("status after the containerd restart = %+v, %v; want 2/2", st, err)
	}
	// The refused deploy left nothing behind.
	if _, err := c.GetFunction(ctx, "late", ""); !isStatus(err, http.StatusNotFound) {
		t.Errorf("GetFunction(late) after the refused deploy = %v, want 404", err)
	}
	for _, l := range leftovers(t, f) {
		if strings.Contains(l, "late-") {
			t.Errorf("the refused deploy left %s", l)
		}
	}

	// Supervision goes on: a replica whose process dies is restarted in
	// its container, whether it dies once containerd is back or while
	// containerd is away (then its real exit status is read once
	// containerd is back: SIGKILL, 137).
	ids := slices.Sorted(maps.Keys(before))
	replaced := func(id string, pid uint32, when string) {
		t.Helper()
		eventually(t, time.Minute, func() error {
			if now := tasks(t, "steady")[id]; now == 0 || now == pid {
				return fmt.Errorf("replica %s killed %s has pid %d, want a new task", id, when, now)
			}
			st, err := c.GetFunction(ctx, "steady", "")
			if err != nil || st.AvailableReplicas != 2 {
				return fmt.Errorf("status = %+v, %v; want 2 ready replicas", st, err)
			}
			return nil
		})
		if code, body, err := call(ctx, c, "steady", http.MethodGet, "/", ""); err != nil || code != http.StatusOK {
			t.Errorf("invoke after the replica killed %s restarted = %d %q, %v", when, code, body, err)
		}
	}
	killed := time.Now()
	kill(t, ids[0], before[ids[0]])
	replaced(ids[0], before[ids[0]], "after the containerd restart")
	t.Logf("replica killed after the containerd restart was serving again %v later", time.Since(killed).Round(time.Millisecond))

	if err := h.Containerd.Stop(); err != nil {
		t.Fatalf("stop containerd: %v", err)
	}
	kill(t, ids[1], before[ids[1]])
	if err := h.Containerd.Start(ctx); err != nil {
		t.Fatalf("start containerd again: %v", err)
	}
	replaced(ids[1], before[ids[1]], "while containerd was stopped")
	if want := fmt.Sprintf("replica=%s code=137", ids[1]); !strings.Contains(testenv.Tail(f.LogPath, 100), want) {
		t.Errorf("funcd log lacks %q: the exit status of a task that died while containerd was away was not read", want)
	}

	// funcd started while containerd is down waits for it, then adopts
	// the running tasks untouched.
	before = tasks(t, "steady")
	f.Stop(t)
	if err := h.Containerd.Stop(); err != nil {
		t.Fatalf("stop containerd: %v", err)
	}
	restarted := make(chan error, 1)
	go func() { restarted <- f.Funcd.Restart(ctx) }() // returns once /healthz answers
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	waiting := testenv.Poll(wctx, func() error {
		if !strings.Contains(testenv.Tail(f.LogPath, 5), "containerd is not reachable yet") {
			return errors.New("funcd does not log that it waits for containerd")
		}
		return nil
	})
	cancel()
	startErr := h.Containerd.Start(ctx)
	if err := errors.Join(waiting, startErr, <-restarted); err != nil {
		t.Fatalf("funcd started while containerd was stopped: %v", err)
	}
	if after := tasks(t, "steady"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("tasks after funcd started while containerd was stopped = %v, want %v (same containers, same PIDs)", after, before)
	}
	if code, body, err := call(ctx, c, "steady", http.MethodGet, "/", ""); err != nil || code != http.StatusOK {
		t.Errorf("invoke after funcd started while containerd was stopped = %d %q, %v", code, body, err)
	}
}

// kill sends SIGKILL to replica id's process.
func kill(t *testing.T, id string, pid uint32) {
	t.Helper()
	if err := syscall.Kill(int(pid), syscall.SIGKILL); err != nil {
		t.Fatalf("kill replica %s (pid %d): %v", id, pid, err)
	}
}
