package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/namespaces"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/client"
	"github.com/funcd/funcd/internal/imagebuild"
	"github.com/funcd/funcd/test/testenv"
)

// Where the benchmark's funcd lives: apart from the e2e tests (fdt*,
// 10.199.X.0/24) and a live install (funcd0, 10.62.0.0/16).
const (
	bridge = "fdbench0"
	fnName = "bench"
	// benchPath is testfn's static answer ("ok"): the function's own work
	// is then the same whether the gateway's headers reach it or not, as
	// for the static Go server of shared/reference/performance.md.
	benchPath = "/ok"
	imageTag  = "testfn:bench"
)

var subnet = netip.MustParsePrefix("10.198.250.0/24")

// config is what the flags set.
type config struct {
	base     string          // parent of the run directory
	warmup   time.Duration   // wrk run before each measured one
	duration time.Duration   // each measured wrk run
	rounds   int             // alternating direct/through runs per load, queue bursts per concurrency; the median is reported
	idle     time.Duration   // after the deploy, before the idle RSS
	cold     int             // cold starts through funcd, and of the floor
	bursts   int             // rounds of simultaneous cold starts
	only     map[string]bool // the sections to run; all when empty
	funcdEnv []string        // KEY=VALUE added to funcd's environment

	queueN, queueN1 int  // asynchronous invocations per burst at concurrency 32 and 1
	queueSamples    int  // timed single invocations, through HTTP and NATS
	queueFsync      bool // funcd's --queue-fsync

	overheadN     int    // replicas the overhead section measures
	freeze        int    // rounds of the freeze section
	goMemoryLimit string // funcd's --go-memory-limit; funcd's default when empty
	densityN      int    // functions the density section deploys
}

// sections are the parts of the benchmark -only picks from, in the order
// they run.
var sections = []string{"warm", "replicas", "overhead", "cold", "queue", "density", "freeze", "ui"}

// runs reports whether the section is to run.
func (c config) runs(section string) bool { return len(c.only) == 0 || c.only[section] }

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&c.base, "tmpdir", "/var/tmp", "where the run directory goes (a disk filesystem, not overlayfs)")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "warm-up before each measurement (whole seconds)")
	fs.DurationVar(&c.duration, "duration", 4*time.Second, "each measurement (whole seconds)")
	fs.IntVar(&c.rounds, "rounds", 3, "alternating direct/through runs per load, and queue bursts per concurrency; the run with the median req/s (completed/s) is reported")
	fs.DurationVar(&c.idle, "idle", 25*time.Second, "idle time after the deploy before reading funcd's RSS (funcd trims its memory once quiet for 10-20s)")
	fs.IntVar(&c.cold, "cold", 30, "cold starts through funcd, and as many of the containerd floor")
	fs.IntVar(&c.bursts, "bursts", 3, "rounds of "+strconv.Itoa(burstSize)+" simultaneous cold starts")
	only := fs.String("only", "", "comma-separated sections to run, of "+strings.Join(sections, ", ")+" (default all)")
	fs.IntVar(&c.queueN, "queue-n", 2000, "asynchronous invocations in the burst at worker concurrency "+strconv.Itoa(queueWorkers))
	fs.IntVar(&c.queueN1, "queue-n1", 500, "asynchronous invocations in the burst at worker concurrency 1")
	fs.IntVar(&c.queueSamples, "queue-samples", 200, "single asynchronous invocations timed, through HTTP and through a NATS publish each")
	fs.BoolVar(&c.queueFsync, "queue-fsync", true, "run funcd with --queue-fsync (false: without fsync)")
	fs.IntVar(&c.overheadN, "overhead-n", 50, "replicas of the bench function whose memory outside the function is measured")
	fs.IntVar(&c.freeze, "freeze", 20, "rounds of the freeze section: a wake through funcd, the freezer floor and containerd's resume, alternating")
	fs.Func("funcd-env", "KEY=VALUE added to funcd's environment, to compare settings such as GOMAXPROCS or GOGC (repeatable)", func(kv string) error {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return fmt.Errorf("want KEY=VALUE, got %q", kv)
		}
		c.funcdEnv = append(c.funcdEnv, kv)
		return nil
	})
	fs.StringVar(&c.goMemoryLimit, "go-memory-limit", "", "run funcd with --go-memory-limit (e.g. 0, 64Mi; default: funcd's)")
	fs.IntVar(&c.densityN, "density-n", 300, "functions the density section deploys (1000 for the full run)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.overheadN < 2 {
		return c, errors.New("-overhead-n must be at least 2")
	}
	if c.warmup < time.Second || c.duration < time.Second || c.rounds < 1 || c.cold < 1 || c.bursts < 1 {
		return c, errors.New("-warmup and -duration must be at least 1s, -rounds, -cold and -bursts at least 1")
	}
	if c.freeze < 1 {
		return c, errors.New("-freeze must be at least 1")
	}
	if c.densityN < 1 || c.densityN > 1500 {
		return c, errors.New("-density-n must be from 1 to 1500")
	}
	if c.queueN < 1 || c.queueN1 < 1 || c.queueSamples < 1 {
		return c, errors.New("-queue-n, -queue-n1 and -queue-samples must be at least 1")
	}
	if *only != "" {
		c.only = map[string]bool{}
		for _, s := range strings.Split(*only, ",") {
			s = strings.TrimSpace(s)
			if !slices.Contains(sections, s) {
				return c, fmt.Errorf("-only: unknown section %q, want some of %s", s, strings.Join(sections, ", "))
			}
			c.only[s] = true
		}
	}
	return c, nil
}

