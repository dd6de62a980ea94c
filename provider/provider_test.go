package provider

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/funcd/funcd/internal/api"
)

func deployment(name string, mods ...func(*api.FunctionDeployment)) api.FunctionDeployment {
	d := api.FunctionDeployment{Service: name, Image: "fn:1"}
	for _, m := range mods {
		m(&d)
	}
	return d
}

func withEnv(k, v string) func(*api.FunctionDeployment) {
	return func(d *api.FunctionDeployment) {
		if d.EnvVars == nil {
			d.EnvVars = map[string]string{}
		}
		d.EnvVars[k] = v
	}
}

func withLabel(k, v string) func(*api.FunctionDeployment) {
	return func(d *api.FunctionDeployment) {
		if d.Labels == nil {
			d.Labels = map[string]string{}
		}
		d.Labels[k] = v
	}
}

func TestDeployStatusRoundTrip(t *testing.T) {
	h := newHarness(t)
	d := api.FunctionDeployment{
		Service:                "echo",
		Image:                  "fn:1",
		EnvProcess:             "cat",
		EnvVars:                map[string]string{"A": "x=y=z"},
		Labels:                 map[string]string{"team": "a"},
		Annotations:            map[string]string{"topic": "t"},
		Secrets:                []string{"db-pass"},
		Limits:                 &api.FunctionResources{Memory: "128Mi"},
		ReadOnlyRootFilesystem: true,
	}
	if err := h.p.Deploy(context.Background(), d); err != nil {
		t.Fatalf("Deploy = %v", err)
	}
	st, err := h.p.Status("echo", "openfaas-fn")
	if err != nil {
		t.Fatalf("Status = %v", err)
	}
	if st.EnvVars["A"] != "x=y=z" || st.EnvProcess != "cat" || st.Labels["team"] != "a" ||
		st.Annotations["topic"] != "t" || st.Secrets[0] != "db-pass" || st.Limits.Memory != "128Mi" ||
		!st.ReadOnlyRootFilesystem || st.Image != "fn:1" || st.Namespace != "openfaas-fn" {
		t.Errorf("Status = %+v, want the deployed spec back", st)
	}
	if st.Replicas != 1 || st.AvailableReplicas != 1 || st.CreatedAt.IsZero() {
		t.Errorf("Status replicas = %d/%d createdAt %v, want 1/1 and a time", st.AvailableReplicas, st.Replicas, st.CreatedAt)
	}
	ids := h.rt.ids()
	spec := h.rt.containers[ids[0]].spec
	env := strings.Join(spec.Env, " ")
	if !strings.Contains(env, "A=x=y=z") || !strings.Contains(env, "fprocess=cat") {
		t.Errorf("container env = %q, want A and fprocess", spec.Env)
	}
	if !spec.ReadOnlyRoot || spec.NetRaw {
		t.Errorf("container ReadOnlyRoot, NetRaw = %v, %v; want true, false", spec.ReadOnlyRoot, spec.NetRaw)
	}
	var secretMount bool
	for _, m := range spec.Mounts {
		secretMount = secretMount || m.Destination == "/var/openfaas/secrets" // the replica's secrets view
	}
	if !secretMount {
		t.Errorf("container mounts = %+v, want the secret", spec.Mounts)
	}
	if got, err := h.invoke(h.p, "echo"); err != nil || got != ids[0] {
		t.Errorf("invoke = %q, %v, want %q", got, err, ids[0])
	}
}

