package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/client"
)

// recordedCall is what testfn's /record remembers.
type recordedCall struct {
	CallID    string `json:"callId"`
	Topic     string `json:"topic"`
	Connector string `json:"connector"`
	Body      string `json:"body"`
}

// recorded returns the calls function name's /record saw.
func recorded(t *testing.T, c *client.Client, name string) []recordedCall {
	t.Helper()
	code, body, err := call(t.Context(), c, name, http.MethodGet, "/recorded", "")
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /function/%s/recorded = %d %q, %v", name, code, body, err)
	}
	var calls []recordedCall
	if err := json.Unmarshal([]byte(body), &calls); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	return calls
}

// queueSettled waits until nothing is queued, running or waiting for a
// retry.
func queueSettled(t *testing.T, c *client.Client, timeout time.Duration) api.QueueStats {
	t.Helper()
	var st api.QueueStats
	eventually(t, timeout, func() error {
		var err error
		if st, err = c.QueueStats(t.Context()); err != nil {
			return err
		}
		if st.Depth+st.InFlight+st.Retrying+st.Callbacks > 0 {
			return fmt.Errorf("queue not empty: %+v", st)
		}
		return nil
	})
	return st
}

// TestAsyncNothingLost accepts N queued invocations, kills funcd with
// SIGKILL while they run, starts it again and checks the function saw
// every accepted call id: at-least-once delivery across a crash.
func TestAsyncNothingLost(t *testing.T) {
	const n = 200
	f := startFuncd(t, WithArgs("--queue-workers", "4"))
	c := f.Client(t)
	deployReady(t, c, api.FunctionDeployment{Service: "tally", Image: imageRef("testfn:v1")})

	accepted := make(chan string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				id, err := c.InvokeAsync(t.Context(), "tally", "", "/record?ms=40", strings.NewReader(fmt.Sprint(i)), nil)
				if err != nil {
					errs <- err
					return
				}
				accepted <- id
			}
		}()
	}
	wg.Wait()
	close(accepted)
	close(errs)
	for err := range errs {
		t.Fatalf("InvokeAsync = %v", err)
	}
	ids := map[string]bool{}
	for id := range accepted {
		ids[id] = true
	}
	if len(ids) != n {
		t.Fatalf("%d distinct call ids for %d accepted requests", len(ids), n)
	}
	// 4 workers at 40 ms each: the whole queue takes about 2 s. Kill funcd
	// when part of it is done and part is running.
	eventually(t, 20*time.Second, func() error {
		if got := len(recorded(t, c, "tally")); got < n/5 {
			return fmt.Errorf("%d calls so far", got)
		}
		return nil
	})
	before := len(recorded(t, c, "tally"))
	f.Kill9(t)
	if before >= n {
		t.Fatalf("all %d calls were done before the kill; the test proves nothing", before)
	}
	t.Logf("killed funcd after %d of %d calls", before, n)
	if err := f.Funcd.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	queueSettled(t, c, 60*time.Second)
	calls := recorded(t, c, "tally")
	seen := map[string]int{}
	for _, cl := range calls {
		seen[cl.CallID]++
	}
	for id := range ids {
		if seen[id] == 0 {
			t.Errorf("accepted call %s never reached the function", id)
		}
	}
	for id := range seen {
		if !ids[id] {
			t.Errorf("the function saw call id %s, which was never accepted", id)
		}
	}
	t.Logf("%d accepted, %d distinct completions, %d calls in all (%d repeats after the kill)",
		n, len(seen), len(calls), len(calls)-len(seen))
}

// callbackSink collects callbacks.
type callbackSink struct {
	srv *httptest.Server
	ch  chan *http.Request
}

func newCallbackSink(t *testing.T) *callbackSink {
	s := &callbackSink{ch: make(chan *http.Request, 16)}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		s.ch <- r
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *callbackSink) next(t *testing.T) (*http.Request, string) {
	t.Helper()
	select {
	case r := <-s.ch:
		b, _ := io.ReadAll(r.Body)
		return r, string(b)
	case <-time.After(30 * time.Second):
		t.Fatal("no callback within 30s")
		return nil, ""
	}
}

