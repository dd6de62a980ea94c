package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/funcd/funcd/internal/api"
)

// recorded is one request seen by the fake gateway.
type recorded struct {
	Method, Path, Query, Auth, ContentType, Body string
}

// fakeGateway answers every request with the status and body chosen by
// respond, recording what it received.
type fakeGateway struct {
	mu      sync.Mutex
	reqs    []recorded
	respond func(r *http.Request) (int, string)
}

func (f *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(b)})
	f.mu.Unlock()
	code, body := http.StatusOK, ""
	if f.respond != nil {
		code, body = f.respond(r)
	}
	w.WriteHeader(code)
	io.WriteString(w, body)
}

func (f *fakeGateway) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

func newFake(t *testing.T, respond func(r *http.Request) (int, string)) (*fakeGateway, *Client) {
	t.Helper()
	f := &fakeGateway{respond: respond}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, New(srv.URL+"/", WithBasicAuth("admin", "s3cret"))
}

func fixed(code int, body string) func(*http.Request) (int, string) {
	return func(*http.Request) (int, string) { return code, body }
}

func TestWriteStatusCodes(t *testing.T) {
	d := api.FunctionDeployment{Service: "figlet", Image: "ghcr.io/openfaas/figlet:latest"}
	ops := map[string]func(context.Context, *Client) error{
		"Deploy": func(ctx context.Context, c *Client) error { return c.Deploy(ctx, d) },
		"Update": func(ctx context.Context, c *Client) error { return c.Update(ctx, d) },
		"Remove": func(ctx context.Context, c *Client) error { return c.Remove(ctx, "figlet", "") },
		"Scale":  func(ctx context.Context, c *Client) error { return c.Scale(ctx, "figlet", "", 2) },
	}
	tests := []struct {
		op       string
		code     int
		wantErr  bool
		notFound bool
	}{
		{"Deploy", 200, false, false},
		{"Deploy", 202, false, false},
		{"Deploy", 201, true, false},
		{"Deploy", 204, true, false},
		{"Deploy", 400, true, false},
		{"Update", 200, false, false},
		{"Update", 202, false, false},
		{"Update", 201, true, false},
		{"Update", 404, true, true},
		{"Remove", 202, false, false},
		{"Remove", 204, true, false},
		{"Remove", 404, true, true},
		{"Scale", 200, false, false},
		{"Scale", 201, false, false},
		{"Scale", 202, false, false},
		{"Scale", 404, true, true},
		{"Scale", 500, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.op+"/"+http.StatusText(tt.code), func(t *testing.T) {
			_, c := newFake(t, fixed(tt.code, "some reason\n"))
			err := ops[tt.op](context.Background(), c)
			if (err != nil) != tt.wantErr {
				t.Fatalf("%s with status %d = %v, want error %v", tt.op, tt.code, err, tt.wantErr)
			}
			if got := errors.Is(err, ErrNotFound); got != tt.notFound {
				t.Errorf("errors.Is(%v, ErrNotFound) = %v, want %v", err, got, tt.notFound)
			}
			wantBody := "some reason"
			if tt.code == http.StatusNoContent {
				wantBody = "" // a 204 carries no body
			}
			var se *StatusError
			if tt.wantErr && (!errors.As(err, &se) || se.Code != tt.code || se.Body != wantBody) {
				t.Errorf("errors.As(%v, *StatusError) = %+v, want code %d body %q", err, se, tt.code, wantBody)
			}
		})
	}
}