func TestDeployRejects(t *testing.T) {
	tests := []struct {
		name string
		d    api.FunctionDeployment
		want error
		msg  string
	}{
		{"bad name", deployment("Bad_Name"), ErrInvalid, "service"},
		{"empty image", api.FunctionDeployment{Service: "x"}, ErrInvalid, "image"},
		{"unknown secret", deployment("x", func(d *api.FunctionDeployment) { d.Secrets = []string{"nope"} }), ErrInvalid, "nope"},
		{"unpullable", api.FunctionDeployment{Service: "x", Image: "missing:1"}, ErrInvalid, "missing:1"},
		{"bad scale label", deployment("x", withLabel(labelScaleMin, "many")), ErrInvalid, labelScaleMin},
		{"min above max", deployment("x", withLabel(labelScaleMin, "5"), withLabel(labelScaleMax, "2")), ErrInvalid, labelScaleMax},
		{"max above the host's", deployment("x", withLabel(labelScaleMax, "1000000000")), ErrInvalid, "--max-replicas"},
		{"min above the host's", deployment("x", withLabel(labelScaleMin, "60"), withLabel(labelScaleMax, "60")), ErrInvalid, "--max-replicas"},
		{"net-raw not a bool", deployment("x", func(d *api.FunctionDeployment) {
			d.Annotations = map[string]string{annotationNetRaw: "maybe"}
		}), ErrInvalid, annotationNetRaw},
		{"namespace", deployment("x", func(d *api.FunctionDeployment) { d.Namespace = "other" }), ErrInvalid, "other"},
		{"never ready", deployment("x", withEnv("MODE", "exit")), ErrStart, "exited"},
		{"ready path fails", deployment("x", withEnv("READY", "false"), func(d *api.FunctionDeployment) {
			d.Annotations = map[string]string{annotationReadyPath: "/ready"}
		}), ErrStart, "503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			err := h.p.Deploy(context.Background(), tt.d)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Deploy = %v, want %v mentioning %q", err, tt.want, tt.msg)
			}
			if ids := h.rt.ids(); len(ids) != 0 {
				t.Errorf("containers left behind: %v", ids)
			}
			if a, n := h.net.inUse(); a != 0 || n != 0 {
				t.Errorf("left behind %d addresses and %d netns", a, n)
			}
			if _, err := h.p.Status("x", "openfaas-fn"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Status after failed deploy = %v, want ErrNotFound", err)
			}
		})
	}
}

// TestNetRawOnRequest: CAP_NET_RAW only for a function that asks.
func TestNetRawOnRequest(t *testing.T) {
	h := newHarness(t)
	if err := h.p.Deploy(context.Background(), deployment("pinger", func(d *api.FunctionDeployment) {
		d.Annotations = map[string]string{annotationNetRaw: "true"}
	})); err != nil {
		t.Fatal(err)
	}
	if spec := h.rt.containers[h.rt.ids()[0]].spec; !spec.NetRaw {
		t.Errorf("container NetRaw = false with %s=true", annotationNetRaw)
	}
}

// TestDefaultMaxAboveTheCap: without com.openfaas.scale.max a function
// deploys on a host whose cap (a small subnet) is below the default
// maximum of 20, and scales up to the cap, not past it.
func TestDefaultMaxAboveTheCap(t *testing.T) {
	h := newHarness(t)
	h.p.Shutdown(context.Background())
	h.p = h.startWith(func(c *Config) { c.MaxReplicas = 2 })
	ctx := context.Background()
	if err := h.p.Deploy(ctx, deployment("small")); err != nil {
		t.Fatalf("Deploy without scale labels, cap 2 = %v", err)
	}
	if err := h.p.Scale(ctx, "small", "openfaas-fn", 2); err != nil {
		t.Errorf("Scale to the cap = %v", err)
	}
	if err := h.p.Scale(ctx, "small", "openfaas-fn", 3); !errors.Is(err, ErrInvalid) {
		t.Errorf("Scale past the cap = %v, want ErrInvalid", err)
	}
}

// TestScaleWithinTheHostsCap: a record from before the cap (max 1e9) can
// still not be scaled past it.
func TestScaleWithinTheHostsCap(t *testing.T) {
	h := newHarness(t)
	h.p.Shutdown(context.Background())
	h.p = h.startWith(func(c *Config) { c.MaxReplicas = 0 })
	ctx := context.Background()
	if err := h.p.Deploy(ctx, deployment("big", withLabel(labelScaleMax, "1000000000"))); err != nil {
		t.Fatal(err)
	}
	h.p.Shutdown(ctx)
	h.p = h.start()
	err := h.p.Scale(ctx, "big", "openfaas-fn", 1000000000)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "--max-replicas") {
		t.Errorf("Scale(1e9) = %v, want ErrInvalid naming --max-replicas", err)
	}
	if n := len(h.rt.ids()); n != 1 {
		t.Errorf("%d containers after a refused scale, want 1", n)
	}
}

