package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/basicauth"
	"github.com/funcd/funcd/provider"
)

// call is one call the gateway made on the provider.
type call struct {
	op       string
	name, ns string
	replicas uint64
	d        api.FunctionDeployment
}

// fakeFunctions records calls. Status finds functions in statuses (keyed
// "name.ns"); List returns nil for a namespace with none, as a Go slice
// built by appending would. err, when set, is what every call answers.
type fakeFunctions struct {
	statuses   map[string]api.FunctionStatus
	namespaces []string
	err        error

	mu    sync.Mutex
	calls []call
}

func (f *fakeFunctions) record(c call) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
}

func (f *fakeFunctions) all() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

func (f *fakeFunctions) last() (call, bool) {
	cs := f.all()
	if len(cs) == 0 {
		return call{}, false
	}
	return cs[len(cs)-1], true
}

func (f *fakeFunctions) Deploy(_ context.Context, d api.FunctionDeployment) error {
	f.record(call{op: "deploy", name: d.Service, ns: d.Namespace, d: d})
	return f.err
}

func (f *fakeFunctions) Update(_ context.Context, d api.FunctionDeployment) error {
	f.record(call{op: "update", name: d.Service, ns: d.Namespace, d: d})
	return f.err
}

func (f *fakeFunctions) Delete(_ context.Context, name, ns string) error {
	f.record(call{op: "delete", name: name, ns: ns})
	return f.err
}

func (f *fakeFunctions) Scale(_ context.Context, name, ns string, replicas uint64) error {
	f.record(call{op: "scale", name: name, ns: ns, replicas: replicas})
	return f.err
}

func (f *fakeFunctions) List(ns string) []api.FunctionStatus {
	f.record(call{op: "list", ns: ns})
	var out []api.FunctionStatus
	for _, st := range f.statuses {
		if st.Namespace == ns {
			out = append(out, st)
		}
	}
	return out
}

func (f *fakeFunctions) Status(name, ns string) (api.FunctionStatus, error) {
	f.record(call{op: "status", name: name, ns: ns})
	if f.err != nil {
		return api.FunctionStatus{}, f.err
	}
	st, ok := f.statuses[name+"."+ns]
	if !ok {
		return api.FunctionStatus{}, fmt.Errorf("function %s.%s: %w", name, ns, provider.ErrNotFound)
	}
	return st, nil
}

func (f *fakeFunctions) Namespaces() []string {
	f.record(call{op: "namespaces"})
	return f.namespaces
}

var creds = basicauth.Credentials{User: "admin", Password: "s3cret-pw"}

// invoked stands in for the proxy.
var invoked = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Seen-Authorization", r.Header.Get("Authorization"))
	name, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/function/"), "/")
	_, _ = io.WriteString(w, "invoked "+name+" /"+rest)
})

type env struct {
	fns *fakeFunctions
	gw  *Gateway
	log *bytes.Buffer
}

func newEnv(fns *fakeFunctions) *env {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	cfg := Config{Credentials: creds, Version: api.VersionInfo{SHA: "abc123", Release: "0.1.0"}}
	return &env{fns: fns, gw: New(fns, invoked, cfg, log), log: &buf}
}

type auth int

const (
	authRight auth = iota
	authNone
	authWrongPassword
	authWrongUser
	authBearer
)

func (e *env) do(method, target, body string, a auth) *httptest.ResponseRecorder {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json") // as faas-cli sends it
	}
	switch a {
	case authRight:
		req.SetBasicAuth(creds.User, creds.Password)
	case authWrongPassword:
		req.SetBasicAuth(creds.User, creds.Password+"x")
	case authWrongUser:
		req.SetBasicAuth("root", creds.Password)
	case authBearer:
		req.Header.Set("Authorization", "Bearer "+creds.Password)
	}
	rec := httptest.NewRecorder()
	e.gw.ServeHTTP(rec, req)
	return rec
}

