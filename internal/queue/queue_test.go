package queue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/egress"
)

// fakeFunctions is the function table the queue reads.
type fakeFunctions struct {
	mu  sync.Mutex
	fns map[string]map[string]string // "name.ns" → labels
}

func (f *fakeFunctions) set(name string, labels map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fns == nil {
		f.fns = map[string]map[string]string{}
	}
	f.fns[name+"."+api.DefaultNamespace] = labels
}

func (f *fakeFunctions) Function(name, ns string) (map[string]string, map[string]string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.fns[name+"."+ns]
	return l, nil, ok
}

// invoker plays the proxy: it records calls and answers with answer.
type invoker struct {
	mu       sync.Mutex
	calls    []*http.Request
	bodies   []string
	running  atomic.Int32
	peak     atomic.Int32
	answer   func(r *http.Request, n int) (int, string) // n: calls so far with this call id
	perCall  map[string]int
	released chan struct{} // when set, each call waits for it
}

func (iv *invoker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := iv.running.Add(1)
	defer iv.running.Add(-1)
	for {
		p := iv.peak.Load()
		if n <= p || iv.peak.CompareAndSwap(p, n) {
			break
		}
	}
	body, _ := io.ReadAll(r.Body)
	iv.mu.Lock()
	if iv.perCall == nil {
		iv.perCall = map[string]int{}
	}
	id := r.Header.Get("X-Call-Id")
	iv.perCall[id]++
	seen := iv.perCall[id]
	iv.calls = append(iv.calls, r)
	iv.bodies = append(iv.bodies, string(body))
	release := iv.released
	iv.mu.Unlock()
	if release != nil {
		select {
		case <-release:
		case <-r.Context().Done():
			http.Error(w, "aborted", http.StatusBadGateway)
			return
		}
	}
	code, text := http.StatusOK, "ok:"+string(body)
	if iv.answer != nil {
		code, text = iv.answer(r, seen)
	}
	w.Header().Set("X-Fn", "yes")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, text)
}

func (iv *invoker) count() int {
	iv.mu.Lock()
	defer iv.mu.Unlock()
	return len(iv.calls)
}