// run sets up the environment, deploys the function, measures, prints the
// report and removes everything again.
func run(ctx context.Context, args []string) (err error) {
	cfg, err := parseFlags(args)
	if err != nil {
		return err
	}
	if why := testenv.MissingPrerequisite(); why != "" {
		return errors.New(why)
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("needs wrk in PATH (scripts/deps.sh bench installs it)")
	}
	env := testenv.New(testenv.Options{
		Base:   cfg.base,
		Prefix: "funcd-bench-",
		Images: []testenv.Image{{Ref: imageTag, Pkg: "test/testfn", Config: imagebuild.Config{Entrypoint: "/testfn"}}},
		Log:    os.Stderr,
	})
	defer func() {
		if cerr := env.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("clean up: %w", cerr))
		}
	}()
	fmt.Fprintln(os.Stderr, "bench: setting up containerd, registry, images and funcd")
	if err := env.Setup(ctx); err != nil {
		return fmt.Errorf("set up: %w", err)
	}
	var funcdArgs []string
	var natsAddr string
	if cfg.runs("queue") {
		if funcdArgs, natsAddr, err = queueArgs(cfg); err != nil {
			return err
		}
	}
	if cfg.goMemoryLimit != "" {
		funcdArgs = append(funcdArgs, "--go-memory-limit", cfg.goMemoryLimit)
	}
	sub := subnet
	if cfg.runs("density") {
		sub = densitySubnet // parked replicas keep their addresses
	}
	t, err := deploy(ctx, env, sub, funcdArgs, cfg.funcdEnv)
	if t != nil {
		t.nats = natsAddr
		defer func() { err = errors.Join(err, t.undeploy(ctx)) }()
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: measuring for about %v\n", estimate(cfg))
	var m measurements
	if cfg.runs("warm") {
		if m, err = measure(ctx, cfg, t); err != nil {
			return err
		}
	}
	if cfg.runs("replicas") {
		if m.replicas, err = measureReplicas(ctx, cfg, t); err != nil {
			return err
		}
	}
	if cfg.runs("overhead") {
		if m.overhead, err = measureOverhead(ctx, env, t, cfg.overheadN); err != nil {
			return err
		}
	}
	if cfg.runs("cold") {
		if m.cold, err = measureCold(ctx, env, t, cfg.cold, cfg.bursts); err != nil {
			return err
		}
	}
	if cfg.runs("queue") {
		if m.queue, err = measureQueue(ctx, cfg, t, m.idleRSS); err != nil {
			return err
		}
	}
	if cfg.runs("freeze") {
		if m.freeze, err = measureFreeze(ctx, env, t, cfg.freeze); err != nil {
			return err
		}
	}
	if cfg.runs("density") {
		if m.density, err = measureDensity(ctx, cfg, env, t); err != nil {
			return err
		}
	}
	if cfg.runs("ui") {
		if m.ui, err = measureUI(ctx, t); err != nil {
			return err
		}
	}
	report(os.Stdout, cfg, t, m)
	if cfg.runs("queue") {
		return m.queue.lost()
	}
	return nil
}

// estimate is roughly how long the chosen sections take.
func estimate(cfg config) time.Duration {
	var d time.Duration
	if cfg.runs("warm") {
		d += cfg.idle + time.Duration(6*cfg.rounds)*(cfg.warmup+cfg.duration)
	}
	if cfg.runs("replicas") {
		d += time.Duration(2*cfg.rounds) * (cfg.warmup + cfg.duration)
	}
	if cfg.runs("overhead") {
		d += 2*settle + time.Duration(cfg.overheadN)*300*time.Millisecond
	}
	if cfg.runs("cold") {
		d += time.Duration(cfg.cold)*400*time.Millisecond + time.Duration(cfg.bursts)*2*time.Second
	}
	if cfg.runs("queue") {
		d += 10*time.Second + time.Duration(cfg.rounds)*(3*time.Second+cfg.warmup+cfg.duration) + time.Duration(2*cfg.queueSamples)*7*time.Millisecond + rssSettle
	}
	if cfg.runs("freeze") {
		d += time.Duration(cfg.freeze) * 2200 * time.Millisecond
	}
	if cfg.runs("density") {
		d += time.Duration(cfg.densityN)*400*time.Millisecond + time.Duration(4*cfg.rounds)*(cfg.warmup+cfg.duration) + densityCPU
	}
	if cfg.runs("ui") {
		d += uiFunctions*400*time.Millisecond + 10*time.Second
	}
	return d
}

