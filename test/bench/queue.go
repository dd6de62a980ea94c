package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/client"
	"github.com/funcd/funcd/test/testenv"
)

// The queue section's functions (all the bench image), funcd's worker
// pool and the NATS subject of the trigger.
const (
	queue1Name   = "queue1"  // label com.openfaas.queue.max-inflight=1
	queue32Name  = "queue32" // no label: the pool's queueWorkers
	topicName    = "queuetopic"
	benchTopic   = "bench.latency"
	queueWorkers = 32 // --queue-workers, the default, passed explicitly
	asyncClients = 32 // goroutines sending the POSTs
	natsUser     = "funcd"
	latencyPath  = "/latency"
	// latencyGap is the pause between two timed invocations.
	latencyGap = 5 * time.Millisecond
	// drainTimeout bounds the wait for the queue to empty, and
	// collectTimeout the wait for the last timed invocation.
	drainTimeout   = 2 * time.Minute
	collectTimeout = 30 * time.Second
	// subscribeTimeout bounds the wait for the trigger to subscribe.
	subscribeTimeout = 15 * time.Second
)

// queueArgs are the flags the bench's funcd gets for the queue section:
// the worker pool stated explicitly, fsync as asked, and a NATS listener
// on a free port for the publisher.
func queueArgs(cfg config) (args []string, natsAddr string, err error) {
	port, err := testenv.FreePort()
	if err != nil {
		return nil, "", err
	}
	natsAddr = "127.0.0.1:" + strconv.Itoa(port)
	return []string{
		"--nats-listen", natsAddr,
		"--queue-workers", strconv.Itoa(queueWorkers),
		"--queue-fsync=" + strconv.FormatBool(cfg.queueFsync),
	}, natsAddr, nil
}

// queueResults are the figures of the queue of asynchronous invocations.
type queueResults struct {
	one, many   []throughput // worker concurrency 1 and queueWorkers, a burst per round
	sync        []result     // queue32 invoked synchronously at asyncClients connections, a run per round
	async, nats latency
	// idleRSS is funcd's memory before the queue functions are deployed
	// (read here only when the warm section did not run), burstRSS right
	// after the last burst drained, settledRSS rssSettle after that.
	idleRSS, burstRSS, settledRSS memory
	burstCPU                      time.Duration // funcd's CPU time over the timed bursts
}

// invocations is how many queued invocations the timed bursts made.
func (q queueResults) invocations() int {
	n := 0
	for _, r := range append(slices.Clone(q.one), q.many...) {
		n += r.n
	}
	return n
}

// rssSettle is how long after the last burst the settled RSS is read: the
// target is to be back under maxSettledRSS within a minute after load.
const rssSettle = time.Minute

// throughput is one burst of n asynchronous POSTs to one function.
type throughput struct {
	name      string
	n         int
	accepted  time.Duration // from the first POST to the last 202
	completed time.Duration // from the first POST to an empty queue
	codes     map[string]float64
	// mismatch says how funcd's count of attempts differs from n, if it does.
	mismatch string
}

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func (r throughput) acceptedRate() float64  { return rate(r.n, r.accepted) }
func (r throughput) completedRate() float64 { return rate(r.n, r.completed) }

// medianBurst returns the burst with the median completed/s, and the
// lowest and highest completed/s; the zero burst for none.
func medianBurst(rs []throughput) (med throughput, lo, hi float64) {
	if len(rs) == 0 {
		return throughput{}, 0, 0
	}
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b throughput) int { return cmp.Compare(a.completedRate(), b.completedRate()) })
	return s[len(s)/2], s[0].completedRate(), s[len(s)-1].completedRate()
}

// latency is the time from sending an invocation to the function seeing
// it, or why it was not measured.
type latency struct {
	sent int
	s    summary
	na   string
}