// TestAsyncRetriesCallbacksDeadLetters covers the failure side: a flaky
// function succeeds on a retry, a broken one becomes a dead letter that
// redrive queues again, callbacks carry the outcome, and bad requests are
// refused with a 4xx that names the problem.
func TestAsyncRetriesCallbacksDeadLetters(t *testing.T) {
	// The callback sink listens on 127.0.0.1, which callbacks may reach
	// only when the operator allows it.
	f := startFuncd(t, WithArgs("--queue-max-body", "1Ki", "--timeout", "1s", "--queue-timeout", "20s",
		"--callback-allow", "127.0.0.1/32"))
	c := f.Client(t)
	ctx := t.Context()
	deployReady(t, c, api.FunctionDeployment{Service: "shaky", Image: imageRef("testfn:v1"),
		Annotations: map[string]string{
			api.AnnotationRetryAttempts: "3",
			api.AnnotationRetryMinWait:  "100ms",
			api.AnnotationRetryMaxWait:  "200ms",
		}})
	sink := newCallbackSink(t)

	// Flaky: two 503s, then 200 on the third attempt.
	id, err := c.InvokeAsync(ctx, "shaky", "", "/flaky?fail=2", nil, http.Header{"X-Callback-Url": {sink.srv.URL + "/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	r, body := sink.next(t)
	if r.Header.Get("X-Function-Status") != "200" || r.Header.Get("X-Call-Id") != id ||
		r.Header.Get("X-Function-Name") != "shaky" || !strings.Contains(body, "succeeded on call 3") {
		t.Errorf("callback for the flaky call: %v %q", r.Header, body)
	}
	if _, err := time.ParseDuration(r.Header.Get("X-Duration-Seconds") + "s"); err != nil {
		t.Errorf("X-Duration-Seconds %q: %v", r.Header.Get("X-Duration-Seconds"), err)
	}

	// Queued invocations may run longer than synchronous ones.
	if code, _, err := call(ctx, c, "shaky", http.MethodGet, "/sleep?ms=1500", ""); err != nil || code != http.StatusGatewayTimeout {
		t.Errorf("synchronous 1.5 s call with --timeout 1s: %d, %v; want 504", code, err)
	}
	if _, err := c.InvokeAsync(ctx, "shaky", "", "/sleep?ms=1500", nil, http.Header{"X-Callback-Url": {sink.srv.URL + "/cb"}}); err != nil {
		t.Fatal(err)
	}
	if r, body := sink.next(t); r.Header.Get("X-Function-Status") != "200" || !strings.Contains(body, "slept 1500ms") {
		t.Errorf("queued 1.5 s call with --queue-timeout 20s: %v %q", r.Header, body)
	}

	// At zero replicas a queued invocation wakes the function, as a
	// synchronous one would.
	if err := c.Scale(ctx, "shaky", "", 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		if n := running(t, "shaky"); n != 0 {
			return fmt.Errorf("%d replicas still running", n)
		}
		return nil
	})
	if _, err := c.InvokeAsync(ctx, "shaky", "", "/status?code=201", nil, http.Header{"X-Callback-Url": {sink.srv.URL + "/cb"}}); err != nil {
		t.Fatal(err)
	}
	if r, _ := sink.next(t); r.Header.Get("X-Function-Status") != "201" {
		t.Errorf("queued call at zero replicas: %v", r.Header)
	}

	// Broken: 503 on every attempt → dead letter, and the callback says so.
	id, err = c.InvokeAsync(ctx, "shaky", "", "/status?code=503", strings.NewReader("payload"),
		http.Header{"X-Callback-Url": {sink.srv.URL + "/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	r, _ = sink.next(t)
	if r.Header.Get("X-Function-Status") != "503" || r.Header.Get("X-Call-Id") != id {
		t.Errorf("callback for the broken call: %v", r.Header)
	}
	dls, err := c.DeadLetters(ctx, "shaky", "", 0)
	if err != nil || len(dls) != 1 {
		t.Fatalf("DeadLetters = %+v, %v; want one", dls, err)
	}
	if d := dls[0]; d.CallID != id || d.Status != 503 || d.Attempts != 3 || d.Path != "/status?code=503" || d.BodyBytes != 7 {
		t.Errorf("dead letter %+v", d)
	}
	st := queueSettled(t, c, 30*time.Second)
	if st.DeadLetters != 1 {
		t.Errorf("stats %+v, want one dead letter", st)
	}

	// Redrive: three more attempts, then dead again, with a new id.
	res, err := c.Redrive(ctx, api.DeadLetterSelection{Function: "shaky"})
	if err != nil || res.Redriven != 1 {
		t.Fatalf("Redrive = %+v, %v", res, err)
	}
	if r, _ = sink.next(t); r.Header.Get("X-Function-Status") != "503" {
		t.Errorf("callback after redrive: %v", r.Header)
	}
	eventually(t, 30*time.Second, func() error {
		dls, err = c.DeadLetters(ctx, "shaky", "", 0)
		if err != nil || len(dls) != 1 || dls[0].ID == 0 {
			return fmt.Errorf("dead letters %+v, %v", dls, err)
		}
		return nil
	})

	// Bad requests: nothing stored.
	for _, tc := range []struct {
		name, path string
		method     string
		body       string
		header     http.Header
		code       int
		msg        string
	}{
		{"too large", "/async-function/shaky", http.MethodPost, strings.Repeat("x", 2048), nil, 413, "1024 bytes"},
		{"unknown function", "/async-function/nothere", http.MethodPost, "", nil, 404, "nothere"},
		{"bad callback", "/async-function/shaky", http.MethodPost, "", http.Header{"X-Callback-Url": {"not a url"}}, 400, "X-Callback-Url"},
		{"callback to loopback", "/async-function/shaky", http.MethodPost, "", http.Header{"X-Callback-Url": {"http://127.0.0.2:9/"}}, 400, "loopback"},
		{"callback to link-local", "/async-function/shaky", http.MethodPost, "", http.Header{"X-Callback-Url": {"http://169.254.169.254/"}}, 400, "link-local"},
		{"callback to the functions", "/async-function/shaky", http.MethodPost, "", http.Header{"X-Callback-Url": {"http://" + f.Subnet.Addr().Next().String() + ":8080/"}}, 400, "functions' network"},
		{"GET", "/async-function/shaky", http.MethodGet, "", nil, 405, "POST"},
	} {
		req, _ := http.NewRequestWithContext(ctx, tc.method, f.URL+tc.path, strings.NewReader(tc.body))
		for k, v := range tc.header {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.msg) {
			t.Errorf("%s: %d %q, want %d naming %q", tc.name, resp.StatusCode, b, tc.code, tc.msg)
		}
	}
	if st := queueSettled(t, c, 10*time.Second); st.DeadLetters != 1 {
		t.Errorf("after bad requests: %+v", st)
	}

	// Bad queue settings are refused at deploy, naming the annotation.
	err = c.Deploy(ctx, api.FunctionDeployment{Service: "badretry", Image: imageRef("testfn:v1"),
		Annotations: map[string]string{api.AnnotationRetryAttempts: "many"}})
	var se *client.StatusError
	if !errors.As(err, &se) || se.Code != 400 || !strings.Contains(se.Body, api.AnnotationRetryAttempts) {
		t.Errorf("deploy with a bad retry annotation = %v, want 400 naming it", err)
	}

	metrics := get(t, f.URL+"/metrics")
	for _, want := range []string{
		`funcd_queue_retries_total{function_name="shaky.openfaas-fn"} 6`,
		`funcd_queue_dead_letters_total{function_name="shaky.openfaas-fn"} 2`,
		`funcd_async_invocations_total{code="503",function_name="shaky.openfaas-fn"} 8`,
		`funcd_queue_dead_letters{function_name="shaky.openfaas-fn"} 1`,
		`funcd_async_invocations_total{code="200",function_name="shaky.openfaas-fn"} 2`,
		`funcd_async_invocations_total{code="201",function_name="shaky.openfaas-fn"} 1`,
		`funcd_queue_callbacks_total{result="delivered"} 5`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	if res, err := c.Purge(ctx, api.DeadLetterSelection{Function: "shaky"}); err != nil || res.Purged != 1 {
		t.Errorf("Purge = %+v, %v; want 1", res, err)
	}
	if dls, err := c.DeadLetters(ctx, "", "", 0); err != nil || len(dls) != 0 {
		t.Errorf("after the purge: %+v, %v", dls, err)
	}
}

// get fetches url and returns the body of a 200.
func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %q", url, resp.StatusCode, b)
	}
	return string(b)
}

// freePort returns a TCP port on 127.0.0.1 nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