// target is the deployed function and the two ways to reach it.
type target struct {
	funcd   *testenv.Funcd
	client  *client.Client
	image   string
	through string   // http://127.0.0.1:PORT/function/bench/ok
	direct  string   // http://IP:8080/ok
	fns     []string // every function deployed, removed by undeploy
	nats    string   // 127.0.0.1:PORT, funcd's --nats-listen; empty without the queue section
}

// deploy starts funcd on the benchmark's network, with args added to its
// flags and envs to its environment, and deploys the function with one replica. A non-nil target is
// returned whenever funcd started.
func deploy(ctx context.Context, env *testenv.Env, subnet netip.Prefix, args, envs []string) (*target, error) {
	if _, err := os.Stat(filepath.Join("/sys/class/net", bridge)); err == nil {
		return nil, fmt.Errorf("bridge %s exists: is another benchmark running?", bridge)
	}
	if overlaps, err := testenv.OverlapsHost(subnet); err != nil || overlaps {
		return nil, fmt.Errorf("subnet %s is in use on this host (%v)", subnet, err)
	}
	f, err := env.StartFuncd(ctx, testenv.FuncdOptions{Bridge: bridge, Subnet: subnet, Args: args, Env: envs})
	if err != nil {
		return nil, err
	}
	t := &target{funcd: f, image: env.Registry.Ref(imageTag), through: f.URL + "/function/" + fnName + benchPath}
	if t.client, err = f.Client(); err != nil {
		return t, err
	}
	if err := t.deployFn(ctx, fnName); err != nil {
		return t, err
	}
	return t, t.resolveDirect(ctx, env)
}

// resolveDirect points t.direct at the function's one replica and waits
// until it and t.through answer.
func (t *target) resolveDirect(ctx context.Context, env *testenv.Env) error {
	ip, err := replicaIP(ctx, env)
	if err != nil {
		return err
	}
	direct := "http://" + ip + ":8080" + benchPath
	if t.direct != "" && t.direct != direct {
		fmt.Fprintf(os.Stderr, "bench: the function's replica is now at %s\n", ip)
	}
	t.direct = direct
	for _, url := range []string{t.direct, t.through} {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := testenv.Poll(wctx, func() error { return testenv.HTTPGetOK(wctx, url) })
		cancel()
		if err != nil {
			t.diagnose(ip)
			return fmt.Errorf("function not answering: %w", err)
		}
	}
	return nil
}

// diagnose prints what the host knows of the replica at ip: its address
// record, neighbour entry, interfaces and funcd's complaints.
func (t *target) diagnose(ip string) {
	state := t.funcd.StateDir
	script := `ip=$1 state=$2 log=$3 br=$4
echo "== address record"; cat "$state"/cni/ipam/*/"$ip"; echo; ls "$state"/cni/ipam/*/ | wc -l
echo "== neighbour"; ip neigh show "$ip"
echo "== bridge ports"; bridge link | grep -c "master $br"
id=$(cat "$state"/cni/ipam/*/"$ip" | head -1)
echo "== replica $id"; nsenter --net="$state/netns/$id" ip -br addr; nsenter --net="$state/netns/$id" ip -br link
echo "== funcd's log about it"; grep -e "$id" -e "level=ERROR" -e "level=WARN" "$log" | tail -20
dmesg | tail -5`
	cmd := exec.Command("sh", "-c", script, "sh", ip, state, t.funcd.LogPath, bridge)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	_ = cmd.Run()
}

// replicaIP returns the io.funcd.ip label of the function's one container.
func replicaIP(ctx context.Context, env *testenv.Env) (string, error) {
	ctx = namespaces.WithNamespace(ctx, api.DefaultNamespace)
	ctrs, err := env.Containerd.Client.Containers(ctx, fmt.Sprintf("labels.%q==%q", "io.funcd.function", fnName))
	if err != nil {
		return "", fmt.Errorf("list containers: %w", err)
	}
	if len(ctrs) != 1 {
		return "", fmt.Errorf("%d containers labelled io.funcd.function=%s, want 1", len(ctrs), fnName)
	}
	labels, err := ctrs[0].Labels(ctx)
	if err != nil {
		return "", fmt.Errorf("labels of %s: %w", ctrs[0].ID(), err)
	}
	ip, err := netip.ParseAddr(labels["io.funcd.ip"])
	if err != nil {
		return "", fmt.Errorf("container %s: label io.funcd.ip: %w", ctrs[0].ID(), err)
	}
	return ip.String(), nil
}

