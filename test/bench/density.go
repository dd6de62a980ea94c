package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/namespaces"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/test/testenv"
)

// The density section (issue 12 §2) deploys -density-n functions at scale
// to zero, wakes up to densityWake of them, and measures what many
// functions cost: deploy rate early and late, funcd's RSS, memory and CPU
// of the idle replicas' shims and log capture, GET /system/functions, the
// warm path with and without the idle replicas, funcd's start-up with all
// of them recorded, and removing them all, checking nothing is left.
//
// It needs more addresses than the other sections' /24 (parked replicas
// keep theirs), so when it runs, funcd gets densitySubnet.
var densitySubnet = netip.MustParsePrefix("10.198.232.0/21")

const (
	densityWake   = 200 // functions woken after the deploys
	densityWindow = 50  // deploys timed at the start and at the end
	densityCPU    = 10 * time.Second
	densityPrefix = "dense-"
)

// The targets.
const (
	maxDeployDrift   = 0.15            // last densityWindow deploys/s within ±15 % of the first
	maxReplicaPSS    = 3 << 20         // shim + log capture per replica, bytes
	maxIdleCPU       = 0.01            // idle replicas' CPU, of one core
	minIdleWarmRatio = 0.95            // warm path with idle replicas / without
	maxRestart       = 5 * time.Second // start to ready with all functions recorded
)

type densityResults struct {
	n                     int
	first, last           float64 // deploys/s
	rss                   int64   // funcd VmRSS after the deploys, bytes
	list                  summary // GET /system/functions
	woken                 int
	wake                  summary
	replicas              int   // running replicas found after waking
	shimPSS, logPSS       int64 // per replica, bytes
	logProcs              int   // log capture processes found
	cpu                   float64
	warmBefore, warmAfter float64 // through/direct at 32 connections, without and with the idle replicas
	restart               time.Duration
	remove                time.Duration
	left                  []string
}

// measureDensity runs the section against t's funcd.
func measureDensity(ctx context.Context, cfg config, env *testenv.Env, t *target) (densityResults, error) {
	d := densityResults{n: cfg.densityN}
	names := make([]string, cfg.densityN)
	took := make([]time.Duration, cfg.densityN)
	for i := range names {
		names[i] = fmt.Sprintf("%s%04d", densityPrefix, i+1)
		spec := api.FunctionDeployment{Service: names[i], Image: t.image, Labels: map[string]string{
			"com.openfaas.scale.zero": "true", "com.openfaas.scale.zero-duration": "1h"}}
		t0 := time.Now()
		if err := t.deployWith(ctx, spec); err != nil {
			return d, err
		}
		took[i] = time.Since(t0)
		// Parked at once (not timed): only the woken ones run later.
		if err := t.client.Scale(ctx, names[i], "", 0); err != nil {
			return d, err
		}
		if (i+1)%100 == 0 {
			fmt.Fprintf(os.Stderr, "bench: density: %d deployed\n", i+1)
		}
	}
	w := min(densityWindow, cfg.densityN)
	d.first, d.last = deployRate(took[:w]), deployRate(took[len(took)-w:])
	mem, err := readMemory(t.funcd.PID())
	if err != nil {
		return d, err
	}
	d.rss = mem.rss
	if d.list, err = listLatency(ctx, t); err != nil {
		return d, err
	}
	// The bench function's replica is looked up again: the sections
	// before may have replaced it, and with a thousand parked replicas
	// holding addresses the allocator wraps around the subnet and hands
	// its old address to another function.
	if err := t.resolveDirect(ctx, env); err != nil {
		return d, err
	}
	if d.warmBefore, err = warmRatio(ctx, cfg, t); err != nil {
		return d, err
	}
	d.woken = min(densityWake, cfg.densityN)
	if d.wake, err = wake(ctx, t, names[:d.woken]); err != nil {
		return d, err
	}
	procs, err := replicaProcs(ctx, env)
	if err != nil {
		return d, err
	}
	d.replicas, d.logProcs = len(procs.shims), len(procs.logs)
	d.shimPSS, d.logPSS = perReplica(sumPSS(procs.shims), d.replicas), perReplica(sumPSS(procs.logs), d.replicas)
	if d.cpu, err = cpuShare(ctx, append(procs.shims, procs.logs...), densityCPU); err != nil {
		return d, err
	}
	if d.warmAfter, err = warmRatio(ctx, cfg, t); err != nil {
		return d, err
	}
	if err := t.funcd.Stop(); err != nil {
		return d, err
	}
	t0 := time.Now()
	if err := t.funcd.Restart(ctx); err != nil {
		return d, err
	}
	d.restart = time.Since(t0)
	t0 = time.Now()
	for _, name := range names {
		if err := t.client.Remove(ctx, name, ""); err != nil {
			return d, fmt.Errorf("remove %s: %w", name, err)
		}
	}
	d.remove = time.Since(t0)
	t.fns = slices.DeleteFunc(t.fns, func(n string) bool { return strings.HasPrefix(n, densityPrefix) })
	d.left, err = densityLeft(ctx, env, t)
	return d, err
}