// systemRoutes is every /system route with a body it would accept.
var systemRoutes = []struct{ method, path, body string }{
	{"GET", "/system/functions", ""},
	{"POST", "/system/functions", `{"service":"f","image":"img"}`},
	{"PUT", "/system/functions", `{"service":"f","image":"img"}`},
	{"DELETE", "/system/functions", `{"functionName":"f"}`},
	{"GET", "/system/function/f", ""},
	{"POST", "/system/scale-function/f", `{"serviceName":"f","replicas":2}`},
	{"GET", "/system/info", ""},
	{"GET", "/system/namespaces", ""},
}

func TestSystemRoutesRequireAuth(t *testing.T) {
	for _, rt := range systemRoutes {
		for _, a := range []struct {
			name string
			auth auth
		}{{"none", authNone}, {"wrong password", authWrongPassword}, {"wrong user", authWrongUser}, {"bearer", authBearer}} {
			t.Run(rt.method+" "+rt.path+" "+a.name, func(t *testing.T) {
				e := newEnv(&fakeFunctions{statuses: map[string]api.FunctionStatus{"f.openfaas-fn": {Name: "f"}}})
				rec := e.do(rt.method, rt.path, rt.body, a.auth)
				if rec.Code != http.StatusUnauthorized {
					t.Errorf("%s %s = %d, want %d", rt.method, rt.path, rec.Code, http.StatusUnauthorized)
				}
				if got, want := rec.Header().Get("WWW-Authenticate"), `Basic realm="Restricted"`; got != want {
					t.Errorf("%s %s WWW-Authenticate = %q, want %q", rt.method, rt.path, got, want)
				}
				if got := rec.Body.String(); got != "invalid credentials" {
					t.Errorf("%s %s body = %q, want %q", rt.method, rt.path, got, "invalid credentials")
				}
				if cs := e.fns.all(); len(cs) != 0 {
					t.Errorf("%s %s reached the provider without credentials: %+v", rt.method, rt.path, cs)
				}
			})
		}
		t.Run(rt.method+" "+rt.path+" right", func(t *testing.T) {
			e := newEnv(&fakeFunctions{statuses: map[string]api.FunctionStatus{"f.openfaas-fn": {Name: "f"}}})
			rec := e.do(rt.method, rt.path, rt.body, authRight)
			if rec.Code != http.StatusOK && rec.Code != http.StatusAccepted {
				t.Errorf("%s %s = %d %q, want 200 or 202", rt.method, rt.path, rec.Code, rec.Body)
			}
		})
	}
}

func TestOpenRoutes(t *testing.T) {
	tests := []struct {
		method, target string
		auth           auth
		wantBody       string
	}{
		{"GET", "/healthz", authNone, "OK"},
		{"GET", "/readyz", authNone, "OK"},
		{"GET", "/function/f", authNone, "invoked f /"},
		{"POST", "/function/f.dev/a/b", authNone, "invoked f.dev /a/b"},
		{"DELETE", "/function/f/", authNone, "invoked f /"},
		{"GET", "/function/f", authWrongPassword, "invoked f /"},
		{"GET", "/function/f", authBearer, "invoked f /"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			e := newEnv(&fakeFunctions{})
			rec := e.do(tt.method, tt.target, "", tt.auth)
			if rec.Code != http.StatusOK {
				t.Errorf("%s %s = %d, want %d", tt.method, tt.target, rec.Code, http.StatusOK)
			}
			if got := rec.Body.String(); got != tt.wantBody {
				t.Errorf("%s %s body = %q, want %q", tt.method, tt.target, got, tt.wantBody)
			}
		})
	}

	t.Run("caller's Authorization reaches the function", func(t *testing.T) {
		e := newEnv(&fakeFunctions{})
		rec := e.do("GET", "/function/f", "", authBearer)
		if got, want := rec.Header().Get("X-Seen-Authorization"), "Bearer "+creds.Password; got != want {
			t.Errorf("function saw Authorization %q, want %q", got, want)
		}
	})
}