func TestGetFunction(t *testing.T) {
	f, c := newFake(t, func(r *http.Request) (int, string) {
		if r.URL.Path != "/system/function/figlet" {
			return http.StatusNotFound, ""
		}
		return http.StatusOK, `{"name":"figlet","image":"img","availableReplicas":1,"createdAt":"2024-01-02T03:04:05Z"}`
	})
	ctx := context.Background()
	fn, err := c.GetFunction(ctx, "figlet", "dev")
	if err != nil || fn.Name != "figlet" || fn.AvailableReplicas != 1 {
		t.Fatalf("GetFunction(%q) = %+v, %v, want figlet with 1 available", "figlet", fn, err)
	}
	if got := f.requests()[0].Query; got != "namespace=dev" {
		t.Errorf("GetFunction query = %q, want %q", got, "namespace=dev")
	}
	_, err = c.GetFunction(ctx, "nope", "")
	var se *StatusError
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &se) || se.Code != 404 {
		t.Errorf("GetFunction(%q) = %v, want ErrNotFound and *StatusError 404", "nope", err)
	}
}

func TestListFunctions(t *testing.T) {
	f, c := newFake(t, fixed(200, `[{"name":"a","image":"x"},{"name":"b","image":"y"}]`))
	fns, err := c.ListFunctions(context.Background(), "")
	if err != nil || len(fns) != 2 || fns[1].Name != "b" {
		t.Fatalf("ListFunctions() = %+v, %v, want a and b", fns, err)
	}
	if r := f.requests()[0]; r.Method != "GET" || r.Path != "/system/functions" || r.Query != "" {
		t.Errorf("ListFunctions sent %s %s?%s, want GET /system/functions", r.Method, r.Path, r.Query)
	}
}

func TestDeployOrUpdate(t *testing.T) {
	tests := []struct {
		name    string
		putCode int
		want    []string // methods sent
		wantErr bool
	}{
		{"exists", 202, []string{"PUT"}, false},
		{"missing", 404, []string{"PUT", "POST"}, false},
		{"put fails otherwise", 400, []string{"PUT"}, true},
		{"put 500", 500, []string{"PUT"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, c := newFake(t, func(r *http.Request) (int, string) {
				if r.Method == http.MethodPut {
					return tt.putCode, ""
				}
				return http.StatusAccepted, ""
			})
			d := api.FunctionDeployment{Service: "figlet", Image: "img", EnvVars: map[string]string{"A": "b=c"}}
			err := c.DeployOrUpdate(context.Background(), d)
			if (err != nil) != tt.wantErr {
				t.Fatalf("DeployOrUpdate with PUT %d = %v, want error %v", tt.putCode, err, tt.wantErr)
			}
			var methods []string
			for _, r := range f.requests() {
				methods = append(methods, r.Method)
				var got api.FunctionDeployment
				if err := json.Unmarshal([]byte(r.Body), &got); err != nil || got.Service != "figlet" || got.EnvVars["A"] != "b=c" {
					t.Errorf("%s body = %s (%v), want the deployment", r.Method, r.Body, err)
				}
				if r.ContentType != "application/json" {
					t.Errorf("%s Content-Type = %q, want application/json", r.Method, r.ContentType)
				}
			}
			if strings.Join(methods, ",") != strings.Join(tt.want, ",") {
				t.Errorf("DeployOrUpdate sent %v, want %v", methods, tt.want)
			}
		})
	}
}

func TestRequestBodies(t *testing.T) {
	f, c := newFake(t, fixed(202, ""))
	ctx := context.Background()
	if err := c.Remove(ctx, "figlet", "dev"); err != nil {
		t.Fatalf("Remove() = %v", err)
	}
	if err := c.Scale(ctx, "figlet", "dev", 3); err != nil {
		t.Fatalf("Scale() = %v", err)
	}
	reqs := f.requests()
	want := []recorded{
		{Method: "DELETE", Path: "/system/functions", Body: `{"functionName":"figlet","namespace":"dev"}`},
		{Method: "POST", Path: "/system/scale-function/figlet", Body: `{"serviceName":"figlet","replicas":3,"namespace":"dev"}`},
	}
	for i, w := range want {
		if r := reqs[i]; r.Method != w.Method || r.Path != w.Path || r.Body != w.Body {
			t.Errorf("request %d = %s %s %s, want %s %s %s", i, r.Method, r.Path, r.Body, w.Method, w.Path, w.Body)
		}
	}
}

