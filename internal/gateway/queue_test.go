package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/queue"
)

// fakeQueue records what the gateway stores and asks.
type fakeQueue struct {
	mu      sync.Mutex
	jobs    []queue.Job
	err     error
	health  queue.Health
	listed  []string // "function/namespace/limit"
	redrive []api.DeadLetterSelection
	purged  []api.DeadLetterSelection
}

func (f *fakeQueue) Enqueue(_ context.Context, j queue.Job) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.jobs = append(f.jobs, j)
	return nil
}

func (f *fakeQueue) MaxBody() int64 { return 16 }

func (f *fakeQueue) Health() queue.Health {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.health
}

func (f *fakeQueue) Stats(context.Context) (api.QueueStats, error) {
	return api.QueueStats{Depth: 3, Workers: 32, Functions: []api.FunctionQueue{{Name: "f", Namespace: "openfaas-fn", Depth: 3}}}, nil
}

func (f *fakeQueue) DeadLetters(_ context.Context, fn, ns string, limit int) ([]api.DeadLetter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listed = append(f.listed, fn+"/"+ns+"/"+strings.Repeat("x", limit%7))
	return []api.DeadLetter{}, nil
}

func (f *fakeQueue) Redrive(_ context.Context, r api.DeadLetterSelection) (api.RedriveResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.redrive = append(f.redrive, r)
	return api.RedriveResult{Redriven: 2}, nil
}

func (f *fakeQueue) Purge(_ context.Context, sel api.DeadLetterSelection) (api.PurgeResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.purged = append(f.purged, sel)
	return api.PurgeResult{Purged: 1}, nil
}

func newQueueEnv(fns *fakeFunctions, q *fakeQueue) *env {
	var buf bytes.Buffer
	cfg := Config{Credentials: creds, Queue: q, ServedBy: "funcd/test"}
	return &env{fns: fns, gw: New(fns, invoked, cfg, slog.New(slog.NewTextHandler(&buf, nil))), log: &buf}
}

func TestAsyncStoresTheRequest(t *testing.T) {
	fns := &fakeFunctions{statuses: map[string]api.FunctionStatus{"f.openfaas-fn": {Name: "f"}, "g.other": {Name: "g"}}}
	q := &fakeQueue{}
	e := newQueueEnv(fns, q)

	req := httptest.NewRequest("POST", "/async-function/f/a%2Fb/c?x=1&y=2", strings.NewReader("hello"))
	req.Header.Set("X-Callback-Url", "http://receiver:9000/done")
	req.Header.Set("Connection", "keep-alive")
	req.Header.Set("X-Custom", "v")
	rec := httptest.NewRecorder()
	e.gw.ServeHTTP(rec, req)
	if rec.Code != http.StatusAccepted || rec.Body.Len() != 0 {
		t.Fatalf("answer %d %q", rec.Code, rec.Body)
	}
	id := rec.Header().Get("X-Call-Id")
	if id == "" || rec.Header().Get("X-Start-Time") == "" || rec.Header().Get("X-Served-By") != "funcd/test" {
		t.Errorf("answer headers %v", rec.Header())
	}
	j := q.jobs[0]
	if j.Function != "f" || j.Namespace != "openfaas-fn" || j.Path != "/a%2Fb/c" || j.Query != "x=1&y=2" ||
		string(j.Body) != "hello" || j.Callback != "http://receiver:9000/done" || j.CallID != id || j.Source != queue.SourceAsync {
		t.Errorf("stored %+v", j)
	}
	if j.Header.Get("X-Custom") != "v" || j.Header.Get("Connection") != "" || j.Header.Get("X-Call-Id") != id || j.Header.Get("X-Forwarded-For") == "" {
		t.Errorf("stored headers %v", j.Header)
	}

	// A caller's call id is kept (and confirmed); NAME.NS picks the namespace.
	req = httptest.NewRequest("POST", "/async-function/g.other", nil)
	req.Header.Set("X-Call-Id", "mine")
	rec = httptest.NewRecorder()
	e.gw.ServeHTTP(rec, req)
	if rec.Code != http.StatusAccepted || rec.Header().Get("X-Call-Id") != "mine" {
		t.Errorf("with a call id: %d %v", rec.Code, rec.Header())
	}
	if j := q.jobs[1]; j.CallID != "mine" || j.Namespace != "other" || j.Path != "" {
		t.Errorf("stored %+v", j)
	}
}