func newQueue(t *testing.T, dir string, iv http.Handler, fns Functions, mod func(*Config)) *Queue {
	t.Helper()
	cfg := Config{
		StoreDir:  dir,
		Invoker:   iv,
		Functions: fns,
		Workers:   8,
		AckWait:   2 * time.Second,
		Policy:    Policy{Attempts: 3, Codes: DefaultPolicy.Codes, MinWait: 10 * time.Millisecond, MaxWait: 50 * time.Millisecond},
		// Receivers in these tests are httptest servers on loopback.
		Callbacks: egress.New(netip.Prefix{}, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}),
	}
	if mod != nil {
		mod(&cfg)
	}
	q, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func closeQueue(t *testing.T, q *Queue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEnqueueInvokesAndCallsBack(t *testing.T) {
	fns := &fakeFunctions{}
	fns.set("echo", nil)
	iv := &invoker{}
	type cb struct {
		header http.Header
		body   string
	}
	got := make(chan cb, 1)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- cb{r.Header.Clone(), string(b)}
	}))
	defer receiver.Close()
	q := newQueue(t, t.TempDir(), iv, fns, nil)
	defer closeQueue(t, q)

	err := q.Enqueue(context.Background(), Job{
		CallID: "call-1", Function: "echo", Method: http.MethodPost, Path: "/a%2Fb", Query: "x=1",
		Header: http.Header{"X-Custom": {"v"}}, Body: []byte("hello"), Callback: receiver.URL + "/done", Source: SourceAsync,
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-got:
		if c.body != "ok:hello" {
			t.Errorf("callback body %q", c.body)
		}
		for k, want := range map[string]string{"X-Function-Status": "200", "X-Function-Name": "echo", "X-Call-Id": "call-1", "X-Fn": "yes"} {
			if v := c.header.Get(k); v != want {
				t.Errorf("callback %s = %q, want %q", k, v, want)
			}
		}
		if c.header.Get("X-Duration-Seconds") == "" {
			t.Error("no X-Duration-Seconds on the callback")
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no callback")
	}
	iv.mu.Lock()
	r := iv.calls[0]
	iv.mu.Unlock()
	if r.URL.EscapedPath() != "/function/echo.openfaas-fn/a%2Fb" || r.URL.RawQuery != "x=1" {
		t.Errorf("invoked %s?%s", r.URL.EscapedPath(), r.URL.RawQuery)
	}
	if r.Header.Get("X-Custom") != "v" || r.Header.Get("X-Call-Id") != "call-1" {
		t.Errorf("headers %v", r.Header)
	}
}

func TestRetriesThenSucceeds(t *testing.T) {
	fns := &fakeFunctions{}
	fns.set("flaky", nil)
	iv := &invoker{answer: func(r *http.Request, n int) (int, string) {
		if n < 3 {
			return http.StatusServiceUnavailable, "not yet"
		}
		return http.StatusOK, "done"
	}}
	reg := prometheus.NewRegistry()
	q := newQueue(t, t.TempDir(), iv, fns, func(c *Config) { c.Registerer = reg })
	defer closeQueue(t, q)
	if err := q.Enqueue(context.Background(), Job{CallID: "c", Function: "flaky"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "three attempts", func() bool { return iv.count() == 3 })
	eventually(t, "an empty queue", func() bool {
		st, err := q.Stats(context.Background())
		return err == nil && st.Depth == 0 && st.InFlight == 0 && st.Retrying == 0
	})
	time.Sleep(100 * time.Millisecond)
	if n := iv.count(); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
	if st, _ := q.Stats(context.Background()); st.DeadLetters != 0 {
		t.Errorf("dead letters %d", st.DeadLetters)
	}
	if v := counterValue(t, reg, "funcd_queue_retries_total"); v != 2 {
		t.Errorf("retries metric %v, want 2", v)
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

func TestDeadLetterAndRedrive(t *testing.T) {
	fns := &fakeFunctions{}
	fns.set("broken", map[string]string{api.AnnotationRetryAttempts: "2"})
	var healthy atomic.Bool
	iv := &invoker{answer: func(r *http.Request, n int) (int, string) {
		if healthy.Load() {
			return http.StatusOK, "fine"
		}
		return http.StatusBadGateway, "upstream\r\nbroke"
	}}
	q := newQueue(t, t.TempDir(), iv, fns, nil)
	defer closeQueue(t, q)
	ctx := context.Background()
	for i := range 3 {
		if err := q.Enqueue(ctx, Job{CallID: fmt.Sprint("d", i), Function: "broken", Body: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	var dls []api.DeadLetter
	eventually(t, "three dead letters", func() bool {
		var err error
		dls, err = q.DeadLetters(ctx, "broken", "", 0)
		return err == nil && len(dls) == 3
	})
	if iv.count() != 6 {
		t.Errorf("%d attempts, want 2 each", iv.count())
	}
	d := dls[0]
	if d.Status != http.StatusBadGateway || d.Attempts != 2 || d.Error != "upstream  broke" || d.Function != "broken" || d.BodyBytes != 1 || d.Source != "" {
		t.Errorf("dead letter %+v", d)
	}
	if all, _ := q.DeadLetters(ctx, "", "", 0); len(all) != 3 {
		t.Errorf("all dead letters: %d", len(all))
	}
	if other, _ := q.DeadLetters(ctx, "other", "", 0); len(other) != 0 {
		t.Errorf("other function's dead letters: %d", len(other))
	}

	healthy.Store(true)
	res, err := q.Redrive(ctx, api.DeadLetterSelection{IDs: []uint64{d.ID}})
	if err != nil || res.Redriven != 1 {
		t.Fatalf("redrive one: %+v %v", res, err)
	}
	eventually(t, "the redriven call", func() bool { return iv.count() == 7 })
	res, err = q.Redrive(ctx, api.DeadLetterSelection{Function: "broken"})
	if err != nil || res.Redriven != 2 {
		t.Fatalf("redrive the rest: %+v %v", res, err)
	}
	eventually(t, "all redriven calls", func() bool { return iv.count() == 9 })

	// Purge: healthy again, so fail once more and delete for good.
	healthy.Store(false)
	if err := q.Enqueue(ctx, Job{CallID: "p", Function: "broken"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a new dead letter", func() bool {
		dls, _ := q.DeadLetters(ctx, "broken", "", 0)
		return len(dls) == 1
	})
	if res, err := q.Purge(ctx, api.DeadLetterSelection{Namespace: "other"}); err != nil || res.Purged != 0 {
		t.Errorf("purge of another namespace: %+v, %v", res, err)
	}
	if res, err := q.Purge(ctx, api.DeadLetterSelection{Namespace: api.DefaultNamespace}); err != nil || res.Purged != 1 {
		t.Errorf("purge: %+v, %v", res, err)
	}
	before := iv.count()
	eventually(t, "no dead letters", func() bool {
		st, err := q.Stats(ctx)
		return err == nil && st.DeadLetters == 0 && st.Depth == 0 && st.InFlight == 0
	})
	if iv.count() != before {
		t.Error("a purged dead letter was invoked")
	}
}

func TestUnknownFunctionIsDeadAtOnce(t *testing.T) {
	iv := &invoker{}
	q := newQueue(t, t.TempDir(), iv, &fakeFunctions{}, nil)
	defer closeQueue(t, q)
	if err := q.Enqueue(context.Background(), Job{CallID: "u", Function: "ghost"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a dead letter", func() bool {
		dls, _ := q.DeadLetters(context.Background(), "ghost", "", 0)
		return len(dls) == 1 && dls[0].Status == http.StatusNotFound && strings.Contains(dls[0].Error, "not found")
	})
	if iv.count() != 0 {
		t.Error("invoked a function that does not exist")
	}
}

func TestNotRetriedStatusCompletes(t *testing.T) {
	fns := &fakeFunctions{}
	fns.set("bad", nil)
	iv := &invoker{answer: func(*http.Request, int) (int, string) { return http.StatusInternalServerError, "boom" }}
	q := newQueue(t, t.TempDir(), iv, fns, nil)
	defer closeQueue(t, q)
	if err := q.Enqueue(context.Background(), Job{CallID: "b", Function: "bad"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "one attempt", func() bool { return iv.count() == 1 })
	eventually(t, "an empty queue", func() bool {
		st, err := q.Stats(context.Background())
		return err == nil && st.Depth+st.InFlight+st.Retrying == 0
	})
	if st, _ := q.Stats(context.Background()); st.DeadLetters != 0 || iv.count() != 1 {
		t.Errorf("500 is the function's answer, not in the retry codes: %d attempts, %d dead", iv.count(), st.DeadLetters)
	}
}

func TestDuplicateCallIDStoredOnce(t *testing.T) {
	fns := &fakeFunctions{}
	fns.set("f", nil)
	iv := &invoker{}
	q := newQueue(t, t.TempDir(), iv, fns, nil)
	defer closeQueue(t, q)
	for range 3 {
		if err := q.Enqueue(context.Background(), Job{CallID: "same", Function: "f"}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the call", func() bool { return iv.count() >= 1 })
	time.Sleep(200 * time.Millisecond)
	if n := iv.count(); n != 1 {
		t.Errorf("%d calls for one call id", n)
	}
}

func TestMaxInflightPerFunction(t *testing.T) {
	fns := &fakeFunctions{}
	fns.set("slow", map[string]string{api.LabelQueueMaxInflight: "2"})
	fns.set("fast", nil)
	release := make(chan struct{})
	slow := &invoker{released: release}
	var fastCalls atomic.Int32
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/function/fast.") {
			fastCalls.Add(1)
			return
		}
		slow.ServeHTTP(w, r)
	})
	q := newQueue(t, t.TempDir(), mux, fns, nil)
	defer closeQueue(t, q)
	ctx := context.Background()
	for i := range 6 {
		if err := q.Enqueue(ctx, Job{CallID: fmt.Sprint("s", i), Function: "slow"}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "two slow calls", func() bool { return slow.running.Load() == 2 })
	for i := range 4 {
		if err := q.Enqueue(ctx, Job{CallID: fmt.Sprint("f", i), Function: "fast"}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "fast calls past the slow ones", func() bool { return fastCalls.Load() == 4 })
	st, err := q.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range st.Functions {
		if f.Name == "slow" && (f.InFlight != 2 || f.Depth != 4 || f.MaxInflight != 2) {
			t.Errorf("slow function's stats %+v", f)
		}
	}
	close(release)
	eventually(t, "all slow calls", func() bool { return slow.count() == 6 })
	if p := slow.peak.Load(); p != 2 {
		t.Errorf("peak concurrency %d, want 2", p)
	}
}

func TestSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	fns := &fakeFunctions{}
	fns.set("f", nil)
	block := &invoker{released: make(chan struct{})} // never released: Close aborts it
	q := newQueue(t, dir, block, fns, func(c *Config) { c.Workers = 1 })
	for i := range 5 {
		if err := q.Enqueue(context.Background(), Job{CallID: fmt.Sprint("r", i), Function: "f"}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "a running call", func() bool { return block.running.Load() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()

	iv := &invoker{}
	q = newQueue(t, dir, iv, fns, nil)
	defer closeQueue(t, q)
	eventually(t, "five calls after the restart", func() bool { return iv.count() == 5 })
}

func TestPolicyFor(t *testing.T) {
	p, err := DefaultPolicy.For(map[string]string{api.LabelQueueMaxInflight: "4"}, map[string]string{
		api.AnnotationRetryAttempts: "5", api.AnnotationRetryCodes: "500, 503",
		api.AnnotationRetryMinWait: "1.5", api.AnnotationRetryMaxWait: "1m",
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.Attempts != 5 || len(p.Codes) != 2 || p.Codes[0] != 500 || p.MinWait != 1500*time.Millisecond || p.MaxWait != time.Minute || p.MaxInflight != 4 {
		t.Errorf("policy %+v", p)
	}
	for key, v := range map[string]string{
		api.AnnotationRetryAttempts: "0", api.AnnotationRetryCodes: "700", api.AnnotationRetryMinWait: "soon",
		api.LabelQueueMaxInflight: "-1",
	} {
		err := Validate(nil, map[string]string{key: v})
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s=%q: %v, want an error naming it", key, v, err)
		}
	}
}

func TestDelay(t *testing.T) {
	p := Policy{MinWait: time.Second, MaxWait: 10 * time.Second}
	for attempt, lim := range map[int][2]time.Duration{1: {time.Second, time.Second}, 2: {time.Second, 2 * time.Second},
		3: {2 * time.Second, 4 * time.Second}, 10: {5 * time.Second, 10 * time.Second}} {
		for range 50 {
			if d := p.delay(attempt, Result{}); d < lim[0] || d > lim[1] {
				t.Fatalf("attempt %d: delay %s outside %s..%s", attempt, d, lim[0], lim[1])
			}
		}
	}
	ra := Result{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"7"}}}
	if d := p.delay(1, ra); d != 7*time.Second {
		t.Errorf("Retry-After 7: %s", d)
	}
	ra.Header.Set("Retry-After", "100")
	if d := p.delay(1, ra); d != 10*time.Second {
		t.Errorf("Retry-After 100 is capped: %s", d)
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	fns := &fakeFunctions{}
	fns.set("f", nil)
	iv := &invoker{}
	q := newQueue(t, t.TempDir(), iv, fns, func(c *Config) {
		c.NATSListen, c.MQTTListen, c.Password = "127.0.0.1:0", "127.0.0.1:0", "pw"
	})
	for i := range 10 {
		if err := q.Enqueue(context.Background(), Job{CallID: fmt.Sprint(i), Function: "f", Callback: "http://127.0.0.1:1/"}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "ten calls", func() bool { return iv.count() == 10 })
	closeQueue(t, q)
}

// TestCallbackRetriedWithoutBlocking: a receiver failing twice gets the
// result on the third attempt, and invocations go on meanwhile.
func TestCallbackRetriedWithoutBlocking(t *testing.T) {
	fns := &fakeFunctions{}
	fns.set("f", nil)
	iv := &invoker{}
	var hits atomic.Int32
	delivered := make(chan string, 1)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		b, _ := io.ReadAll(r.Body)
		delivered <- string(b)
	}))
	defer receiver.Close()
	q := newQueue(t, t.TempDir(), iv, fns, func(c *Config) { c.CallbackWait = 20 * time.Millisecond })
	defer closeQueue(t, q)
	ctx := context.Background()
	if err := q.Enqueue(ctx, Job{CallID: "with-callback", Function: "f", Body: []byte("b"), Callback: receiver.URL}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := q.Enqueue(ctx, Job{CallID: fmt.Sprint("plain", i), Function: "f"}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "six calls", func() bool { return iv.count() == 6 })
	select {
	case body := <-delivered:
		if body != "ok:b" || hits.Load() != 3 {
			t.Errorf("delivered %q after %d attempts", body, hits.Load())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("callback not delivered after %d attempts", hits.Load())
	}
	eventually(t, "no callbacks waiting", func() bool {
		st, err := q.Stats(ctx)
		return err == nil && st.Callbacks == 0
	})
}

// FuzzDecodeJob: any bytes on funcd.invoke (a stranger's publish, a torn
// record) are refused or decoded, never a panic; what encode writes comes
// back whole.
func FuzzDecodeJob(f *testing.F) {
	j := Job{CallID: "c", Function: "f", Namespace: "n", Header: http.Header{"A": {"b"}}, Body: []byte("body")}
	good, _ := j.encode()
	f.Add(good)
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Add([]byte{2, '{', '}'})
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeJob(data)
		if err != nil {
			return
		}
		again, err := got.encode()
		if err != nil {
			t.Fatal(err)
		}
		if back, err := decodeJob(again); err != nil || back.CallID != got.CallID || string(back.Body) != string(got.Body) {
			t.Fatalf("round trip: %+v, %v", back, err)
		}
	})
}

// TestSweepRemovesLoopsOfDeletedFunctions: a deleted function's consumer
// and loop go once nothing of it is queued; a live one's stay.
func TestSweepRemovesLoopsOfDeletedFunctions(t *testing.T) {
	fns := &fakeFunctions{}
	fns.set("gone", nil)
	fns.set("kept", nil)
	iv := &invoker{}
	q := newQueue(t, t.TempDir(), iv, fns, nil)
	defer closeQueue(t, q)
	ctx := context.Background()
	for _, name := range []string{"gone", "kept"} {
		if err := q.Enqueue(ctx, Job{Function: name}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "both calls", func() bool { return iv.count() == 2 })
	eventually(t, "an empty queue", func() bool {
		st, err := q.Stats(ctx)
		return err == nil && st.Depth+st.InFlight+st.Retrying == 0
	})
	fns.mu.Lock()
	delete(fns.fns, "gone.openfaas-fn")
	fns.mu.Unlock()
	q.sweep(ctx)

	var names []string
	lister := q.invoke.ConsumerNames(ctx)
	for n := range lister.Name() {
		names = append(names, n)
	}
	if strings.Join(names, ",") != "fn_openfaas-fn_kept" {
		t.Errorf("consumers after the sweep: %v", names)
	}
	q.mu.Lock()
	n := len(q.workers)
	q.mu.Unlock()
	if n != 1 {
		t.Errorf("%d loops after the sweep, want 1", n)
	}
	// The name can come back.
	fns.set("gone", nil)
	if err := q.Enqueue(ctx, Job{Function: "gone"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a call to the redeployed function", func() bool { return iv.count() == 3 })
}

// TestFullQueueRefuses: past --queue-max-bytes a new invocation is
// refused with ErrFull, and taken again once the backlog drains.
func TestFullQueueRefuses(t *testing.T) {
	fns := &fakeFunctions{}
	fns.set("f", nil)
	release := make(chan struct{})
	iv := &invoker{released: release}
	q := newQueue(t, t.TempDir(), iv, fns, func(c *Config) { c.MaxBytes = 64 << 10; c.Workers = 1 })
	defer closeQueue(t, q)
	ctx := context.Background()
	body := make([]byte, 8<<10)
	var err error
	stored := 0
	for i := 0; i < 100 && err == nil; i++ {
		if err = q.Enqueue(ctx, Job{Function: "f", Body: body}); err == nil {
			stored++
		}
	}
	if !errors.Is(err, ErrFull) || !strings.Contains(err.Error(), "--queue-max-bytes") {
		t.Fatalf("after %d stored: %v, want ErrFull naming the flag", stored, err)
	}
	close(release)
	eventually(t, "the backlog to drain", func() bool { return iv.count() == stored })
	eventually(t, "room again", func() bool { return q.Enqueue(ctx, Job{Function: "f", Body: body}) == nil })
}
