package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/cgroups"
)

// TestFreezeWhenIdle deploys a function that idles by freezing
// (com.funcd.idle=pause): once idle its one task is frozen in the cgroup
// freezer, not stopped; a request thaws that same task; funcd restarting
// adopts it; updating it frozen replaces it; deleting it frozen leaves
// nothing.
func TestFreezeWhenIdle(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	c := f.Client(t)
	ctx := t.Context()
	d := api.FunctionDeployment{Service: "icy", Image: imageRef("testfn:v1"),
		Labels:      map[string]string{"com.openfaas.scale.zero": "true", "com.openfaas.scale.zero-duration": "1s"},
		Annotations: map[string]string{"com.funcd.idle": "pause"}}
	deployReady(t, c, d)
	pid := onlyTask(t, "icy")
	fz, err := cgroups.Reader{}.Freezer(pid)
	if err != nil {
		t.Fatalf("freezer of the replica's task: %v", err)
	}
	waitFrozen(t, fz)
	if got := onlyTask(t, "icy"); got != pid {
		t.Fatalf("frozen replica's task is %d, want the same %d", got, pid)
	}
	st, err := c.GetFunction(ctx, "icy", "")
	if err != nil || st.Replicas != 1 || st.AvailableReplicas != 1 {
		t.Errorf("frozen function's status = %+v, %v; want 1 replica, 1 available", st, err)
	}
	if n := metric(t, f, "funcd_function_replicas_frozen", "icy"); n != 1 {
		t.Errorf("funcd_function_replicas_frozen of icy = %v, want 1", n)
	}

	if code, body, err := call(ctx, c, "icy", http.MethodGet, "/", ""); err != nil || code != http.StatusOK {
		t.Fatalf("invoke while frozen = %d %q, %v; want 200", code, body, err)
	}
	if frozen, err := fz.Frozen(); err != nil || frozen {
		t.Errorf("after a request the group is frozen = %v, %v; want thawed", frozen, err)
	}
	if got := onlyTask(t, "icy"); got != pid {
		t.Errorf("the request was served by task %d, want the thawed %d", got, pid)
	}

	// funcd restarting finds the task paused: it thaws and adopts it.
	waitFrozen(t, fz)
	f.Restart(t)
	c = f.Client(t)
	if got := onlyTask(t, "icy"); got != pid {
		t.Fatalf("after a restart the task is %d, want the adopted %d", got, pid)
	}
	if code, body, err := call(ctx, c, "icy", http.MethodGet, "/", ""); err != nil || code != http.StatusOK {
		t.Fatalf("invoke after a restart = %d %q, %v; want 200", code, body, err)
	}
	if got := onlyTask(t, "icy"); got != pid {
		t.Errorf("after a restart the request was served by task %d, want %d", got, pid)
	}

	// Updating a frozen function drains and stops the frozen task (thawed
	// for its SIGTERM) and serves from the new one.
	waitFrozen(t, fz)
	d.EnvVars = map[string]string{"GREETING": "brr"}
	if err := c.Update(ctx, d); err != nil {
		t.Fatalf("Update while frozen = %v", err)
	}
	newPID := onlyTask(t, "icy")
	if newPID == pid {
		t.Fatalf("after an update the task is still %d", pid)
	}
	if code, body, err := call(ctx, c, "icy", http.MethodGet, "/", ""); err != nil || code != http.StatusOK {
		t.Fatalf("invoke after an update = %d %q, %v; want 200", code, body, err)
	}
	if fz, err = (cgroups.Reader{}).Freezer(newPID); err != nil {
		t.Fatalf("freezer of the updated replica's task: %v", err)
	}

	// Deleting a frozen function stops its task (thawed for the signal).
	waitFrozen(t, fz)
	if err := c.Remove(ctx, "icy", ""); err != nil {
		t.Fatalf("Delete while frozen = %v", err)
	}
	assertNoLeftovers(t, f)
}

// TestFreezeBadAnnotation: an unknown com.funcd.idle value is refused
// with a 400 naming the annotation and its values, leaving nothing.
func TestFreezeBadAnnotation(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	c := f.Client(t)
	err := c.Deploy(t.Context(), api.FunctionDeployment{Service: "icy", Image: imageRef("testfn:v1"),
		Annotations: map[string]string{"com.funcd.idle": "hibernate"}})
	if !isStatus(err, http.StatusBadRequest) || !strings.Contains(err.Error(), "com.funcd.idle") || !strings.Contains(err.Error(), "park or pause") {
		t.Fatalf("Deploy with com.funcd.idle=hibernate = %v; want 400 naming the annotation and park or pause", err)
	}
	assertNoLeftovers(t, f)
}

// onlyTask returns the PID of function name's one task.
func onlyTask(t *testing.T, name string) uint32 {
	t.Helper()
	ts := tasks(t, name)
	if len(ts) != 1 {
		t.Fatalf("%s has containers %v, want one", name, ts)
	}
	for _, pid := range ts {
		if pid == 0 {
			t.Fatalf("%s's container has no task", name)
		}
		return pid
	}
	return 0
}

// waitFrozen waits until fz's group is frozen (idle for its 1s).
func waitFrozen(t *testing.T, fz cgroups.Freezer) {
	t.Helper()
	eventually(t, 20*time.Second, func() error {
		frozen, err := fz.Frozen()
		if err != nil {
			return err
		}
		if !frozen {
			return fmt.Errorf("group %s is not frozen", fz.Dir)
		}
		return nil
	})
}