func TestDeployTwiceConflicts(t *testing.T) {
	h := newHarness(t)
	if err := h.p.Deploy(context.Background(), deployment("a")); err != nil {
		t.Fatal(err)
	}
	if err := h.p.Deploy(context.Background(), deployment("a")); !errors.Is(err, ErrExists) {
		t.Errorf("second Deploy = %v, want ErrExists", err)
	}
}

func TestUpdateSwitchesWithoutGap(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.p.Deploy(ctx, deployment("a", withLabel(labelScaleMin, "2"))); err != nil {
		t.Fatal(err)
	}
	old := h.rt.ids()
	var failed atomic.Int32
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := h.invoke(h.p, "a"); err != nil {
				failed.Add(1)
			}
		}
	}()
	err := h.p.Update(ctx, deployment("a", withLabel(labelScaleMin, "2"), withEnv("V", "2")))
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("Update = %v", err)
	}
	if n := failed.Load(); n != 0 {
		t.Errorf("%d invocations failed during the update", n)
	}
	now := h.rt.ids()
	if len(now) != 2 {
		t.Fatalf("after update %d containers, want 2", len(now))
	}
	for _, id := range now {
		for _, o := range old {
			if id == o {
				t.Errorf("old replica %s still exists", id)
			}
		}
	}
	st, _ := h.p.Status("a", "openfaas-fn")
	if st.EnvVars["V"] != "2" || st.AvailableReplicas != 2 {
		t.Errorf("Status after update = %+v", st)
	}
	if a, _ := h.net.inUse(); a != 2 {
		t.Errorf("%d addresses in use, want 2", a)
	}
}

func TestUpdateFailureKeepsOldVersion(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.p.Deploy(ctx, deployment("a")); err != nil {
		t.Fatal(err)
	}
	old := h.rt.ids()
	err := h.p.Update(ctx, deployment("a", withEnv("MODE", "exit")))
	if !errors.Is(err, ErrStart) || !strings.Contains(err.Error(), "previous version keeps serving") {
		t.Fatalf("Update = %v, want ErrStart saying the old version serves", err)
	}
	if got := h.rt.ids(); len(got) != 1 || got[0] != old[0] {
		t.Errorf("containers = %v, want only %v", got, old)
	}
	if got, err := h.invoke(h.p, "a"); err != nil || got != old[0] {
		t.Errorf("invoke = %q, %v, want the old replica", got, err)
	}
	st, _ := h.p.Status("a", "openfaas-fn")
	if st.EnvVars["MODE"] != "" {
		t.Errorf("Status shows the failed spec: %+v", st)
	}
	if err := h.p.Update(ctx, deployment("nope")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Update of a missing function = %v, want ErrNotFound", err)
	}
}