// measureQueue deploys the queue functions, runs a burst against each
// (after an untimed warm-up) in each of cfg.rounds rounds, then times
// single asynchronous invocations through HTTP and through a NATS publish.
func measureQueue(ctx context.Context, cfg config, t *target, idle memory) (queueResults, error) {
	res := queueResults{idleRSS: idle}
	if res.idleRSS.rss == 0 {
		var err error
		if res.idleRSS, err = t.idleMemory(ctx, cfg.idle); err != nil {
			return res, err
		}
	}
	if err := t.deployWith(ctx, api.FunctionDeployment{Service: queue1Name, Image: t.image,
		Labels: map[string]string{api.LabelQueueMaxInflight: "1"}}); err != nil {
		return res, err
	}
	if err := t.deployFn(ctx, queue32Name); err != nil {
		return res, err
	}
	hc := &http.Client{
		Transport: &http.Transport{MaxIdleConns: 2 * asyncClients, MaxIdleConnsPerHost: 2 * asyncClients},
		Timeout:   30 * time.Second,
	}
	defer hc.CloseIdleConnections()
	ac := client.New(t.funcd.URL, client.WithHTTPClient(hc))
	bursts := []struct {
		name string
		n    int
		out  *[]throughput
	}{{queue1Name, cfg.queueN1, &res.one}, {queue32Name, cfg.queueN, &res.many}}
	for _, b := range bursts {
		if _, err := t.burstAsync(ctx, ac, b.name, asyncClients); err != nil {
			return res, fmt.Errorf("warm-up: %w", err)
		}
	}
	// The synchronous throughput of queue32, what its completed/s is
	// held against, alternates with the bursts.
	syncURL := t.funcd.URL + "/function/" + queue32Name + benchPath
	syncLoad := load{threads: 2, conns: asyncClients}
	for range cfg.rounds {
		for _, b := range bursts {
			cpu0, err := cpuTime(t.funcd.PID())
			if err != nil {
				return res, err
			}
			r, err := t.burstAsync(ctx, ac, b.name, b.n)
			if err != nil {
				return res, err
			}
			cpu1, err := cpuTime(t.funcd.PID())
			if err != nil {
				return res, err
			}
			res.burstCPU += cpu1 - cpu0
			*b.out = append(*b.out, r)
		}
		r, err := warmRun(ctx, cfg, syncURL, syncLoad)
		if err != nil {
			return res, fmt.Errorf("synchronous run of %s: %w", queue32Name, err)
		}
		res.sync = append(res.sync, r)
	}
	drained := time.Now()
	var err error
	if res.burstRSS, err = readMemory(t.funcd.PID()); err != nil {
		return res, err
	}
	if res.async, err = t.asyncLatency(ctx, hc, ac, queue32Name, cfg.queueSamples); err != nil {
		return res, err
	}
	if res.nats, err = t.natsLatency(ctx, hc, cfg.queueSamples); err != nil {
		return res, err
	}
	// The single invocations above are light; what follows is idle.
	hc.CloseIdleConnections()
	select {
	case <-ctx.Done():
		return res, ctx.Err()
	case <-time.After(time.Until(drained.Add(rssSettle))):
	}
	if res.settledRSS, err = readMemory(t.funcd.PID()); err != nil {
		return res, err
	}
	return res, nil
}

// burstAsync sends n POST /async-function/NAME/ok from asyncClients
// goroutines, then waits for the queue to empty and for funcd's count of
// the function's attempts to grow by n.
func (t *target) burstAsync(ctx context.Context, ac *client.Client, name string, n int) (throughput, error) {
	r := throughput{name: name, n: n}
	before, err := t.asyncAttempts(ctx, name)
	if err != nil {
		return r, err
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, asyncClients)
	t0 := time.Now()
	for i := range asyncClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if _, err := ac.InvokeAsync(ctx, name, "", benchPath, nil, nil); err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	r.accepted = time.Since(t0)
	if err := errors.Join(errs...); err != nil {
		return r, err
	}
	if err := t.waitQueueEmpty(ctx); err != nil {
		return r, err
	}
	r.completed = time.Since(t0)
	// The last attempt is counted just before its message is acknowledged;
	// give the counter a moment to catch up with the queue.
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var after map[string]float64
	_ = testenv.Poll(wctx, func() error {
		if after, err = t.asyncAttempts(wctx, name); err != nil {
			return err
		}
		if total(after)-total(before) < float64(n) {
			return errors.New("not yet")
		}
		return nil
	})
	if after == nil {
		return r, err
	}
	r.codes = map[string]float64{}
	for code, v := range after {
		if d := v - before[code]; d != 0 {
			r.codes[code] = d
		}
	}
	if ok := r.codes["200"]; ok != float64(n) || total(r.codes) != float64(n) {
		r.mismatch = fmt.Sprintf("%d accepted, funcd counted these attempts by status: %v", n, r.codes)
	}
	return r, nil
}