// deployRate is deploys per second over took.
func deployRate(took []time.Duration) float64 {
	var sum time.Duration
	for _, d := range took {
		sum += d
	}
	if sum <= 0 {
		return 0
	}
	return float64(len(took)) / sum.Seconds()
}

func perReplica(total int64, n int) int64 {
	if n == 0 {
		return 0
	}
	return total / int64(n)
}

// listLatency times GET /system/functions a few times.
func listLatency(ctx context.Context, t *target) (summary, error) {
	var ds []time.Duration
	for range 7 {
		t0 := time.Now()
		if _, err := t.client.ListFunctions(ctx, ""); err != nil {
			return summary{}, err
		}
		ds = append(ds, time.Since(t0))
	}
	return summarize(ds), nil
}

// warmRatio alternates direct and through runs at 32 connections and
// returns the median through req/s over the median direct req/s.
func warmRatio(ctx context.Context, cfg config, t *target) (float64, error) {
	var direct, through []result
	l := load{threads: 2, conns: 32}
	for range cfg.rounds {
		d, err := warmRun(ctx, cfg, t.direct, l)
		if err != nil {
			return 0, err
		}
		th, err := warmRun(ctx, cfg, t.through, l)
		if err != nil {
			return 0, err
		}
		direct, through = append(direct, d), append(through, th)
	}
	if md := median(direct).rps; md > 0 {
		return median(through).rps / md, nil
	}
	return 0, nil
}

// wake invokes each of names once through funcd, four at a time, and
// returns how long each took to its 200.
func wake(ctx context.Context, t *target, names []string) (summary, error) {
	hc := &http.Client{Timeout: time.Minute}
	base := strings.TrimSuffix(t.through, "/function/"+fnName+benchPath)
	took := make([]time.Duration, len(names))
	errs := make([]error, len(names))
	next := make(chan int)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t0 := time.Now()
				errs[i] = get(ctx, hc, base+"/function/"+names[i]+benchPath)
				took[i] = time.Since(t0)
			}
		}()
	}
	for i := range names {
		next <- i
	}
	close(next)
	wg.Wait()
	return summarize(took), errors.Join(errs...)
}

// procs are the host processes of the density functions' running replicas.
type procs struct{ shims, logs []int }

// replicaProcs finds, for every running task of a density function, its
// shim (the task's parent) and the shim's other children (log capture).
func replicaProcs(ctx context.Context, env *testenv.Env) (procs, error) {
	var p procs
	ctx = namespaces.WithNamespace(ctx, api.DefaultNamespace)
	ctrs, err := env.Containerd.Client.Containers(ctx)
	if err != nil {
		return p, fmt.Errorf("list containers: %w", err)
	}
	for _, c := range ctrs {
		labels, err := c.Labels(ctx)
		if err != nil || !strings.HasPrefix(labels["io.funcd.function"], densityPrefix) {
			continue
		}
		task, err := c.Task(ctx, nil)
		if err != nil {
			continue // parked
		}
		pid := int(task.Pid())
		shim, err := parentPID(pid)
		if err != nil {
			return p, err
		}
		p.shims = append(p.shims, shim)
		for _, child := range childPIDs(shim) {
			if child != pid {
				p.logs = append(p.logs, child)
			}
		}
	}
	return p, nil
}

// parentPID reads the parent of pid from /proc/PID/stat.
func parentPID(pid int) (int, error) {
	f, err := procStat(pid)
	if err != nil || len(f) < 2 {
		return 0, fmt.Errorf("parent of %d: %v", pid, err)
	}
	return strconv.Atoi(f[1])
}

// procStat returns the fields of /proc/PID/stat after the command name.
func procStat(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	f, ok := statFields(string(b))
	if !ok {
		return nil, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	return f, nil
}

// statFields returns the fields of the text of /proc/PID/stat after the
// command name (field 2, in parentheses, which may hold anything): state,
// ppid, and on.
func statFields(stat string) ([]string, bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return nil, false
	}
	return strings.Fields(stat[i+1:]), true
}

// childPIDs lists pid's children from every thread's children file.
func childPIDs(pid int) []int {
	var out []int
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, s := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(s); err == nil && !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

// sumPSS adds up Pss of /proc/PID/smaps_rollup over pids, in bytes.
func sumPSS(pids []int) int64 {
	var sum int64
	for _, pid := range pids {
		if n, err := pss(pid); err == nil {
			sum += n
		}
	}
	return sum
}

// cpuTicks adds up utime and stime of pids, in clock ticks.
func cpuTicks(pids []int) int64 {
	var sum int64
	for _, pid := range pids {
		f, err := procStat(pid)
		if err != nil || len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64) // field 14 of stat
		s, _ := strconv.ParseInt(f[12], 10, 64)
		sum += u + s
	}
	return sum
}