func TestAsyncRefusals(t *testing.T) {
	fns := &fakeFunctions{statuses: map[string]api.FunctionStatus{"f.openfaas-fn": {Name: "f"}}}
	q := &fakeQueue{}
	e := newQueueEnv(fns, q)
	for _, tc := range []struct {
		method, target, body, callback string
		code                           int
		msg                            string
	}{
		{"POST", "/async-function/nothere", "", "", 404, "nothere.openfaas-fn"},
		{"POST", "/async-function/Bad_Name", "", "", 404, ""},
		{"GET", "/async-function/f", "", "", 405, "POST"},
		{"POST", "/async-function/f", strings.Repeat("x", 17), "", 413, "16 bytes"},
		{"POST", "/async-function/f", "", "ftp://x/y", 400, "X-Callback-Url"},
		{"POST", "/async-function/f", "", "/relative", 400, "X-Callback-Url"},
	} {
		req := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
		if tc.callback != "" {
			req.Header.Set("X-Callback-Url", tc.callback)
		}
		rec := httptest.NewRecorder()
		e.gw.ServeHTTP(rec, req)
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.msg) {
			t.Errorf("%s %s: %d %q, want %d naming %q", tc.method, tc.target, rec.Code, rec.Body, tc.code, tc.msg)
		}
	}
	// A chunked body over the cap, with no Content-Length to go by.
	req := httptest.NewRequest("POST", "/async-function/f", strings.NewReader(strings.Repeat("x", 40)))
	req.ContentLength = -1
	rec := httptest.NewRecorder()
	e.gw.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked body over the cap: %d", rec.Code)
	}
	if len(q.jobs) != 0 {
		t.Errorf("refused requests were stored: %+v", q.jobs)
	}

	q.err = queue.ErrClosed
	if rec := e.do("POST", "/async-function/f", "x", authNone); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("queue closing: %d", rec.Code)
	}
	q.err = fmt.Errorf("%w: the invocations waiting take --queue-max-bytes (10 bytes)", queue.ErrFull)
	if rec := e.do("POST", "/async-function/f", "x", authNone); rec.Code != http.StatusServiceUnavailable ||
		rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "--queue-max-bytes") {
		t.Errorf("queue full: %d %v %q", rec.Code, rec.Header(), rec.Body)
	}
}

func TestQueueRoutes(t *testing.T) {
	q := &fakeQueue{}
	e := newQueueEnv(&fakeFunctions{}, q)
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/system/queue", ""},
		{"GET", "/system/queue/dead-letters", ""},
		{"POST", "/system/queue/redrive", "{}"},
		{"POST", "/system/queue/purge", "{}"},
	} {
		if rec := e.do(r.method, r.path, r.body, authNone); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s %s without credentials: %d", r.method, r.path, rec.Code)
		}
	}
	rec := e.do("GET", "/system/queue", "", authRight)
	var st api.QueueStats
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.Depth != 3 || len(st.Functions) != 1 {
		t.Errorf("stats %d %q", rec.Code, rec.Body)
	}
	if rec := e.do("GET", "/system/queue/dead-letters?function=f&limit=8", "", authRight); rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Errorf("dead letters %d %q", rec.Code, rec.Body)
	}
	if got := q.listed[0]; got != "f/openfaas-fn/x" {
		t.Errorf("listed %q: the namespace defaults with a function", got)
	}
	for _, bad := range []string{"?limit=0", "?limit=x", "?function=Bad_Name", "?namespace=a.b"} {
		if rec := e.do("GET", "/system/queue/dead-letters"+bad, "", authRight); rec.Code != http.StatusBadRequest {
			t.Errorf("dead letters %s: %d", bad, rec.Code)
		}
	}
	rec = e.do("POST", "/system/queue/redrive", `{"function":"f","ids":[4,5]}`, authRight)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"redriven":2`) {
		t.Errorf("redrive %d %q", rec.Code, rec.Body)
	}
	if r := q.redrive[0]; r.Function != "f" || r.Namespace != "openfaas-fn" || len(r.IDs) != 2 {
		t.Errorf("redrive request %+v", r)
	}
	if rec := e.do("POST", "/system/queue/redrive", `{"function":"../x"}`, authRight); rec.Code != http.StatusBadRequest {
		t.Errorf("redrive of a bad name: %d", rec.Code)
	}
	rec = e.do("POST", "/system/queue/purge", `{"namespace":"dev"}`, authRight)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"purged":1`) || q.purged[0].Namespace != "dev" || q.purged[0].Function != "" {
		t.Errorf("purge %d %q %+v", rec.Code, rec.Body, q.purged)
	}
}

func TestValidateHook(t *testing.T) {
	fns := &fakeFunctions{}
	var buf bytes.Buffer
	cfg := Config{Credentials: creds, Validate: func(d api.FunctionDeployment) error {
		return queue.Validate(d.Labels, d.Annotations)
	}}
	e := &env{fns: fns, gw: New(fns, invoked, cfg, slog.New(slog.NewTextHandler(&buf, nil))), log: &buf}
	rec := e.do("POST", "/system/functions", `{"service":"f","image":"i","annotations":{"com.openfaas.retry.attempts":"x"}}`, authRight)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "com.openfaas.retry.attempts") {
		t.Errorf("deploy with a bad annotation: %d %q", rec.Code, rec.Body)
	}
	if len(fns.all()) != 0 {
		t.Error("the provider was called")
	}
}