func TestDeleteReleasesEverything(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.p.Deploy(ctx, deployment("a", withLabel(labelScaleMin, "3"))); err != nil {
		t.Fatal(err)
	}
	if err := h.p.Delete(ctx, "a", "openfaas-fn"); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	if ids := h.rt.ids(); len(ids) != 0 {
		t.Errorf("containers left: %v", ids)
	}
	if a, n := h.net.inUse(); a != 0 || n != 0 {
		t.Errorf("left %d addresses, %d netns", a, n)
	}
	if _, err := h.invoke(h.p, "a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("invoke after delete = %v, want ErrNotFound", err)
	}
	if err := h.p.Delete(ctx, "a", "openfaas-fn"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
	// A restart must not bring it back.
	p2 := h.start()
	if got := p2.List("openfaas-fn"); len(got) != 0 {
		t.Errorf("List after restart = %v, want empty", got)
	}
}

func TestScale(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.p.Deploy(ctx, deployment("a", withLabel(labelScaleMax, "4"))); err != nil {
		t.Fatal(err)
	}
	for _, n := range []uint64{3, 1, 0, 2} {
		if err := h.p.Scale(ctx, "a", "openfaas-fn", n); err != nil {
			t.Fatalf("Scale(%d) = %v", n, err)
		}
		st, _ := h.p.Status("a", "openfaas-fn")
		running := 0
		for _, id := range h.rt.ids() {
			if h.rt.pidOf(id) != 0 {
				running++
			}
		}
		if st.Replicas != n || st.AvailableReplicas != n || running != int(n) {
			t.Errorf("after Scale(%d): replicas %d/%d, tasks %d", n, st.AvailableReplicas, st.Replicas, running)
		}
	}
	if err := h.p.Scale(ctx, "a", "openfaas-fn", 5); !errors.Is(err, ErrInvalid) {
		t.Errorf("Scale above max = %v, want ErrInvalid", err)
	}
	if err := h.p.Scale(ctx, "b", "openfaas-fn", 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("Scale of missing = %v, want ErrNotFound", err)
	}
}

func TestCrashedReplicaRestarts(t *testing.T) {
	h := newHarness(t)
	if err := h.p.Deploy(context.Background(), deployment("a")); err != nil {
		t.Fatal(err)
	}
	id := h.rt.ids()[0]
	pid := h.rt.pidOf(id)
	h.rt.crash(id)
	eventually(t, "a new task", func() bool { p := h.rt.pidOf(id); return p != 0 && p != pid })
	if got, err := h.invoke(h.p, "a"); err != nil || got != id {
		t.Errorf("invoke after restart = %q, %v", got, err)
	}
}

func TestRestoreAdoptsRunningTasks(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.p.Deploy(ctx, deployment("a", withLabel(labelScaleMin, "2"))); err != nil {
		t.Fatal(err)
	}
	ids := h.rt.ids()
	pids := []uint32{h.rt.pidOf(ids[0]), h.rt.pidOf(ids[1])}
	tasksBefore := h.rt.newTasks
	// An orphan from a crash mid-deploy: no desired state names it.
	h.net.NewNetNS(h.p.netnsPath("ghost-1"))
	h.rt.Create(ctx, "openfaas-fn", containerSpecFor("ghost-1", "ghost", "1"))
	h.p.Shutdown(ctx)

	p2 := h.start()
	st, err := p2.Status("a", "openfaas-fn")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "both replicas ready", func() bool { st, _ = p2.Status("a", "openfaas-fn"); return st.AvailableReplicas == 2 })
	if h.rt.newTasks != tasksBefore {
		t.Errorf("restore created %d tasks, want none (adopt running ones)", h.rt.newTasks-tasksBefore)
	}
	for i, id := range ids {
		if got := h.rt.pidOf(id); got != pids[i] {
			t.Errorf("pid of %s = %d, want %d (untouched)", id, got, pids[i])
		}
	}
	eventually(t, "orphan removed", func() bool { return len(h.rt.ids()) == 2 })
	if _, n := h.net.inUse(); n != 2 {
		t.Errorf("%d netns in use, want 2", n)
	}
	if _, err := h.invoke(p2, "a"); err != nil {
		t.Errorf("invoke after restore = %v", err)
	}
}

func TestRestoreStartsMissingAndStopped(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.p.Deploy(ctx, deployment("a", withLabel(labelScaleMin, "2"))); err != nil {
		t.Fatal(err)
	}
	h.p.Shutdown(ctx)
	ids := h.rt.ids()
	// One replica's container vanished, the other's task died while funcd
	// was down.
	h.rt.Delete(ctx, "openfaas-fn", ids[0])
	h.rt.crash(ids[1])
	h.rt.StopTask(ctx, "openfaas-fn", ids[1], 0)

	p2 := h.start()
	eventually(t, "two ready replicas", func() bool {
		st, _ := p2.Status("a", "openfaas-fn")
		return st.AvailableReplicas == 2
	})
	if h.rt.pidOf(ids[1]) == 0 {
		t.Errorf("stopped replica %s was not restarted", ids[1])
	}
}

