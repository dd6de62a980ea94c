package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/containerd/containerd/events"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/test/testenv"
)

// The cold-start functions: one woken again and again, and a burst of
// burstSize woken at once. All run the bench image.
const (
	coldName  = "coldstart"
	burstSize = 10
)

// coldRun is one cold start through funcd: the request's time to its 200,
// and when containerd reported the replica's container created, its task
// created and started, relative to sending the request (0 when the event
// was not seen).
type coldRun struct {
	total, created, taskCreated, started time.Duration
}

// coldResults are the cold-start figures.
type coldResults struct {
	funcd  []coldRun
	woken  []time.Duration // funcd's own "scaled from zero ... in=" for coldName
	floor  []floorRun
	bursts []burst
}

// burst is one round of burstSize simultaneous cold starts.
type burst struct {
	all     time.Duration // from sending the requests until the last 200
	slowest time.Duration // the slowest single request
	woken   []time.Duration
}

// measureCold deploys the cold-start functions, then alternates a cold
// start through funcd with one of the floor, n times each, then runs the
// bursts.
func measureCold(ctx context.Context, env *testenv.Env, t *target, n, bursts int) (coldResults, error) {
	var res coldResults
	if err := t.deployFn(ctx, coldName); err != nil {
		return res, err
	}
	fl, err := newFloor(ctx, env, t.image)
	if err != nil {
		return res, err
	}
	evs := watchEvents(ctx, env, api.DefaultNamespace)
	defer evs.stop()
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	url := t.funcd.URL + "/function/" + coldName + benchPath
	// One untimed round of each first: the image's files and the shim
	// binary in the page cache, the network's bridge up.
	if _, err := fl.once(ctx); err != nil {
		return res, err
	}
	for i := 0; i <= n; i++ {
		if err := t.toZero(ctx, coldName); err != nil {
			return res, err
		}
		t0 := time.Now()
		if err := get(ctx, hc, url); err != nil {
			return res, fmt.Errorf("cold start %d: %w", i, err)
		}
		run := coldRun{total: time.Since(t0)}
		run.created, run.taskCreated, run.started = evs.after(t0, "/containers/create"), evs.after(t0, "/tasks/create"), evs.after(t0, "/tasks/start")
		fr, err := fl.once(ctx)
		if err != nil {
			return res, err
		}
		if i > 0 { // the first was the warm-up
			res.funcd, res.floor = append(res.funcd, run), append(res.floor, fr)
		}
	}
	for i := 1; i <= burstSize; i++ {
		if err := t.deployFn(ctx, "cold"+strconv.Itoa(i)); err != nil {
			return res, err
		}
	}
	for range bursts {
		b, err := t.burst(ctx, hc)
		if err != nil {
			return res, err
		}
		res.bursts = append(res.bursts, b)
	}
	log, err := os.ReadFile(t.funcd.LogPath)
	if err != nil {
		return res, fmt.Errorf("read funcd log: %w", err)
	}
	if w := scaledFromZero(string(log), coldName+"."+api.DefaultNamespace); len(w) > 1 {
		res.woken = w[1:] // the first was the warm-up
	}
	for i := range res.bursts {
		for j := 1; j <= burstSize; j++ {
			if w := scaledFromZero(string(log), "cold"+strconv.Itoa(j)+"."+api.DefaultNamespace); len(w) > i {
				res.bursts[i].woken = append(res.bursts[i].woken, w[i])
			}
		}
	}
	return res, nil
}

// burst scales cold1..coldN to zero, then sends one request to each at the
// same moment.
func (t *target) burst(ctx context.Context, hc *http.Client) (burst, error) {
	var wg sync.WaitGroup
	errs := make([]error, burstSize)
	for i := range burstSize {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = t.toZero(ctx, "cold"+strconv.Itoa(i+1))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return burst{}, err
	}
	lat := make([]time.Duration, burstSize)
	startc := make(chan struct{})
	for i := range burstSize {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startc
			t0 := time.Now()
			errs[i] = get(ctx, hc, t.funcd.URL+"/function/cold"+strconv.Itoa(i+1)+benchPath)
			lat[i] = time.Since(t0)
		}()
	}
	t0 := time.Now()
	close(startc)
	wg.Wait()
	b := burst{all: time.Since(t0), slowest: summarize(lat).max}
	return b, errors.Join(errs...)
}

// deployFn deploys the bench image as name with one replica (ready when
// Deploy returns) and remembers it for undeploy.
func (t *target) deployFn(ctx context.Context, name string) error {
	return t.deployWith(ctx, api.FunctionDeployment{Service: name, Image: t.image})
}

// deployWith deploys d with one replica and remembers it for undeploy.
func (t *target) deployWith(ctx context.Context, d api.FunctionDeployment) error {
	t.fns = append(t.fns, d.Service)
	if err := t.client.Deploy(ctx, d); err != nil {
		return fmt.Errorf("deploy %s: %w", d.Service, err)
	}
	return nil
}

// toZero scales name to zero and waits until funcd reports no replicas.
func (t *target) toZero(ctx context.Context, name string) error {
	if err := t.client.Scale(ctx, name, "", 0); err != nil {
		return err
	}
	return t.waitReplicas(ctx, name, 0)
}

// waitReplicas waits until name has n replicas, n of them available.
func (t *target) waitReplicas(ctx context.Context, name string, n uint64) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := testenv.Poll(ctx, func() error {
		st, err := t.client.GetFunction(ctx, name, "")
		if err != nil {
			return err
		}
		if st.Replicas != n || st.AvailableReplicas != n {
			return fmt.Errorf("%s has %d replicas, %d available, want %d", name, st.Replicas, st.AvailableReplicas, n)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("scale %s to %d: %w", name, n, err)
	}
	return nil
}

// get sends GET url and wants a 200 with its whole body.
func get(ctx context.Context, hc *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %.200s", url, res.Status, body)
	}
	return nil
}

// eventLog records containerd's events in one namespace, for the breakdown
// of a cold start: when the container and the task were created and the
// task started.
type eventLog struct {
	mu     sync.Mutex
	seen   []*events.Envelope
	cancel context.CancelFunc
	done   chan struct{}
}

func watchEvents(ctx context.Context, env *testenv.Env, ns string) *eventLog {
	ctx, cancel := context.WithCancel(ctx)
	l := &eventLog{cancel: cancel, done: make(chan struct{})}
	ch, errc := env.Containerd.Client.Subscribe(ctx, fmt.Sprintf("namespace==%q", ns))
	go func() {
		defer close(l.done)
		for {
			select {
			case e := <-ch:
				l.mu.Lock()
				l.seen = append(l.seen, e)
				l.mu.Unlock()
			case <-errc:
				return // ended by stop, or the breakdown stays empty
			case <-ctx.Done():
				return
			}
		}
	}()
	return l
}

// after returns how long after t0 the first event on topic came, or 0.
// Events are delivered a little after they happen, so it waits a moment
// for one that is not there yet.
func (l *eventLog) after(t0 time.Time, topic string) time.Duration {
	for range 20 {
		l.mu.Lock()
		for _, e := range l.seen {
			if e.Topic == topic && !e.Timestamp.Before(t0) {
				l.mu.Unlock()
				return e.Timestamp.Sub(t0)
			}
		}
		l.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	return 0
}

func (l *eventLog) stop() {
	l.cancel()
	<-l.done
}
