package ui

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/metrics"
)

// fakeTotals are fixed counts, keyed "NAME.NS".
type fakeTotals map[string]metrics.Totals

func (f fakeTotals) Totals() map[string]metrics.Totals { return f }

// fakeFailures are fixed failures, keyed "NAME.NS".
type fakeFailures map[string]Failure

func (f fakeFailures) LastFailure(name, ns string) (Failure, bool) {
	v, ok := f[name+"."+ns]
	return v, ok
}

// authed serves a request with a fresh session's cookie and CSRF header.
func (e *env) authed(method, target, body string) *http.Response {
	e.t.Helper()
	cookie, csrf := e.session()
	return e.do(method, target, body, map[string]string{"Cookie": cookie, CSRFHeader: csrf})
}

func TestHeadersOnEveryAnswer(t *testing.T) {
	e := newEnv(t, Config{Functions: fakeFunctions{}})
	cookie, csrf := e.session()
	a := map[string]string{"Cookie": cookie, CSRFHeader: csrf}
	for i := 0; i < freeFailures; i++ {
		e.login("admin", "wrong", "", map[string]string{"RemoteAddr": "192.0.2.9:1"})
	}
	for _, c := range []struct {
		method, path, body string
		hdr                map[string]string
		want               int
		noStore            bool
	}{
		{"GET", "/", "", nil, 307, true},
		{"GET", "/ui/", "", nil, 303, true},
		{"GET", "/ui/", "", a, 200, true},
		{"GET", "/ui/login", "", nil, 200, true},
		{"GET", "/ui/login.js", "", nil, 200, false},
		{"GET", "/ui/app.css", "", nil, 200, false},
		{"POST", "/ui/login", "user=admin&password=x", nil, 303, true},
		{"POST", "/ui/login", "user=admin&password=x", map[string]string{"RemoteAddr": "192.0.2.9:1"}, 429, true},
		{"POST", "/ui/login", "", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, true},
		{"PUT", "/ui/", "", nil, 405, true},
		{"GET", "/ui/api/functions", "", nil, 401, true},
		{"GET", "/ui/api/functions", "", map[string]string{"Cookie": cookie}, 403, true},
		{"GET", "/ui/api/functions", "", a, 200, true},
		{"GET", "/ui/api/nothing", "", a, 404, true},
		{"GET", "/ui/api/history", "", a, 400, true},
		{"GET", "/ui/api/session", "", nil, 401, true},
	} {
		resp := e.do(c.method, c.path, c.body, c.hdr)
		if resp.StatusCode != c.want {
			t.Errorf("%s %s = %d, want %d", c.method, c.path, resp.StatusCode, c.want)
		}
		h := resp.Header
		for k, v := range map[string]string{"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
			"Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
			if h.Get(k) != v {
				t.Errorf("%s %s (%d): %s = %q, want %q", c.method, c.path, resp.StatusCode, k, h.Get(k), v)
			}
		}
		if got := h.Get("Cache-Control") == "no-store"; got != c.noStore {
			t.Errorf("%s %s: Cache-Control %q, want no-store %v", c.method, c.path, h.Get("Cache-Control"), c.noStore)
		}
	}
}

func TestAssets(t *testing.T) {
	e := newEnv(t, Config{})
	resp := e.do("GET", "/ui/login.js", "", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("GET /ui/login.js = %d %q %q, want 200 JavaScript no-cache", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
	}
	etag := resp.Header.Get("ETag")
	want, _ := embedded.ReadFile("assets/login.js")
	if b, _ := io.ReadAll(resp.Body); string(b) != string(want) || etag == "" {
		t.Errorf("GET /ui/login.js: %d bytes, ETag %q; want the embedded file and an ETag", len(b), etag)
	}
	if resp := e.do("GET", "/ui/login.js", "", map[string]string{"If-None-Match": etag}); resp.StatusCode != http.StatusNotModified {
		t.Errorf("GET /ui/login.js with its ETag = %d, want 304", resp.StatusCode)
	}
	if resp := e.do("GET", "/ui/login.js", "", map[string]string{"If-None-Match": `"other"`}); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /ui/login.js with another ETag = %d, want 200", resp.StatusCode)
	}
	if resp := e.do("GET", "/ui/app.css", "", nil); resp.Header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Errorf("GET /ui/app.css type = %q", resp.Header.Get("Content-Type"))
	}
	resp = e.do("GET", "/ui/login", "", nil)
	b, _ := io.ReadAll(resp.Body)
	if want, _ := embedded.ReadFile("assets/login.html"); string(b) != string(want) {
		t.Errorf("GET /ui/login is not assets/login.html")
	}
	// Query text never reaches the page: it is static.
	resp = e.do("GET", "/ui/login?error=%3Cscript%3E", "", nil)
	if b, _ := io.ReadAll(resp.Body); strings.Contains(string(b), "<script>") {
		t.Errorf("GET /ui/login?error=<script> echoes the query")
	}
}