func TestScaleFromZero(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.p.Deploy(ctx, deployment("a", withLabel(labelScaleMin, "2"))); err != nil {
		t.Fatal(err)
	}
	if err := h.p.Scale(ctx, "a", "openfaas-fn", 0); err != nil {
		t.Fatal(err)
	}
	parked := h.rt.ids()
	if len(parked) != 2 {
		t.Fatalf("at zero %d containers, want 2 parked (scale.min)", len(parked))
	}
	for _, id := range parked {
		if pid := h.rt.pidOf(id); pid != 0 {
			t.Errorf("parked replica %s has a task (pid %d); nothing may run at zero", id, pid)
		}
	}
	tasksBefore := h.rt.newTasks
	// Requests arriving together share one wake-up and all succeed.
	errs := make(chan error, 5)
	for range 5 {
		go func() {
			_, err := h.invoke(h.p, "a")
			errs <- err
		}()
	}
	for range 5 {
		if err := <-errs; err != nil {
			t.Errorf("invoke during the cold start = %v", err)
		}
	}
	st, _ := h.p.Status("a", "openfaas-fn")
	if st.Replicas != 2 || len(h.rt.ids()) != 2 {
		t.Errorf("after waking: replicas %d, containers %d; want com.openfaas.scale.min = 2", st.Replicas, len(h.rt.ids()))
	}
	if got := h.rt.ids(); fmt.Sprint(got) != fmt.Sprint(parked) || h.rt.newTasks != tasksBefore+2 {
		t.Errorf("waking made containers %v (%d new tasks); want the parked %v reused with 2 new tasks", got, h.rt.newTasks-tasksBefore, parked)
	}
	// Deleting the function releases everything, parked or not.
	if err := h.p.Scale(ctx, "a", "openfaas-fn", 0); err != nil {
		t.Fatal(err)
	}
	if err := h.p.Delete(ctx, "a", "openfaas-fn"); err != nil {
		t.Fatal(err)
	}
	if ids := h.rt.ids(); len(ids) != 0 {
		t.Errorf("after delete containers remain: %v", ids)
	}
	if a, n := h.net.inUse(); a != 0 || n != 0 {
		t.Errorf("after delete %d addresses and %d netns remain", a, n)
	}
	if _, err := h.p.Resolve(ctx, "nope", "openfaas-fn"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve unknown = %v, want ErrNotFound", err)
	}
}

// TestPickAfterTwoBillionRequests: the rotating start point keeps picking
// a ready replica once its counter passes 2^31, where int is 32 bits (arm).
func TestPickAfterTwoBillionRequests(t *testing.T) {
	e := newEndpoints()
	rs := []*replica{{id: "a"}, {id: "b"}, {id: "c"}}
	e.set(rs)
	for _, next := range []uint32{math.MaxInt32 - 1, math.MaxInt32, math.MaxUint32 - 1, math.MaxUint32} {
		e.next.Store(next)
		got := e.pick()
		if got == nil {
			t.Fatalf("pick with the counter at %d = nil, want a replica", next)
		}
		got.inflight.Add(-1)
	}
	seen := map[string]bool{}
	e.next.Store(math.MaxInt32)
	for range 3 {
		seen[e.pick().id] = true
	}
	if len(seen) != 3 {
		t.Errorf("3 picks of idle replicas past 2^31 chose %v, want all three in turn", seen)
	}
}

func TestPickPrefersLeastLoaded(t *testing.T) {
	e := newEndpoints()
	a, b := &replica{id: "a"}, &replica{id: "b"}
	a.inflight.Store(4)
	e.set([]*replica{a, b})
	for i := range 4 {
		if got := e.pick(); got != b {
			t.Fatalf("pick %d = %s, want b (fewer in flight)", i, got.id)
		}
	}
	b.inflight.Add(1) // now a has 4 in flight, b 5
	if got := e.pick(); got != a {
		t.Errorf("pick = %s, want a", got.id)
	}
}

