package e2e

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/api"
)

// TestScaleToZeroAndBack scales a function to zero through the API and
// through idleness, and checks that requests arriving at zero all succeed.
func TestScaleToZeroAndBack(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	c := f.Client(t)
	ctx := t.Context()
	deployReady(t, c, api.FunctionDeployment{Service: "napper", Image: imageRef("testfn:v1"),
		Labels: map[string]string{"com.openfaas.scale.zero": "true", "com.openfaas.scale.zero-duration": "2s"}})

	eventually(t, 30*time.Second, func() error {
		if n := running(t, "napper"); n != 0 {
			return fmt.Errorf("%d replicas still running", n)
		}
		return nil
	})
	st, err := c.GetFunction(ctx, "napper", "")
	if err != nil || st.Replicas != 0 || st.AvailableReplicas != 0 {
		t.Fatalf("idle function status = %+v, %v; want 0 replicas", st, err)
	}
	// Ten requests arrive at once while nothing runs: all are held, then served.
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, _, err := call(ctx, c, "napper", http.MethodGet, "/", ""); err != nil || code != 200 {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Errorf("%d of 10 requests during the cold start failed", n)
	}
	if n := running(t, "napper"); n != 1 {
		t.Errorf("after the cold start %d replicas, want 1", n)
	}

	// Scale to zero by hand: CE's clamp does not apply here.
	if err := c.Scale(ctx, "napper", "", 0); err != nil {
		t.Fatalf("Scale to 0 = %v", err)
	}
	if n := running(t, "napper"); n != 0 {
		t.Errorf("after scale to 0, %d replicas run", n)
	}
	if n := len(tasks(t, "napper")); n != 1 {
		t.Errorf("at zero %d containers, want 1 parked (no task) for a fast wake-up", n)
	}
	if code, body, err := call(ctx, c, "napper", http.MethodGet, "/", ""); err != nil || code != 200 {
		t.Errorf("invoke at zero = %d %q, %v", code, body, err)
	}
	if err := c.Scale(ctx, "napper", "", 25); !isStatus(err, 400) {
		t.Errorf("Scale above com.openfaas.scale.max = %v, want 400", err)
	}
}

// TestAutoscaling drives load with a bounded client and watches the
// replica count rise with requests in flight and fall after the load.
func TestAutoscaling(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t, WithArgs("--scale-down-delay", "2s"))
	c := f.Client(t)
	ctx := t.Context()
	deployReady(t, c, api.FunctionDeployment{Service: "elastic", Image: imageRef("testfn:v1"),
		Labels: map[string]string{
			"com.openfaas.scale.target": "2", "com.openfaas.scale.type": "capacity",
			"com.openfaas.scale.target-proportion": "1", "com.openfaas.scale.max": "4",
		}})

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 { // 8 slow requests in flight at all times: 4 replicas wanted
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ { // bounded
				select {
				case <-stop:
					return
				default:
				}
				call(ctx, c, "elastic", http.MethodGet, "/sleep?ms=300", "")
			}
		}()
	}
	peak := 0
	eventually(t, 30*time.Second, func() error {
		st, err := c.GetFunction(ctx, "elastic", "")
		if err != nil {
			return err
		}
		peak = max(peak, int(st.AvailableReplicas))
		if st.AvailableReplicas < 3 {
			return fmt.Errorf("%d replicas under load", st.AvailableReplicas)
		}
		return nil
	})
	close(stop)
	wg.Wait()
	eventually(t, 30*time.Second, func() error {
		st, err := c.GetFunction(ctx, "elastic", "")
		if err != nil {
			return err
		}
		if st.Replicas != 1 {
			return fmt.Errorf("%d replicas after the load", st.Replicas)
		}
		return nil
	})
	t.Logf("peak %d replicas under 8 requests in flight", peak)
}

// running counts name's replicas that have a task.
func running(t *testing.T, name string) int {
	t.Helper()
	n := 0
	for _, pid := range tasks(t, name) {
		if pid != 0 {
			n++
		}
	}
	return n
}