func TestList(t *testing.T) {
	created := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	fns := &fakeFunctions{statuses: map[string]api.FunctionStatus{
		"f.openfaas-fn": {Name: "f", Image: "img:1", Namespace: "openfaas-fn", CreatedAt: created},
		"g.dev":         {Name: "g", Image: "img:2", Namespace: "dev", CreatedAt: created},
	}}
	tests := []struct {
		target    string
		wantNS    string
		wantNames []string
	}{
		{"/system/functions", "openfaas-fn", []string{"f"}},
		{"/system/functions?namespace=", "openfaas-fn", []string{"f"}},
		{"/system/functions?namespace=dev", "dev", []string{"g"}},
		{"/system/functions?namespace=empty", "empty", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			e := newEnv(fns)
			rec := e.do("GET", tt.target, "", authRight)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s = %d, want %d", tt.target, rec.Code, http.StatusOK)
			}
			if got := rec.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("GET %s Content-Type = %q, want application/json", tt.target, got)
			}
			if c, _ := e.fns.last(); c.op != "list" || c.ns != tt.wantNS {
				t.Errorf("GET %s called %s(%q), want list(%q)", tt.target, c.op, c.ns, tt.wantNS)
			}
			if len(tt.wantNames) == 0 {
				if got := strings.TrimSpace(rec.Body.String()); got != "[]" {
					t.Errorf("GET %s body = %q, want []", tt.target, got)
				}
				return
			}
			var got []api.FunctionStatus
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("GET %s body %q: %v", tt.target, rec.Body, err)
			}
			var names []string
			for _, st := range got {
				names = append(names, st.Name)
			}
			if fmt.Sprint(names) != fmt.Sprint(tt.wantNames) {
				t.Errorf("GET %s names = %v, want %v", tt.target, names, tt.wantNames)
			}
		})
	}
}

func TestNamespaceSelection(t *testing.T) {
	tests := []struct {
		name           string
		method, target string
		body           string
		want           call
	}{
		{"status default", "GET", "/system/function/f", "", call{op: "status", name: "f", ns: "openfaas-fn"}},
		{"status query", "GET", "/system/function/g?namespace=dev", "", call{op: "status", name: "g", ns: "dev"}},
		{"deploy body", "POST", "/system/functions?namespace=query", `{"service":"f","image":"i","namespace":"dev"}`, call{op: "deploy", name: "f", ns: "dev"}},
		{"update body", "PUT", "/system/functions?namespace=query", `{"service":"f","image":"i","namespace":"dev"}`, call{op: "update", name: "f", ns: "dev"}},
		{"delete body over query", "DELETE", "/system/functions?namespace=query", `{"functionName":"f","namespace":"dev"}`, call{op: "delete", name: "f", ns: "dev"}},
		{"delete query", "DELETE", "/system/functions?namespace=dev", `{"functionName":"f"}`, call{op: "delete", name: "f", ns: "dev"}},
		{"delete default", "DELETE", "/system/functions", `{"functionName":"f"}`, call{op: "delete", name: "f", ns: "openfaas-fn"}},
		{"scale body over query", "POST", "/system/scale-function/f?namespace=query", `{"serviceName":"f","replicas":3,"namespace":"dev"}`, call{op: "scale", name: "f", ns: "dev", replicas: 3}},
		{"scale query", "POST", "/system/scale-function/f?namespace=dev", `{"serviceName":"f","replicas":2}`, call{op: "scale", name: "f", ns: "dev", replicas: 2}},
		{"scale default", "POST", "/system/scale-function/f", `{"serviceName":"f","replicas":0}`, call{op: "scale", name: "f", ns: "openfaas-fn", replicas: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(&fakeFunctions{statuses: map[string]api.FunctionStatus{
				"f.openfaas-fn": {Name: "f"},
				"g.dev":         {Name: "g"},
			}})
			rec := e.do(tt.method, tt.target, tt.body, authRight)
			if rec.Code >= 300 {
				t.Errorf("%s %s = %d %q, want success", tt.method, tt.target, rec.Code, rec.Body)
			}
			got, _ := e.fns.last()
			if got.op != tt.want.op || got.name != tt.want.name || got.ns != tt.want.ns || got.replicas != tt.want.replicas {
				t.Errorf("%s %s called %s(%q, %q, %d), want %s(%q, %q, %d)", tt.method, tt.target,
					got.op, got.name, got.ns, got.replicas, tt.want.op, tt.want.name, tt.want.ns, tt.want.replicas)
			}
		})
	}
}

