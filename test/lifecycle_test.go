package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/api"
)

// TestZeroDowntimeUpdate invokes a function in a loop while it is updated
// to a new image and asserts no request fails and the new version serves.
func TestZeroDowntimeUpdate(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	c := f.Client(t)
	ctx := t.Context()
	deployReady(t, c, api.FunctionDeployment{Service: "rolling", Image: imageRef("testfn:v1"),
		Labels: map[string]string{"com.openfaas.scale.min": "2"}})
	old := tasks(t, "rolling")

	var (
		mu       sync.Mutex
		failures []string
		versions = map[string]int{}
		n        int
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100000; i++ { // bounded; stop ends it far sooner
				select {
				case <-stop:
					return
				default:
				}
				code, body, err := call(ctx, c, "rolling", http.MethodGet, "/", "")
				mu.Lock()
				n++
				if err != nil || code != 200 {
					failures = append(failures, fmt.Sprintf("%d %q %v", code, body, err))
				} else if strings.Contains(body, `"version":"v2"`) {
					versions["v2"]++
				} else {
					versions["v1"]++
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(200 * time.Millisecond) // let traffic flow before the update
	err := c.Update(ctx, api.FunctionDeployment{Service: "rolling", Image: imageRef("testfn:v2"),
		Labels: map[string]string{"com.openfaas.scale.min": "2"}})
	time.Sleep(200 * time.Millisecond) // and after it
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("Update = %v", err)
	}
	t.Logf("%d invocations during the update: %v", n, versions)
	if len(failures) > 0 {
		t.Errorf("%d of %d invocations failed during the update, first: %s", len(failures), n, failures[0])
	}
	if versions["v1"] == 0 || versions["v2"] == 0 {
		t.Errorf("versions served = %v, want both v1 (before) and v2 (after)", versions)
	}
	if r := echo(t, c, "rolling", "/"); r.Version != "v2" {
		t.Errorf("after update version = %q, want v2", r.Version)
	}
	now := tasks(t, "rolling")
	if len(now) != 2 {
		t.Errorf("after update %d replicas, want 2", len(now))
	}
	for id := range old {
		if _, ok := now[id]; ok {
			t.Errorf("old replica %s survived the update", id)
		}
	}
	st, err := c.GetFunction(ctx, "rolling", "")
	if err != nil || st.Image != imageRef("testfn:v2") || st.Replicas != 2 || st.AvailableReplicas != 2 {
		t.Errorf("status after update = %+v, %v", st, err)
	}
}

// TestFailedUpdateKeepsServing updates to a version that never becomes
// ready: the update answers an error saying why and the old one serves on.
func TestFailedUpdateKeepsServing(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t, WithArgs("--ready-timeout", "3s"))
	c := f.Client(t)
	ctx := t.Context()
	deployReady(t, c, api.FunctionDeployment{Service: "stable", Image: imageRef("testfn:v1")})
	old := tasks(t, "stable")

	err := c.Update(ctx, api.FunctionDeployment{Service: "stable", Image: imageRef("testfn:v2"),
		EnvVars:     map[string]string{"READY": "false"},
		Annotations: map[string]string{"com.openfaas.ready.http.path": "/ready"}})
	if !isStatus(err, 400) || !strings.Contains(err.Error(), "/ready answered 503") {
		t.Fatalf("Update to a never-ready version = %v, want 400 saying /ready answered 503", err)
	}
	if r := echo(t, c, "stable", "/"); r.Version != "v1" {
		t.Errorf("after the failed update version = %q, want v1", r.Version)
	}
	if now := tasks(t, "stable"); fmt.Sprint(now) != fmt.Sprint(old) {
		t.Errorf("replicas after failed update = %v, want %v untouched", now, old)
	}
	st, _ := c.GetFunction(ctx, "stable", "")
	if st.Image != imageRef("testfn:v1") || len(st.Annotations) != 0 {
		t.Errorf("status after failed update = %+v, want the old spec", st)
	}
}

// TestDeleteLeavesNothing removes a function with several replicas and
// checks containerd, the IPAM store, network namespaces and iptables.
func TestDeleteLeavesNothing(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	c := f.Client(t)
	ctx := t.Context()
	deployReady(t, c, api.FunctionDeployment{Service: "gone", Image: imageRef("testfn:v1"),
		Labels: map[string]string{"com.openfaas.scale.min": "3"}})
	if left := leftovers(t, f); len(left) < 3*3 {
		t.Fatalf("with 3 replicas leftovers() = %v; the check sees too little to be trusted", left)
	}
	if err := c.Remove(ctx, "gone", ""); err != nil {
		t.Fatalf("Remove = %v", err)
	}
	assertNoLeftovers(t, f)
	code, _, _ := call(ctx, c, "gone", http.MethodGet, "/", "")
	if code != http.StatusNotFound {
		t.Errorf("invoke after remove = %d, want 404", code)
	}
	// It stays gone across a restart.
	f.Restart(t)
	if fns, err := c.ListFunctions(ctx, ""); err != nil || len(fns) != 0 {
		t.Errorf("after restart ListFunctions = %v, %v; want none", fns, err)
	}
}

// TestSurvivesKill9 kills funcd with SIGKILL and starts it again: the
// function's task is untouched (same PID) and serves throughout the new
// funcd's life.
func TestSurvivesKill9(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	c := f.Client(t)
	ctx := t.Context()
	deployReady(t, c, api.FunctionDeployment{Service: "durable", Image: imageRef("testfn:v1"),
		Labels: map[string]string{"com.openfaas.scale.min": "2"}})
	before := tasks(t, "durable")

	f.Kill9(t)
	f.Restart(t)

	if after := tasks(t, "durable"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("tasks after kill -9 and restart = %v, want %v (same containers, same PIDs)", after, before)
	}
	st, err := c.GetFunction(ctx, "durable", "")
	if err != nil || st.Replicas != 2 || st.AvailableReplicas != 2 {
		t.Errorf("status after restart = %+v, %v; want 2/2 at once", st, err)
	}
	for i := range 20 {
		if code, body, err := call(ctx, c, "durable", http.MethodGet, "/", ""); err != nil || code != 200 {
			t.Fatalf("invoke %d after restart = %d %q, %v", i, code, body, err)
		}
	}
}

// TestCrashedFunctionRestarts makes the function's process exit and waits
// for funcd to restart it; requests sent meanwhile wait for it.
func TestCrashedFunctionRestarts(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	c := f.Client(t)
	ctx := t.Context()
	deployReady(t, c, api.FunctionDeployment{Service: "phoenix", Image: imageRef("testfn:v1")})
	before := tasks(t, "phoenix")

	for round := 1; round <= 2; round++ {
		if code, body, err := call(ctx, c, "phoenix", http.MethodGet, "/exit?code=3", ""); err != nil || code != 200 {
			t.Fatalf("GET /exit = %d %q, %v", code, body, err)
		}
		// This request arrives while the replica is down and is held until
		// it is back.
		if code, body, err := call(ctx, c, "phoenix", http.MethodGet, "/", ""); err != nil || code != 200 {
			t.Fatalf("invoke after crash %d = %d %q, %v", round, code, body, err)
		}
	}
	after := tasks(t, "phoenix")
	for id, pid := range before {
		if after[id] == 0 || after[id] == pid {
			t.Errorf("replica %s pid %d after crashes, want a new task in the same container", id, after[id])
		}
	}
}