func TestAuthHeader(t *testing.T) {
	f, c := newFake(t, fixed(200, `{}`))
	ctx := context.Background()
	calls := map[string]func() error{
		"ListFunctions": func() error { _, err := c.ListFunctions(ctx, ""); return err },
		"Info":          func() error { _, err := c.Info(ctx); return err },
		"Health":        func() error { return c.Health(ctx) },
		"Invoke": func() error {
			h := http.Header{"X-Test": {"1"}}
			res, err := c.Invoke(ctx, "figlet", "", "POST", "/x?y=1", strings.NewReader("hi"), h)
			if err == nil {
				res.Body.Close()
			}
			return err
		},
	}
	wantAuth := map[string]bool{"/system/functions": true, "/system/info": true, "/healthz": false, "/function/figlet/x": false}
	for name, call := range calls {
		if err := call(); err != nil && name != "ListFunctions" { // {} is not a list
			t.Errorf("%s() = %v", name, err)
		}
	}
	if got := len(f.requests()); got != len(wantAuth) {
		t.Fatalf("gateway saw %d requests, want %d", got, len(wantAuth))
	}
	for _, r := range f.requests() {
		want, ok := wantAuth[r.Path]
		if !ok {
			t.Errorf("unexpected request to %s", r.Path)
			continue
		}
		if got := r.Auth != ""; got != want {
			t.Errorf("Authorization on %s = %q, want present %v", r.Path, r.Auth, want)
		}
		if want && r.Auth != "Basic YWRtaW46czNjcmV0" {
			t.Errorf("Authorization on %s = %q, want Basic admin:s3cret", r.Path, r.Auth)
		}
	}
}

func TestInvoke(t *testing.T) {
	f, c := newFake(t, fixed(503, "No endpoints available for: figlet."))
	res, err := c.Invoke(context.Background(), "figlet", "dev", "PUT", "/a/b?q=1", strings.NewReader("body"), nil)
	if err != nil {
		t.Fatalf("Invoke() = %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 503 || string(b) != "No endpoints available for: figlet." {
		t.Errorf("Invoke() = %d %q, want the function's 503 response", res.StatusCode, b)
	}
	r := f.requests()[0]
	if r.Method != "PUT" || r.Path != "/function/figlet.dev/a/b" || r.Query != "q=1" || r.Body != "body" {
		t.Errorf("Invoke sent %s %s?%s %q, want PUT /function/figlet.dev/a/b?q=1 body", r.Method, r.Path, r.Query, r.Body)
	}
	if _, err := c.Invoke(context.Background(), "figlet", "", "GET", "nope", nil, nil); err == nil {
		t.Errorf("Invoke(path %q) = nil error, want error", "nope")
	}
}

func TestNoRedirectOnSystem(t *testing.T) {
	_, c := newFake(t, func(r *http.Request) (int, string) {
		if r.URL.Path == "/system/functions" {
			return http.StatusFound, ""
		}
		return http.StatusOK, "[]"
	})
	_, err := c.ListFunctions(context.Background(), "")
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusFound {
		t.Errorf("ListFunctions() on a redirect = %v, want *StatusError 302", err)
	}
}

func TestFunctionURL(t *testing.T) {
	c := New("http://GW:8080///")
	tests := []struct{ name, ns, want string }{
		{"figlet", "", "http://GW:8080/function/figlet"},
		{"figlet", api.DefaultNamespace, "http://GW:8080/function/figlet"},
		{"figlet", "dev", "http://GW:8080/function/figlet.dev"},
	}
	for _, tt := range tests {
		if got := c.FunctionURL(tt.name, tt.ns); got != tt.want {
			t.Errorf("FunctionURL(%q, %q) = %q, want %q", tt.name, tt.ns, got, tt.want)
		}
	}
	if got := c.Gateway(); got != "http://GW:8080" {
		t.Errorf("Gateway() = %q, want %q", got, "http://GW:8080")
	}
}