func TestUpdatedReplicas(t *testing.T) {
	tests := []struct {
		current uint64
		labels  map[string]string
		want    uint64
	}{
		{3, nil, 3},
		{1, map[string]string{labelScaleMin: "2"}, 2},
		{4, map[string]string{labelScaleMin: "2"}, 4},
		{5, map[string]string{labelScaleMax: "3"}, 3},
		{0, nil, 0},
	}
	for _, tt := range tests {
		if got := updatedReplicas(tt.current, tt.labels); got != tt.want {
			t.Errorf("updatedReplicas(%d, %v) = %d, want %d", tt.current, tt.labels, got, tt.want)
		}
	}
}

func TestMemoryBudget(t *testing.T) {
	h := newHarness(t)
	h.p.cfg.MemoryBudget = 300 << 20 // 300Mi
	ctx := context.Background()
	withMem := func(m string) func(*api.FunctionDeployment) {
		return func(d *api.FunctionDeployment) { d.Limits = &api.FunctionResources{Memory: m} }
	}
	if err := h.p.Deploy(ctx, deployment("a", withMem("100Mi"), withLabel(labelScaleMin, "2"))); err != nil {
		t.Fatalf("Deploy within budget = %v", err)
	}
	err := h.p.Deploy(ctx, deployment("b", withMem("128Mi")))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "128Mi") || !strings.Contains(err.Error(), "300Mi") {
		t.Fatalf("Deploy over budget = %v, want ErrInvalid with the numbers", err)
	}
	if ids := h.rt.ids(); len(ids) != 2 {
		t.Errorf("refused deploy left containers: %v", ids)
	}
	if err := h.p.Deploy(ctx, deployment("c")); err != nil {
		t.Errorf("Deploy without a memory limit = %v, want it to count nothing", err)
	}
	if err := h.p.Scale(ctx, "a", "openfaas-fn", 4); !errors.Is(err, ErrInvalid) {
		t.Errorf("Scale over budget = %v, want ErrInvalid", err)
	}
	if err := h.p.Scale(ctx, "a", "openfaas-fn", 3); err != nil {
		t.Errorf("Scale within budget = %v", err)
	}
	if err := h.p.Update(ctx, deployment("a", withMem("200Mi"))); !errors.Is(err, ErrInvalid) {
		t.Errorf("Update over budget = %v, want ErrInvalid", err)
	}
}

// TestMemoryBudgetLargeQuantities: limits and budgets past 2 and 4 GiB
// (past int on 32-bit arm) add up exactly, and limits of exabytes times
// a few replicas are refused instead of wrapping around to fit.
func TestMemoryBudgetLargeQuantities(t *testing.T) {
	h := newHarness(t)
	h.p.cfg.MemoryBudget = 8 << 30 // 8Gi
	ctx := context.Background()
	withMem := func(m string) func(*api.FunctionDeployment) {
		return func(d *api.FunctionDeployment) { d.Limits = &api.FunctionResources{Memory: m} }
	}
	if err := h.p.Deploy(ctx, deployment("big", withMem("3Gi"), withLabel(labelScaleMin, "2"))); err != nil {
		t.Fatalf("Deploy 2 × 3Gi within 8Gi = %v", err)
	}
	h.rt.mu.Lock()
	for id, c := range h.rt.containers {
		if c.spec.MemoryLimit != 3<<30 {
			t.Errorf("container %s memory limit = %d, want %d (3Gi)", id, c.spec.MemoryLimit, int64(3<<30))
		}
	}
	h.rt.mu.Unlock()
	err := h.p.Deploy(ctx, deployment("more", withMem("3Gi")))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "the other functions hold 6Gi") || !strings.Contains(err.Error(), "budget is 8Gi") {
		t.Errorf("Deploy 3Gi with 6Gi of 8Gi held = %v, want ErrInvalid with 6Gi and 8Gi", err)
	}
	if err := h.p.Deploy(ctx, deployment("more", withMem("2Gi"))); err != nil {
		t.Errorf("Deploy 2Gi with 6Gi of 8Gi held = %v", err)
	}
	for i, tt := range []struct{ mem, replicas string }{{"3Ei", "3"}, {"4611686018427387903", "2"}, {"2Ei", "4"}} {
		err := h.p.Deploy(ctx, deployment(fmt.Sprintf("huge%d", i), withMem(tt.mem), withLabel(labelScaleMin, tt.replicas)))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "memory budget exceeded") {
			t.Errorf("Deploy %s × %s = %v, want ErrInvalid: over the budget, not wrapped around", tt.replicas, tt.mem, err)
		}
	}
}