func total(m map[string]float64) float64 {
	var s float64
	for _, v := range m {
		s += v
	}
	return s
}

// waitQueueEmpty polls the queue's stats every 10ms until nothing waits,
// runs or waits for another attempt.
func (t *target) waitQueueEmpty(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, drainTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := t.client.QueueStats(ctx)
		if err == nil && st.Depth+st.InFlight+st.Retrying == 0 {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("depth %d, in flight %d, retrying %d", st.Depth, st.InFlight, st.Retrying)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("queue not empty after %v: %w", drainTimeout, err)
		case <-tick.C:
		}
	}
}

// asyncAttempts reads funcd's funcd_async_invocations_total for the
// function, by status code.
func (t *target) asyncAttempts(ctx context.Context, name string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.funcd.URL+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil || res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read metrics: %s %v", res.Status, err)
	}
	return countsBy(string(body), "funcd_async_invocations_total", "function_name", name+"."+api.DefaultNamespace, "code"), nil
}

// asyncLatency sends n POST /async-function/NAME/latency one at a time,
// latencyGap apart, each with its send time as the body, and reads what
// the function recorded.
func (t *target) asyncLatency(ctx context.Context, hc *http.Client, ac *client.Client, name string, n int) (latency, error) {
	if _, err := t.latencies(ctx, hc, name); err != nil { // forget any earlier ones
		return latency{}, err
	}
	for range n {
		sent := strconv.FormatInt(time.Now().UnixNano(), 10)
		if _, err := ac.InvokeAsync(ctx, name, "", latencyPath, strings.NewReader(sent), nil); err != nil {
			return latency{}, err
		}
		if err := pause(ctx, latencyGap); err != nil {
			return latency{}, err
		}
	}
	ds, err := t.collectLatencies(ctx, hc, name, n)
	if err != nil {
		return latency{}, err
	}
	if len(ds) != n {
		return latency{}, fmt.Errorf("%d of %d asynchronous invocations of %s%s seen within %v", len(ds), n, name, latencyPath, collectTimeout)
	}
	return latency{sent: n, s: summarize(ds)}, nil
}

// natsLatency publishes n messages on benchTopic, latencyGap apart, each
// with its send time as the body, to a function subscribed with the topic
// annotation. What goes wrong short of an interrupt is reported as the
// figure's "n/a" reason.
func (t *target) natsLatency(ctx context.Context, hc *http.Client, n int) (latency, error) {
	l, err := t.publishLatency(ctx, hc, n)
	if ctx.Err() != nil {
		return l, ctx.Err()
	}
	if err != nil {
		l.na = err.Error()
	}
	return l, nil
}

