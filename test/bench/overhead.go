package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/namespaces"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/test/testenv"
)

// overheadResults are what each replica costs outside the function's own
// processes, as PSS (proportional set size: shared pages split between
// their users), averaged over n replicas of the bench function.
type overheadResults struct {
	n       int
	shims   int   // containerd shims serving the n replicas
	shim    int64 // shim PSS per replica, bytes
	drivers int   // log driver processes (`funcd --log-driver`) next to the replicas
	driver  int64 // their PSS per replica
	funcd   int64 // growth of funcd's PSS per replica (log collector and bookkeeping)
}

// perReplica is the whole cost of one replica outside the function.
func (o overheadResults) perReplica() int64 { return o.shim + o.driver + max(o.funcd, 0) }

// maxReplicaOverhead is issue 12's target for perReplica.
const maxReplicaOverhead = 3 << 20

// settle is the pause before reading memory after a scale, so that the
// new tasks' start-up allocations are done.
const settle = 2 * time.Second

// overheadFn is the function the overhead section deploys with n
// replicas (the bench function stays at one, for the other sections).
const overheadFn = "overhead"

// measureOverhead reads funcd's PSS, deploys overheadFn with n replicas,
// reads the PSS of funcd and of every process next to the replicas (their
// shims and any log drivers), and removes the function again.
func measureOverhead(ctx context.Context, env *testenv.Env, t *target, n int) (overheadResults, error) {
	res := overheadResults{n: n}
	time.Sleep(settle)
	before, err := pss(t.funcd.PID())
	if err != nil {
		return res, err
	}
	scale := strconv.Itoa(n)
	if err := t.deployWith(ctx, api.FunctionDeployment{Service: overheadFn, Image: t.image,
		Labels: map[string]string{"com.openfaas.scale.min": scale, "com.openfaas.scale.max": scale}}); err != nil {
		return res, err
	}
	defer func() { _ = t.client.Remove(ctx, overheadFn, "") }()
	// waitReplicas gives up after 30s; a hundred starts on two cores may
	// take longer.
	for try := 0; ; try++ {
		err := t.waitReplicas(ctx, overheadFn, uint64(n))
		if err == nil {
			break
		}
		if try == n/50 {
			return res, err
		}
	}
	time.Sleep(settle)
	after, err := pss(t.funcd.PID())
	if err != nil {
		return res, err
	}
	res.funcd = (after - before) / int64(n)

	nctx := namespaces.WithNamespace(ctx, api.DefaultNamespace)
	ctrs, err := env.Containerd.Client.Containers(nctx, fmt.Sprintf("labels.%q==%q", "io.funcd.function", overheadFn))
	if err != nil {
		return res, fmt.Errorf("list containers: %w", err)
	}
	shims := map[int]bool{}
	for _, c := range ctrs {
		task, err := c.Task(nctx, nil)
		if err != nil {
			return res, fmt.Errorf("task of %s: %w", c.ID(), err)
		}
		ppid, err := parentPID(int(task.Pid()))
		if err != nil {
			return res, err
		}
		shims[ppid] = true
	}
	var shimPSS, driverPSS int64
	for p := range shims {
		b, err := pss(p)
		if err != nil {
			return res, err
		}
		shimPSS += b
	}
	drivers, err := logDrivers(shims)
	if err != nil {
		return res, err
	}
	for _, p := range drivers {
		b, err := pss(p)
		if err != nil {
			return res, err
		}
		driverPSS += b
	}
	res.shims, res.drivers = len(shims), len(drivers)
	res.shim, res.driver = shimPSS/int64(len(ctrs)), driverPSS/int64(len(ctrs))
	return res, nil
}

// logDrivers returns the processes started by one of shims whose command
// line names the log driver flag.
func logDrivers(shims map[int]bool) ([]int, error) {
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, d := range dirs {
		p, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || !strings.Contains(string(cmd), "--log-driver") {
			continue
		}
		if pp, err := parentPID(p); err == nil && shims[pp] {
			out = append(out, p)
		}
	}
	return out, nil
}

// pss reads a process's proportional set size from smaps_rollup.
func pss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, fmt.Errorf("PSS of %d: %w", pid, err)
	}
	n, err := kBField(string(b), "Pss")
	if err != nil {
		return 0, fmt.Errorf("PSS of %d: %w", pid, err)
	}
	return n, nil
}

// reportOverhead prints the per-replica memory outside the function.
func reportOverhead(w io.Writer, o overheadResults) {
	fmt.Fprintf(w, "per-replica cost outside the function, PSS averaged over %d replicas of %s:\n", o.n, overheadFn)
	fmt.Fprintf(w, "  shim            %s  (%d shims)\n", mebibytes(o.shim), o.shims)
	fmt.Fprintf(w, "  log drivers     %s  (%d processes)\n", mebibytes(o.driver), o.drivers)
	fmt.Fprintf(w, "  funcd's growth  %s  (log collector and bookkeeping, for %d more replicas)\n", mebibytes(o.funcd), o.n)
	fmt.Fprintf(w, "  in all          %s  (want <= %s)\n\n", mebibytes(o.perReplica()), mebibytes(maxReplicaOverhead))
}

func mebibytes(b int64) string { return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20)) }