// undeploy removes the functions through the API and stops funcd
// (SIGTERM); what it leaves, Env.Close removes.
func (t *target) undeploy(ctx context.Context) error {
	// About 6 removals a second with a thousand functions: the budget
	// grows with them.
	budget := 30*time.Second + time.Duration(len(t.fns))*time.Second/2
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), budget)
	defer cancel()
	var errs []error
	for _, name := range t.fns {
		if err := t.client.Remove(ctx, name, ""); err != nil && !errors.Is(err, client.ErrNotFound) {
			errs = append(errs, fmt.Errorf("remove %s: %w", name, err))
		}
	}
	errs = append(errs, t.funcd.Stop())
	return errors.Join(errs...)
}

// measurements are the benchmark's figures.
type measurements struct {
	direct1, through1, direct32, through32 result
	floor1, floor32                        result  // the splice relay (splice.go) in front of the replica
	rounds32                               []round // req/s of each alternating round at 32 connections
	idleRSS, loadRSS                       memory
	warmCPU                                time.Duration // funcd's CPU time over the measured through runs
	warmRequests                           int           // requests of those runs
	replicas                               replicaResults
	overhead                               overheadResults
	cold                                   coldResults
	queue                                  queueResults
	freeze                                 freezeResults
	density                                densityResults
	ui                                     uiResults
}

// measure reads funcd's idle RSS, runs the loads (each after a warm-up)
// direct, through the floor relay and through funcd, and reads the RSS
// again.
func measure(ctx context.Context, cfg config, t *target) (m measurements, err error) {
	if m.idleRSS, err = t.idleMemory(ctx, cfg.idle); err != nil {
		return m, err
	}
	floor, err := startSpliceRelay(strings.TrimPrefix(strings.TrimSuffix(t.direct, benchPath), "http://"))
	if err != nil {
		return m, err
	}
	defer func() { err = errors.Join(err, floor.Close()) }()
	floorURL := "http://" + floor.addr() + benchPath
	one := load{threads: 1, conns: 1}
	many := load{threads: 2, conns: 32}
	// Direct, floor and through runs alternate, and each figure is the
	// median of its rounds: the machine's own drift then weighs on all
	// alike.
	for _, l := range []struct {
		load                   load
		direct, floor, through *result
	}{{one, &m.direct1, &m.floor1, &m.through1}, {many, &m.direct32, &m.floor32, &m.through32}} {
		var direct, floors, through []result
		for range cfg.rounds {
			d, err := warmRun(ctx, cfg, t.direct, l.load)
			if err != nil {
				return m, err
			}
			f, err := warmRun(ctx, cfg, floorURL, l.load)
			if err != nil {
				return m, err
			}
			th, cpu, err := t.throughRun(ctx, cfg, l.load)
			if err != nil {
				return m, err
			}
			m.warmCPU += cpu
			m.warmRequests += th.requests
			direct, floors, through = append(direct, d), append(floors, f), append(through, th)
			if l.load == many {
				m.rounds32 = append(m.rounds32, round{d.rps, f.rps, th.rps})
			}
		}
		*l.direct, *l.floor, *l.through = median(direct), median(floors), median(through)
	}
	if m.loadRSS, err = readMemory(t.funcd.PID()); err != nil {
		return m, err
	}
	return m, nil
}

// throughRun is warmRun through funcd, and funcd's CPU time over the
// measured run.
func (t *target) throughRun(ctx context.Context, cfg config, l load) (result, time.Duration, error) {
	l.duration = cfg.warmup
	if _, err := runWrk(ctx, t.through, l); err != nil {
		return result{}, 0, err
	}
	cpu0, err := cpuTime(t.funcd.PID())
	if err != nil {
		return result{}, 0, err
	}
	l.duration = cfg.duration
	r, err := runWrk(ctx, t.through, l)
	if err != nil {
		return r, 0, err
	}
	cpu1, err := cpuTime(t.funcd.PID())
	return r, cpu1 - cpu0, err
}

// warmRun runs wrk for the warm-up, then for the measurement.
func warmRun(ctx context.Context, cfg config, url string, l load) (result, error) {
	l.duration = cfg.warmup
	if _, err := runWrk(ctx, url, l); err != nil {
		return result{}, err
	}
	l.duration = cfg.duration
	return runWrk(ctx, url, l)
}

// median returns the run with the median throughput.
func median(rs []result) result {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b result) int { return cmp.Compare(a.rps, b.rps) })
	return s[len(s)/2]
}