func (t *target) publishLatency(ctx context.Context, hc *http.Client, n int) (latency, error) {
	pw, err := os.ReadFile(filepath.Join(t.funcd.StateDir, "secrets", "nats-password"))
	if err != nil {
		return latency{}, fmt.Errorf("NATS password: %w", err)
	}
	nc, err := nats.Connect("nats://"+t.nats, nats.UserInfo(natsUser, strings.TrimSpace(string(pw))),
		nats.Name("funcd-bench"), nats.Timeout(5*time.Second), nats.MaxReconnects(0))
	if err != nil {
		return latency{}, fmt.Errorf("connect to NATS at %s: %w", t.nats, err)
	}
	defer nc.Close()
	// Triggers invoke /, which testfn serves as ROOT_PATH.
	if err := t.deployWith(ctx, api.FunctionDeployment{Service: topicName, Image: t.image,
		EnvVars:     map[string]string{"ROOT_PATH": latencyPath},
		Annotations: map[string]string{api.AnnotationTopic: benchTopic}}); err != nil {
		return latency{}, err
	}
	publish := func() error {
		if err := nc.Publish(benchTopic, []byte(strconv.FormatInt(time.Now().UnixNano(), 10))); err != nil {
			return fmt.Errorf("publish on %s: %w", benchTopic, err)
		}
		return nc.Flush()
	}
	if _, err := t.latencies(ctx, hc, topicName); err != nil {
		return latency{}, err
	}
	// Funcd subscribes within its poll of the function list: publish
	// until a message reaches the function, then let stragglers land.
	sctx, cancel := context.WithTimeout(ctx, subscribeTimeout)
	err = testenv.Poll(sctx, func() error {
		if err := publish(); err != nil {
			return err
		}
		if ds, err := t.latencies(sctx, hc, topicName); err != nil || len(ds) == 0 {
			return errors.Join(errors.New("none seen"), err)
		}
		return nil
	})
	cancel()
	if err != nil {
		return latency{}, t.whyNoTrigger(ctx)
	}
	if err := pause(ctx, 500*time.Millisecond); err != nil {
		return latency{}, err
	}
	if _, err := t.latencies(ctx, hc, topicName); err != nil {
		return latency{}, err
	}
	for range n {
		if err := publish(); err != nil {
			return latency{}, err
		}
		if err := pause(ctx, latencyGap); err != nil {
			return latency{}, err
		}
	}
	ds, err := t.collectLatencies(ctx, hc, topicName, n)
	if err != nil {
		return latency{}, err
	}
	if len(ds) == 0 {
		return latency{}, fmt.Errorf("none of %d messages on %s reached the function within %v", n, benchTopic, collectTimeout)
	}
	return latency{sent: n, s: summarize(ds)}, nil
}

// whyNoTrigger explains why no published message reached the function's
// /latency: funcd invoked it elsewhere, or not at all.
func (t *target) whyNoTrigger(ctx context.Context) error {
	codes, err := t.asyncAttempts(ctx, topicName)
	if err != nil {
		return fmt.Errorf("no message on %s reached %s within %v (%w)", benchTopic, topicName, subscribeTimeout, err)
	}
	if n := total(codes); n > 0 {
		return fmt.Errorf("messages on %s invoked %s (%.0f attempts, by status %v) but %s recorded none: does testfn serve / as ROOT_PATH=%[5]s?", benchTopic, topicName, n, codes, latencyPath)
	}
	return fmt.Errorf("no message on %s invoked %s within %v: are funcd's triggers running?", benchTopic, topicName, subscribeTimeout)
}

// collectLatencies reads the function's recorded latencies until it has n
// or collectTimeout passes.
func (t *target) collectLatencies(ctx context.Context, hc *http.Client, name string, n int) ([]time.Duration, error) {
	var all []time.Duration
	deadline := time.Now().Add(collectTimeout)
	for len(all) < n && time.Now().Before(deadline) {
		ds, err := t.latencies(ctx, hc, name)
		if err != nil {
			return all, err
		}
		all = append(all, ds...)
		if err := pause(ctx, 50*time.Millisecond); err != nil {
			return all, err
		}
	}
	return all, nil
}

// latencies takes the latencies the function recorded since the last call.
func (t *target) latencies(ctx context.Context, hc *http.Client, name string) ([]time.Duration, error) {
	url := t.funcd.URL + "/function/" + name + "/latencies"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil || res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s %v: %.200s", url, res.Status, err, body)
	}
	ds, err := parseLatencies(body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	return ds, nil
}

// pause waits d, or until ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