func TestMutationsAnswer202(t *testing.T) {
	for _, rt := range systemRoutes {
		if rt.method == "GET" {
			continue
		}
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			e := newEnv(&fakeFunctions{})
			rec := e.do(rt.method, rt.path, rt.body, authRight)
			if rec.Code != http.StatusAccepted {
				t.Errorf("%s %s = %d, want %d", rt.method, rt.path, rec.Code, http.StatusAccepted)
			}
			if rec.Body.Len() != 0 {
				t.Errorf("%s %s body = %q, want empty", rt.method, rt.path, rec.Body)
			}
		})
	}
}

func TestDeployPassesSpec(t *testing.T) {
	// Legacy keys and null maps, as older faas-cli versions send them.
	body := `{"service":"f","image":"ghcr.io/x/f:1","network":"func_functions","registryAuth":"",
		"envProcess":"./handler","envVars":{"A":"1"},"labels":null,"annotations":null,
		"secrets":["s"],"limits":{"memory":"128Mi"},"readOnlyRootFilesystem":true}`
	e := newEnv(&fakeFunctions{})
	rec := e.do("POST", "/system/functions", body, authRight)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("POST /system/functions = %d %q, want %d", rec.Code, rec.Body, http.StatusAccepted)
	}
	c, _ := e.fns.last()
	d := c.d
	if d.Service != "f" || d.Image != "ghcr.io/x/f:1" || d.EnvProcess != "./handler" || d.EnvVars["A"] != "1" ||
		len(d.Secrets) != 1 || d.Limits == nil || d.Limits.Memory != "128Mi" || !d.ReadOnlyRootFilesystem {
		t.Errorf("Deploy got %+v, want the body's fields", d)
	}
}