func TestMemoryTimes(t *testing.T) {
	tests := []struct {
		limit int64
		n     uint64
		want  int64
	}{
		{3 << 30, 2, 6 << 30},
		{0, 5, 0},
		{1 << 30, 0, 0},
		{3 << 60, 3, math.MaxInt64},
		{1, math.MaxUint64, math.MaxInt64},
		{math.MaxInt64, 1, math.MaxInt64},
	}
	for _, tt := range tests {
		if got := memoryTimes(tt.limit, tt.n); got != tt.want {
			t.Errorf("memoryTimes(%d, %d) = %d, want %d", tt.limit, tt.n, got, tt.want)
		}
	}
	if got := memoryPlus(math.MaxInt64-1, 2); got != math.MaxInt64 {
		t.Errorf("memoryPlus(MaxInt64-1, 2) = %d, want MaxInt64", got)
	}
}

// TestSubnetFull: deploy and scale answer ErrNoAddress when the subnet has
// no address left, and leave nothing behind.
func TestSubnetFull(t *testing.T) {
	h := newHarness(t)
	h.net.max = 2
	ctx := context.Background()
	if err := h.p.Deploy(ctx, deployment("a", withLabel(labelScaleMin, "2"))); err != nil {
		t.Fatal(err)
	}
	before := h.rt.ids()
	if err := h.p.Scale(ctx, "a", "openfaas-fn", 3); !errors.Is(err, ErrNoAddress) || !strings.Contains(err.Error(), "127.0.0.0/29") {
		t.Errorf("Scale past the subnet = %v, want ErrNoAddress naming the subnet", err)
	}
	if err := h.p.Deploy(ctx, deployment("b")); !errors.Is(err, ErrNoAddress) {
		t.Errorf("Deploy into a full subnet = %v, want ErrNoAddress", err)
	}
	if ids := h.rt.ids(); fmt.Sprint(ids) != fmt.Sprint(before) {
		t.Errorf("containers = %v, want %v: nothing left behind", ids, before)
	}
	if a, n := h.net.inUse(); a != 2 || n != 2 {
		t.Errorf("%d addresses and %d netns in use, want 2 and 2", a, n)
	}
	if st, _ := h.p.Status("a", "openfaas-fn"); st.Replicas != 2 || st.AvailableReplicas != 2 {
		t.Errorf("status of a = %d/%d, want 2/2 unchanged", st.AvailableReplicas, st.Replicas)
	}
	if _, err := h.p.Status("b", "openfaas-fn"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Status(b) = %v, want ErrNotFound", err)
	}
}

func TestResourcesAreValidated(t *testing.T) {
	h := newHarness(t)
	for _, r := range []api.FunctionResources{{Memory: "lots"}, {CPU: "fast"}, {Memory: "-1Mi"}} {
		r := r
		err := h.p.Deploy(context.Background(), deployment("x", func(d *api.FunctionDeployment) { d.Limits = &r }))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "limits.") {
			t.Errorf("Deploy with limits %+v = %v, want ErrInvalid naming the field", r, err)
		}
	}
	d := deployment("y", func(d *api.FunctionDeployment) {
		d.Limits = &api.FunctionResources{Memory: "64Mi", CPU: "250m"}
	})
	if err := h.p.Deploy(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	spec := h.rt.containers[h.rt.ids()[0]].spec
	if spec.MemoryLimit != 64<<20 || spec.CPUMillis != 250 {
		t.Errorf("container limits = %d bytes, %dm; want 64Mi and 250m", spec.MemoryLimit, spec.CPUMillis)
	}
}