func TestFunctionsEndpoint(t *testing.T) {
	at := time.Date(2026, 12, 2, 19, 0, 0, 0, time.UTC)
	e := newEnv(t, Config{
		Functions: fakeFunctions{
			"openfaas-fn": {
				{Name: "ok", Image: "ok:1", Replicas: 2, AvailableReplicas: 2, InvocationCount: 7},
				{Name: "crashing", Replicas: 1, AvailableReplicas: 0},
				{Name: "recovered", Replicas: 1, AvailableReplicas: 1},
				{Name: "asleep", Replicas: 0},
				{Name: "starting", Replicas: 3, AvailableReplicas: 1},
			},
			"dev": {{Name: "ok", Replicas: 1, AvailableReplicas: 1}},
		},
		Totals: fakeTotals{"ok.openfaas-fn": {Invocations: 7, Errors: 2, ColdStarts: 3}, "ok.dev": {ColdStarts: 9}},
		Failures: fakeFailures{
			"crashing.openfaas-fn":  {Message: "function did not start: <img src=x>", At: at, Failing: true},
			"recovered.openfaas-fn": {Message: "replica exited with code 2", At: at},
		},
	})
	resp := e.authed("GET", "/ui/api/functions", "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /ui/api/functions = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var rows []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&rows); err != nil {
		t.Fatal(err)
	}
	byName := map[string]map[string]any{}
	for _, r := range rows {
		byName[r["name"].(string)] = r
	}
	for _, c := range []struct {
		name, state, lastError string
		cold, errs             float64
		at                     bool
	}{
		{"ok", StateReady, "", 3, 2, false},
		{"crashing", StateFailing, "function did not start: <img src=x>", 0, 0, true},
		{"recovered", StateReady, "replica exited with code 2", 0, 0, true},
		{"asleep", StateZero, "", 0, 0, false},
		{"starting", StateScaling, "", 0, 0, false},
	} {
		r := byName[c.name]
		if r == nil {
			t.Errorf("no row for %s in %v", c.name, rows)
			continue
		}
		_, hasAt := r["lastErrorAt"]
		if r["state"] != c.state || r["lastError"] != c.lastError || r["coldStarts"] != c.cold || r["errors"] != c.errs || hasAt != c.at {
			t.Errorf("row %s = %v, want state %s, lastError %q, coldStarts %v, errors %v, lastErrorAt %v", c.name, r, c.state, c.lastError, c.cold, c.errs, c.at)
		}
	}
	if r := byName["crashing"]; r != nil && r["lastErrorAt"] != "2026-12-02T19:00:00Z" {
		t.Errorf("lastErrorAt = %v, want RFC 3339", r["lastErrorAt"])
	}
	if r := byName["ok"]; r["image"] != "ok:1" || r["invocationCount"] != 7.0 || r["namespace"] != "openfaas-fn" || r["availableReplicas"] != 2.0 {
		t.Errorf("row ok = %v, want the /system/functions fields too", r)
	}
	resp = e.authed("GET", "/ui/api/functions?namespace=dev", "")
	rows = nil
	_ = json.NewDecoder(resp.Body).Decode(&rows)
	if len(rows) != 1 || rows[0]["coldStarts"] != 9.0 || rows[0]["namespace"] != "dev" {
		t.Errorf("GET /ui/api/functions?namespace=dev = %v, want ok.dev with 9 cold starts", rows)
	}
	resp = e.authed("GET", "/ui/api/functions?namespace=none", "")
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || strings.TrimSpace(string(b)) != "[]" {
		t.Errorf("GET /ui/api/functions?namespace=none = %d %s, want 200 []", resp.StatusCode, b)
	}
	// Basic auth works as for /system.
	resp = e.do("GET", "/ui/api/functions", "", map[string]string{"Authorization": basicHeader("admin", testPassword)})
	if resp.StatusCode != 200 {
		t.Errorf("GET /ui/api/functions with Basic = %d, want 200", resp.StatusCode)
	}
}