func TestErrors(t *testing.T) {
	const leak = "dial unix /run/containerd/containerd.sock: internal-detail-42"
	tests := []struct {
		name           string
		method, target string
		body           string
		err            error
		wantCode       int
		wantBody       string // exact for an empty body, else a substring
	}{
		{"update missing", "PUT", "/system/functions", `{"service":"f","image":"i"}`, fmt.Errorf("function f.openfaas-fn: %w", provider.ErrNotFound), 404, "function f.openfaas-fn: not found"},
		{"delete missing", "DELETE", "/system/functions", `{"functionName":"f"}`, fmt.Errorf("function f.openfaas-fn: %w", provider.ErrNotFound), 404, "f.openfaas-fn"},
		{"scale missing", "POST", "/system/scale-function/f", `{"replicas":1}`, fmt.Errorf("function f.openfaas-fn: %w", provider.ErrNotFound), 404, "f.openfaas-fn"},
		{"deploy exists", "POST", "/system/functions", `{"service":"f","image":"i"}`, fmt.Errorf("function f.openfaas-fn: %w", provider.ErrExists), 409, "already exists"},
		{"deploy subnet full", "POST", "/system/functions", `{"service":"f","image":"i"}`, fmt.Errorf("deploy f: %w", errors.Join(fmt.Errorf("%w: process exited", provider.ErrStart), fmt.Errorf("%w: subnet 10.9.0.0/29 has 5 addresses for replicas, all in use; ... a larger --subnet", provider.ErrNoAddress))), 409, "subnet 10.9.0.0/29 has 5 addresses"},
		{"scale subnet full", "POST", "/system/scale-function/f", `{"replicas":9}`, fmt.Errorf("scale f to 9: %w: subnet 10.9.0.0/29 has 5 addresses for replicas, all in use; ... restart funcd with a larger --subnet", provider.ErrNoAddress), 409, "larger --subnet"},
		{"deploy invalid", "POST", "/system/functions", `{"service":"F","image":"i"}`, fmt.Errorf("%w: service (F) is invalid", provider.ErrInvalid), 400, "service (F) is invalid"},
		{"update invalid", "PUT", "/system/functions", `{"service":"f","image":""}`, fmt.Errorf("%w: image is required", provider.ErrInvalid), 400, "image is required"},
		{"deploy did not start", "POST", "/system/functions", `{"service":"f","image":"i"}`, fmt.Errorf("%w: process exited with code 1 before it was ready", provider.ErrStart), 400, "exited with code 1"},
		{"update did not start", "PUT", "/system/functions", `{"service":"f","image":"i"}`, fmt.Errorf("%w: not ready within 1s", provider.ErrStart), 400, "not ready within 1s"},
		{"scale invalid", "POST", "/system/scale-function/f", `{"replicas":99}`, fmt.Errorf("%w: replicas 99 above 5", provider.ErrInvalid), 400, "replicas 99 above 5"},
		{"deploy internal", "POST", "/system/functions", `{"service":"f","image":"i"}`, errors.New(leak), 500, ""},
		{"delete internal", "DELETE", "/system/functions", `{"functionName":"f"}`, errors.New(leak), 500, ""},
		{"status internal", "GET", "/system/function/f", "", errors.New(leak), 500, ""},
		{"deploy cancelled", "POST", "/system/functions", `{"service":"f","image":"i"}`, fmt.Errorf("pull: %w: "+leak, context.Canceled), 503, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(&fakeFunctions{err: tt.err})
			rec := e.do(tt.method, tt.target, tt.body, authRight)
			if rec.Code != tt.wantCode {
				t.Errorf("%s %s = %d, want %d", tt.method, tt.target, rec.Code, tt.wantCode)
			}
			body := rec.Body.String()
			if !strings.Contains(body, tt.wantBody) {
				t.Errorf("%s %s body = %q, want it to contain %q", tt.method, tt.target, body, tt.wantBody)
			}
			if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, "text/plain") {
				t.Errorf("%s %s Content-Type = %q, want text/plain", tt.method, tt.target, got)
			}
			if tt.wantCode >= 500 {
				if strings.Contains(body, "internal-detail-42") || strings.Contains(body, "containerd.sock") {
					t.Errorf("%s %s body = %q leaks the internal error", tt.method, tt.target, body)
				}
				if strings.TrimSpace(body) == "" {
					t.Errorf("%s %s body is empty, want a generic message", tt.method, tt.target)
				}
				if !strings.Contains(e.log.String(), "internal-detail-42") {
					t.Errorf("%s %s: log %q lacks the internal error", tt.method, tt.target, e.log)
				}
			}
		})
	}
}