// clkTck is USER_HZ, 100 on every Linux architecture Go supports.
const clkTck = 100

// cpuShare is the CPU pids use over d, as a share of one core.
func cpuShare(ctx context.Context, pids []int, d time.Duration) (float64, error) {
	before := cpuTicks(pids)
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(d):
	}
	return float64(cpuTicks(pids)-before) / clkTck / time.Since(t0).Seconds(), nil
}

// densityLeft lists what the removed functions left: containers and
// tasks, network namespaces and addresses beyond the bench function's,
// and iptables rules naming the subnet (or jumping from it to a
// per-replica chain) other than the masquerade rule and the firewall
// plugin's two per remaining replica.
func densityLeft(ctx context.Context, env *testenv.Env, t *target) ([]string, error) {
	var left []string
	cctx := namespaces.WithNamespace(ctx, api.DefaultNamespace)
	ctrs, err := env.Containerd.Client.Containers(cctx)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	for _, c := range ctrs {
		labels, _ := c.Labels(cctx)
		if strings.HasPrefix(labels["io.funcd.function"], densityPrefix) {
			left = append(left, "container "+c.ID())
		}
	}
	tasks, err := env.Containerd.Client.TaskService().List(cctx, nil)
	if err == nil && len(tasks.Tasks) > len(ctrs)-len(left) {
		left = append(left, fmt.Sprintf("%d tasks for %d containers", len(tasks.Tasks), len(ctrs)))
	}
	count := func(dir string, skip func(string) bool) int {
		es, _ := os.ReadDir(dir)
		n := 0
		for _, e := range es {
			if !skip(e.Name()) {
				n++
			}
		}
		return n
	}
	keep := len(t.fns) // the other sections' functions, one replica each
	if n := count(filepath.Join(t.funcd.StateDir, "netns"), func(string) bool { return false }); n > keep {
		left = append(left, fmt.Sprintf("%d network namespaces, want %d", n, keep))
	}
	notAddr := func(n string) bool { return n == "lock" || strings.HasPrefix(n, "last_reserved_ip") }
	if n := count(filepath.Join(t.funcd.StateDir, "cni", "ipam", "funcd"), notAddr); n > keep {
		left = append(left, fmt.Sprintf("%d addresses in use, want %d", n, keep))
	}
	for _, table := range []string{"nat", "filter"} {
		_, rules, err := testenv.IptablesSave(ctx, table)
		if err != nil {
			return nil, err
		}
		named := 0
		for _, r := range rules {
			if r.Names(bridge, densitySubnet) && r.Target() != "MASQUERADE" {
				named++
			}
		}
		// The firewall plugin keeps two rules per replica in filter.
		if want := map[string]int{"nat": 0, "filter": 2 * keep}[table]; named > want {
			left = append(left, fmt.Sprintf("%d %s rules naming %s or %s, want %d", named, table, bridge, densitySubnet, want))
		}
	}
	return left, nil
}

// reportDensity prints the section's figures.
func reportDensity(w io.Writer, d densityResults) {
	fmt.Fprintf(w, "density: %d functions at scale to zero (deployed, then parked), %d woken\n", d.n, d.woken)
	fmt.Fprintf(w, "  deploys/s: first %d %.1f, last %d %.1f (last/first %.2f)\n", min(densityWindow, d.n), d.first, min(densityWindow, d.n), d.last, d.last/d.first)
	fmt.Fprintf(w, "  funcd RSS after the deploys: %s; GET /system/functions p50 %s (max %s)\n", megabytes(d.rss), millis(d.list.p50), millis(d.list.max))
	fmt.Fprintf(w, "  wake through funcd: p50 %s, max %s\n", millis(d.wake.p50), millis(d.wake.max))
	fmt.Fprintf(w, "  %d running replicas: PSS per replica shim %s + log capture %s (%d processes); CPU of shims and log capture over %v: %.2f%% of a core\n",
		d.replicas, mebibytes(d.shimPSS), mebibytes(d.logPSS), d.logProcs, densityCPU, 100*d.cpu)
	fmt.Fprintf(w, "  warm path through/direct at 32 conns: %.1f%% without idle replicas, %.1f%% with %d\n", 100*d.warmBefore, 100*d.warmAfter, d.replicas)
	fmt.Fprintf(w, "  restart with %d functions recorded, start to ready: %s\n", d.n+1, millis(d.restart))
	fmt.Fprintf(w, "  remove all: %s (%.1f/s); left: %s\n\n", d.remove.Round(time.Millisecond), float64(d.n)/d.remove.Seconds(), orNothing(d.left))
}

func orNothing(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, "; ")
}