func TestHistoryEndpoint(t *testing.T) {
	src := fakeTotals{"echo.openfaas-fn": {Invocations: 4, Errors: 1, Seconds: 2}}
	hist := NewHistory(src)
	e := newEnv(t, Config{Functions: fakeFunctions{"openfaas-fn": {{Name: "echo"}}, "dev": {{Name: "quiet"}}}, History: hist})
	for _, c := range []struct {
		target string
		want   int
	}{
		{"/ui/api/history", 400},
		{"/ui/api/history?name=nope", 404},
		{"/ui/api/history?name=echo&namespace=dev", 404},
		{"/ui/api/history?name=quiet&namespace=dev", 200},
		{"/ui/api/history?name=echo", 200},
	} {
		if resp := e.authed("GET", c.target, ""); resp.StatusCode != c.want {
			t.Errorf("GET %s = %d, want %d", c.target, resp.StatusCode, c.want)
		}
	}
	resp := e.authed("GET", "/ui/api/history?name=echo&namespace=openfaas-fn", "")
	var got struct {
		StepSeconds int `json:"stepSeconds"`
		Points      []struct {
			Time        string  `json:"time"`
			Invocations uint64  `json:"invocations"`
			Errors      uint64  `json:"errors"`
			AvgSeconds  float64 `json:"avgSeconds"`
		} `json:"points"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.StepSeconds != 60 || len(got.Points) != HistoryMinutes {
		t.Fatalf("history = step %d, %d points; want 60, %d", got.StepSeconds, len(got.Points), HistoryMinutes)
	}
	last := got.Points[len(got.Points)-1]
	if last.Time != "2026-12-02T20:00:00Z" || last.Invocations != 4 || last.Errors != 1 || last.AvgSeconds != 0.5 {
		t.Errorf("current minute = %+v, want 20:00, 4 invocations, 1 error, 0.5 s", last)
	}
	if first := got.Points[0]; first.Time != "2026-12-02T19:01:00Z" || first.Invocations != 0 {
		t.Errorf("oldest point = %+v, want 19:01 with nothing", first)
	}
}

// TestHistoryRing checks the ring's arithmetic: deltas land in the minute
// before each sample, gaps read as zeros, an hour-old minute drops out.
func TestHistoryRing(t *testing.T) {
	src := fakeTotals{}
	h := NewHistory(src)
	t0 := time.Date(2026, 12, 2, 20, 0, 0, 0, time.UTC) // a minute's start
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	points := func(now time.Time) map[time.Time]Point {
		out := map[time.Time]Point{}
		ps := h.Points("f.ns", now)
		if len(ps) != HistoryMinutes {
			t.Fatalf("Points = %d points, want %d", len(ps), HistoryMinutes)
		}
		for i, p := range ps {
			if i > 0 && p.Time.Sub(ps[i-1].Time) != time.Minute {
				t.Fatalf("points %d and %d are %v apart", i-1, i, p.Time.Sub(ps[i-1].Time))
			}
			out[p.Time] = p
		}
		if want := now.Truncate(time.Minute); ps[len(ps)-1].Time != want {
			t.Fatalf("last point at %v, want %v", ps[len(ps)-1].Time, want)
		}
		return out
	}

	h.sample(at(0).Add(time.Second)) // nothing counted: no ring
	if h.Len() != 0 {
		t.Errorf("%d rings before any traffic, want 0", h.Len())
	}
	src["f.ns"] = metrics.Totals{Invocations: 10, Errors: 2, Seconds: 5}
	h.sample(at(1)) // minute 0 had 10
	if h.Len() != 1 {
		t.Errorf("%d rings after traffic, want 1", h.Len())
	}
	src["f.ns"] = metrics.Totals{Invocations: 13, Errors: 2, Seconds: 8}
	h.sample(at(2)) // minute 1 had 3
	// no sample at 3 or 4 (funcd stopped, say); minute 5's sample sees 7 more
	src["f.ns"] = metrics.Totals{Invocations: 20, Errors: 3, Seconds: 15}
	h.sample(at(5).Add(200 * time.Millisecond))
	src["f.ns"] = metrics.Totals{Invocations: 21, Errors: 3, Seconds: 16} // minute 5 so far

	ps := points(at(5).Add(30 * time.Second))
	for _, c := range []struct {
		min       int
		inv, errs uint64
		avg       float64
	}{
		{-1, 0, 0, 0}, {0, 10, 2, 0.5}, {1, 3, 0, 1}, {2, 0, 0, 0}, {3, 0, 0, 0}, {4, 7, 1, 1}, {5, 1, 0, 1},
	} {
		p, ok := ps[at(c.min)]
		if !ok || p.Invocations != c.inv || p.Errors != c.errs || p.AvgSeconds != c.avg {
			t.Errorf("minute %d = %+v (found %v), want %d invocations, %d errors, %v s", c.min, p, ok, c.inv, c.errs, c.avg)
		}
	}
	// An hour later minute 0 has dropped out; minute 4 is the oldest left.
	ps = points(at(4 + HistoryMinutes - 1))
	if _, ok := ps[at(0)]; ok {
		t.Errorf("minute 0 still listed an hour on")
	}
	if p := ps[at(4)]; p.Invocations != 7 {
		t.Errorf("minute 4 an hour on = %+v, want 7 invocations", p)
	}
	// The next sample, an hour on, puts minute 5's one invocation in the
	// minute before it, in minute 4's old slot: nothing older shows through.
	h.sample(at(5 + HistoryMinutes))
	ps = points(at(5 + HistoryMinutes))
	for tm, p := range ps {
		if want := tm.Equal(at(4 + HistoryMinutes)); (p.Invocations == 1) != want || p.Invocations > 1 {
			t.Errorf("after an hour, %v = %+v, want 1 invocation only at %v", tm, p, at(4+HistoryMinutes))
		}
	}
}

func TestStackEndpoint(t *testing.T) {
	e := newEnv(t, Config{})
	const yml = `provider: {name: openfaas}
functions:
  b:
    image: fn/b:${TAG:-1}
    environment: {A: "1"}
  a:
    image: fn/a
    namespace: team
    limits: {memory: 64Mi}
`
	resp := e.authed("POST", "/ui/api/stack?namespace=dev", yml)
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST /ui/api/stack = %d %s", resp.StatusCode, b)
	}
	var ds []api.FunctionDeployment
	if err := json.NewDecoder(resp.Body).Decode(&ds); err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].Service != "a" || ds[0].Namespace != "team" || ds[0].Limits == nil || ds[0].Limits.Memory != "64Mi" ||
		ds[1].Service != "b" || ds[1].Namespace != "dev" || ds[1].Image != "fn/b:1" || ds[1].EnvVars["A"] != "1" {
		t.Errorf("POST /ui/api/stack = %+v, want a in team and b in dev", ds)
	}
	resp = e.authed("POST", "/ui/api/stack", "provider: {name: openfaas}\nfunctions: {a: {image: x}}")
	ds = nil
	_ = json.NewDecoder(resp.Body).Decode(&ds)
	if len(ds) != 1 || ds[0].Namespace != api.DefaultNamespace {
		t.Errorf("without ?namespace = %+v, want the default namespace", ds)
	}
	for _, c := range []struct{ name, body, want string }{
		{"bad yaml", "provider: {name: openfaas}\nfunctions:\n  a:\n    image: [\n", "line"},
		{"no image", "provider: {name: openfaas}\nfunctions: {a: {fprocess: cat}}", "function a: image is required"},
		{"provider", "provider: {name: faas}\nfunctions: {a: {image: x}}", `provider.name is "faas"`},
		{"env file", "provider: {name: openfaas}\nfunctions: {a: {image: x, environment_file: [/etc/passwd]}}", "environment_file"},
		{"empty", "", "provider.name"},
		{"no functions", "provider: {name: openfaas}\n", "no functions"},
	} {
		resp := e.authed("POST", "/ui/api/stack", c.body)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 400 || !strings.Contains(string(b), c.want) {
			t.Errorf("%s: POST /ui/api/stack = %d %q, want 400 naming %q", c.name, resp.StatusCode, b, c.want)
		}
	}
	big := "provider: {name: openfaas}\n#" + strings.Repeat("x", maxStackBytes)
	if resp := e.authed("POST", "/ui/api/stack", big); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("POST /ui/api/stack of %d bytes = %d, want 413", len(big), resp.StatusCode)
	}
	cookie, csrf := e.session()
	if resp := e.do("POST", "/ui/api/stack", yml, map[string]string{"Cookie": cookie, CSRFHeader: csrf, "Sec-Fetch-Site": "cross-site"}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST /ui/api/stack = %d, want 403", resp.StatusCode)
	}
}