func TestStatus(t *testing.T) {
	created := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	e := newEnv(&fakeFunctions{statuses: map[string]api.FunctionStatus{
		"idle.openfaas-fn": {Name: "idle", Image: "img", Namespace: "openfaas-fn", CreatedAt: created},
		"busy.openfaas-fn": {Name: "busy", Image: "img", Namespace: "openfaas-fn", Replicas: 2, AvailableReplicas: 1, InvocationCount: 7, CreatedAt: created},
	}})

	t.Run("missing has an empty body", func(t *testing.T) {
		rec := e.do("GET", "/system/function/nope", "", authRight)
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET /system/function/nope = %d, want %d", rec.Code, http.StatusNotFound)
		}
		if rec.Body.Len() != 0 {
			t.Errorf("GET /system/function/nope body = %q, want empty", rec.Body)
		}
	})

	tests := []struct {
		name     string
		present  []string
		absent   []string
		wantReps float64
	}{
		{"idle", []string{"name", "image", "namespace", "createdAt"}, []string{"replicas", "availableReplicas", "invocationCount", "envProcess", "envVars", "labels", "annotations", "secrets", "limits", "requests", "constraints", "readOnlyRootFilesystem"}, 0},
		{"busy", []string{"name", "image", "createdAt", "replicas", "availableReplicas", "invocationCount"}, nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := "/system/function/" + tt.name
			rec := e.do("GET", target, "", authRight)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s = %d, want %d", target, rec.Code, http.StatusOK)
			}
			if got := rec.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("GET %s Content-Type = %q, want application/json", target, got)
			}
			var m map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
				t.Fatalf("GET %s body %q: %v", target, rec.Body, err)
			}
			for _, k := range tt.present {
				if _, ok := m[k]; !ok {
					t.Errorf("GET %s body %s lacks %q", target, rec.Body, k)
				}
			}
			for _, k := range tt.absent {
				if _, ok := m[k]; ok {
					t.Errorf("GET %s body %s has %q, want it omitted when zero", target, rec.Body, k)
				}
			}
			if tt.wantReps > 0 && m["replicas"] != tt.wantReps {
				t.Errorf("GET %s replicas = %v, want %v", target, m["replicas"], tt.wantReps)
			}
		})
	}
}

func TestBadBodies(t *testing.T) {
	huge := `{"service":"` + strings.Repeat("a", maxBodyBytes) + `","image":"i"}`
	routes := []struct{ method, path string }{
		{"POST", "/system/functions"},
		{"PUT", "/system/functions"},
		{"DELETE", "/system/functions"},
		{"POST", "/system/scale-function/f"},
	}
	bodies := []struct {
		name     string
		body     string
		wantCode int
	}{
		{"empty", "", http.StatusBadRequest},
		{"blank", "  \n", http.StatusBadRequest},
		{"malformed", `{"service":`, http.StatusBadRequest},
		{"not an object", `["f"]`, http.StatusBadRequest},
		{"wrong type", `{"service":1,"functionName":1,"replicas":"x"}`, http.StatusBadRequest},
		{"too large", huge, http.StatusRequestEntityTooLarge},
	}
	for _, rt := range routes {
		for _, b := range bodies {
			t.Run(rt.method+" "+rt.path+" "+b.name, func(t *testing.T) {
				e := newEnv(&fakeFunctions{})
				rec := e.do(rt.method, rt.path, b.body, authRight)
				if rec.Code != b.wantCode {
					t.Errorf("%s %s = %d, want %d", rt.method, rt.path, rec.Code, b.wantCode)
				}
				if rec.Body.Len() == 0 || rec.Body.Len() > 1024 {
					t.Errorf("%s %s body is %d bytes, want a short message", rt.method, rt.path, rec.Body.Len())
				}
				if cs := e.fns.all(); len(cs) != 0 {
					t.Errorf("%s %s reached the provider with a bad body: %v", rt.method, rt.path, cs[0].op)
				}
			})
		}
	}

	// Bodies a browser can send cross-site without a preflight, and JSON
	// with something after it, never reach the provider.
	deploy := `{"service":"f","image":"i","functionName":"f","replicas":1}`
	for _, rt := range routes {
		for _, tc := range []struct {
			name, ct, body string
			want           int
		}{
			{"text/plain", "text/plain;charset=UTF-8", deploy, http.StatusUnsupportedMediaType},
			{"form", "application/x-www-form-urlencoded", deploy, http.StatusUnsupportedMediaType},
			{"multipart", "multipart/form-data; boundary=x", deploy, http.StatusUnsupportedMediaType},
			{"no type", "", deploy, http.StatusUnsupportedMediaType},
			{"trailing garbage", "application/json", deploy + `{"service":"g"}`, http.StatusBadRequest},
			{"trailing brace", "application/json", deploy + `}`, http.StatusBadRequest},
		} {
			t.Run(rt.method+" "+rt.path+" "+tc.name, func(t *testing.T) {
				e := newEnv(&fakeFunctions{})
				req := httptest.NewRequest(rt.method, rt.path, strings.NewReader(tc.body))
				if tc.ct != "" {
					req.Header.Set("Content-Type", tc.ct)
				}
				req.SetBasicAuth(creds.User, creds.Password)
				rec := httptest.NewRecorder()
				e.gw.ServeHTTP(rec, req)
				if rec.Code != tc.want {
					t.Errorf("%s %s (%s) = %d %q, want %d", rt.method, rt.path, tc.name, rec.Code, rec.Body, tc.want)
				}
				if cs := e.fns.all(); len(cs) != 0 {
					t.Errorf("%s %s (%s) reached the provider: %v", rt.method, rt.path, tc.name, cs[0].op)
				}
			})
		}
	}

	for _, body := range []string{`{}`, `{"namespace":"dev"}`, `{"functionName":""}`} {
		t.Run("delete without functionName "+body, func(t *testing.T) {
			e := newEnv(&fakeFunctions{})
			rec := e.do("DELETE", "/system/functions", body, authRight)
			if rec.Code != http.StatusBadRequest {
				t.Errorf("DELETE /system/functions %s = %d, want %d", body, rec.Code, http.StatusBadRequest)
			}
			if !strings.Contains(rec.Body.String(), "functionName") {
				t.Errorf("DELETE /system/functions %s body = %q, want it to name functionName", body, rec.Body)
			}
			if cs := e.fns.all(); len(cs) != 0 {
				t.Errorf("DELETE /system/functions %s called %s", body, cs[0].op)
			}
		})
	}
}

func TestInfo(t *testing.T) {
	e := newEnv(&fakeFunctions{})
	rec := e.do("GET", "/system/info", "", authRight)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /system/info = %d, want %d", rec.Code, http.StatusOK)
	}
	if got := rec.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("GET /system/info Content-Type = %q, want application/json", got)
	}
	var info struct {
		Provider *struct {
			Provider      string           `json:"provider"`
			Orchestration string           `json:"orchestration"`
			Version       *api.VersionInfo `json:"version"`
		} `json:"provider"`
		Version *api.VersionInfo `json:"version"`
		Arch    string           `json:"arch"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &info); err != nil {
		t.Fatalf("GET /system/info body %q: %v", rec.Body, err)
	}
	if info.Provider == nil {
		t.Fatalf("GET /system/info provider is null: %s", rec.Body)
	}
	if info.Provider.Version == nil {
		t.Errorf("GET /system/info provider.version is null: %s", rec.Body)
	} else if info.Provider.Version.Release != "0.1.0" {
		t.Errorf("GET /system/info provider.version.release = %q, want %q", info.Provider.Version.Release, "0.1.0")
	}
	if info.Provider.Provider == "" || info.Provider.Orchestration != "containerd" {
		t.Errorf("GET /system/info provider = %q/%q, want a name and containerd", info.Provider.Provider, info.Provider.Orchestration)
	}
	if info.Version == nil {
		t.Errorf("GET /system/info version is null: %s", rec.Body)
	} else if info.Version.Release != "0.1.0" || info.Version.SHA != "abc123" {
		t.Errorf("GET /system/info version = %+v, want release 0.1.0 sha abc123", *info.Version)
	}
	if info.Arch != runtime.GOARCH {
		t.Errorf("GET /system/info arch = %q, want %q", info.Arch, runtime.GOARCH)
	}
}

func TestNamespaces(t *testing.T) {
	e := newEnv(&fakeFunctions{namespaces: []string{"openfaas-fn", "dev"}})
	rec := e.do("GET", "/system/namespaces", "", authRight)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /system/namespaces = %d, want %d", rec.Code, http.StatusOK)
	}
	if got := strings.TrimSpace(rec.Body.String()); got != `["openfaas-fn","dev"]` {
		t.Errorf("GET /system/namespaces body = %s, want %s", got, `["openfaas-fn","dev"]`)
	}
}

func TestUnknownRoutes(t *testing.T) {
	tests := []struct {
		method, target string
		want           int // 0: anything but 200
	}{
		{"GET", "/system/nope", http.StatusNotFound},
		{"GET", "/system", http.StatusNotFound},
		{"GET", "/metrics", http.StatusNotFound},
		{"GET", "/functions", http.StatusNotFound},
		{"GET", "/system/function/", http.StatusNotFound},
		{"PATCH", "/system/functions", 0},
		{"GET", "/system/scale-function/f", 0},
		{"POST", "/system/info", 0},
		{"POST", "/healthz", 0},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			e := newEnv(&fakeFunctions{})
			rec := e.do(tt.method, tt.target, "", authRight)
			if tt.want != 0 && rec.Code != tt.want {
				t.Errorf("%s %s = %d, want %d", tt.method, tt.target, rec.Code, tt.want)
			}
			if tt.want == 0 && rec.Code == http.StatusOK {
				t.Errorf("%s %s = %d, want an error", tt.method, tt.target, rec.Code)
			}
			if cs := e.fns.all(); len(cs) != 0 {
				t.Errorf("%s %s called %s", tt.method, tt.target, cs[0].op)
			}
		})
	}
}

// TestCrossOriginRefused: a page on another site, in a browser holding
// the admin's Basic credentials, can send requests but cannot change
// anything: every state-changing /system route answers 403 before auth.
// The gateway's own pages and non-browser clients (no Origin) work.
func TestCrossOriginRefused(t *testing.T) {
	routes := []struct{ method, path, body string }{
		{"POST", "/system/functions", `{"service":"f","image":"i"}`},
		{"PUT", "/system/functions", `{"service":"f","image":"i"}`},
		{"DELETE", "/system/functions", `{"functionName":"f"}`},
		{"POST", "/system/scale-function/f", `{"serviceName":"f","replicas":2}`},
	}
	for _, rt := range routes {
		for _, tc := range []struct {
			name   string
			header map[string]string
			want   bool // accepted
		}{
			{"foreign Origin", map[string]string{"Origin": "http://evil.example"}, false},
			{"foreign Origin, other port", map[string]string{"Origin": "http://gw.local:9999"}, false},
			{"null Origin", map[string]string{"Origin": "null"}, false},
			{"Sec-Fetch-Site cross-site", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"}, false},
			{"Sec-Fetch-Site same-site", map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://other.gw.local"}, false},
			{"own page", map[string]string{"Origin": "http://gw.local:8080", "Sec-Fetch-Site": "same-origin"}, true},
			{"own page, old browser", map[string]string{"Origin": "http://gw.local:8080"}, true},
			{"CLI", nil, true},
		} {
			t.Run(rt.method+" "+rt.path+" "+tc.name, func(t *testing.T) {
				e := newEnv(&fakeFunctions{})
				req := httptest.NewRequest(rt.method, "http://gw.local:8080"+rt.path, strings.NewReader(rt.body))
				req.Header.Set("Content-Type", "application/json")
				req.SetBasicAuth(creds.User, creds.Password)
				for k, v := range tc.header {
					req.Header.Set(k, v)
				}
				rec := httptest.NewRecorder()
				e.gw.ServeHTTP(rec, req)
				reached := len(e.fns.all()) > 0
				if tc.want && !reached {
					t.Errorf("%s %s from %s = %d %q, want it served", rt.method, rt.path, tc.name, rec.Code, rec.Body)
				}
				if !tc.want && (reached || rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "cross-origin")) {
					t.Errorf("%s %s from %s = %d %q (provider reached: %v), want 403 naming it", rt.method, rt.path, tc.name, rec.Code, rec.Body, reached)
				}
			})
		}
	}
}
