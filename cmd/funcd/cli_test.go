package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/client"
)

// seen is one request received by the fake gateway.
type seen struct {
	Method, Path, Query, Auth, Body string
	Header                          http.Header
}

// fakeGateway is a scripted gateway: routes maps "METHOD /path" to a
// status and body; anything else is 404. With user set, /system calls
// need those Basic credentials.
type fakeGateway struct {
	URL        string
	user, pass string
	routes     map[string]fakeResponse
	mu         sync.Mutex
	reqs       []seen
}

type fakeResponse struct {
	code int
	body string
}

func newFakeGateway(t *testing.T, routes map[string]fakeResponse) *fakeGateway {
	t.Helper()
	g := &fakeGateway{routes: routes}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	g.URL = srv.URL
	return g
}

func (g *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	g.mu.Lock()
	g.reqs = append(g.reqs, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), string(b), r.Header.Clone()})
	g.mu.Unlock()
	if u, p, _ := r.BasicAuth(); g.user != "" && strings.HasPrefix(r.URL.Path, "/system/") && (u != g.user || p != g.pass) {
		http.Error(w, "invalid credentials", http.StatusUnauthorized)
		return
	}
	res, ok := g.routes[r.Method+" "+r.URL.Path]
	if !ok {
		res = fakeResponse{http.StatusNotFound, ""}
	}
	w.WriteHeader(res.code)
	io.WriteString(w, res.body)
}

func (g *fakeGateway) requests() []seen {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]seen(nil), g.reqs...)
}

// runCLI runs a subcommand with stdin and environment variables, returning
// stdout, stderr and the error.
func runCLI(t *testing.T, vars map[string]string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	cmd, ok := cliCommands[args[0]]
	if !ok {
		t.Fatalf("no command %q", args[0])
	}
	if _, set := vars["OPENFAAS_CONFIG"]; !set {
		vars["OPENFAAS_CONFIG"] = t.TempDir()
	}
	var stdout, stderr bytes.Buffer
	env := cliEnv{
		Stdin:  strings.NewReader(stdin),
		Stdout: &stdout,
		Stderr: &stderr,
		Getenv: func(k string) string { return vars[k] },
	}
	err := cmd.run(context.Background(), env, args[1:])
	return stdout.String(), stderr.String(), err
}

func TestDeployFlags(t *testing.T) {
	g := newFakeGateway(t, map[string]fakeResponse{"POST /system/functions": {202, ""}})
	stdout, _, err := runCLI(t, map[string]string{}, "", "deploy", "--gateway", g.URL,
		"--name", "figlet", "--image", "ghcr.io/openfaas/figlet:latest", "-n", "dev",
		"--env", "A=b=c", "-e", "B=", "--label", "com.openfaas.scale.min=2", "--annotation", "topic=x",
		"--secret", "s1", "--secret", "s2", "--fprocess", "figlet", "--readonly")
	if err != nil {
		t.Fatalf("deploy = %v", err)
	}
	reqs := g.requests()
	if len(reqs) != 2 || reqs[0].Method != "PUT" || reqs[1].Method != "POST" {
		t.Fatalf("deploy sent %+v, want PUT then POST", reqs)
	}
	var got api.FunctionDeployment
	if err := json.Unmarshal([]byte(reqs[1].Body), &got); err != nil {
		t.Fatal(err)
	}
	want := api.FunctionDeployment{
		Service: "figlet", Image: "ghcr.io/openfaas/figlet:latest", Namespace: "dev", EnvProcess: "figlet",
		EnvVars:                map[string]string{"A": "b=c", "B": ""},
		Secrets:                []string{"s1", "s2"},
		Labels:                 map[string]string{"com.openfaas.scale.min": "2"},
		Annotations:            map[string]string{"topic": "x"},
		ReadOnlyRootFilesystem: true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("deploy body = %+v, want %+v", got, want)
	}
	if wantURL := "URL: " + g.URL + "/function/figlet.dev\n"; !strings.Contains(stdout, "Deployed.") || !strings.Contains(stdout, wantURL) {
		t.Errorf("deploy stdout = %q, want Deployed. and %q", stdout, wantURL)
	}
}

func TestDeployStack(t *testing.T) {
	g := newFakeGateway(t, map[string]fakeResponse{"PUT /system/functions": {200, ""}})
	dir := t.TempDir()
	stackYML := `version: 1.0
provider:
  name: openfaas
  gateway: ${GW}
functions:
  api:
    image: acme/api:1
    environment: {A: stack, B: stack}
  batch:
    image: acme/batch:1
  web:
    image: acme/web:1
`
	stackPath := filepath.Join(dir, "stack.yml")
	if err := os.WriteFile(stackPath, []byte(stackYML), 0o644); err != nil {
		t.Fatal(err)
	}
	// The stack's gateway is used: no --gateway and no OPENFAAS_URL.
	_, _, err := runCLI(t, map[string]string{"GW": g.URL}, "", "deploy", "-f", stackPath, "--filter", "[ab]*", "--env", "B=flag")
	if err != nil {
		t.Fatalf("deploy -f = %v", err)
	}
	var names []string
	for _, r := range g.requests() {
		var d api.FunctionDeployment
		json.Unmarshal([]byte(r.Body), &d)
		names = append(names, d.Service)
		if d.Service == "api" && !reflect.DeepEqual(d.EnvVars, map[string]string{"A": "stack", "B": "flag"}) {
			t.Errorf("api envVars = %v, want A=stack B=flag", d.EnvVars)
		}
	}
	if strings.Join(names, ",") != "api,batch" {
		t.Errorf("deploy -f --filter deployed %v, want [api batch]", names)
	}
}

func TestDeployErrors(t *testing.T) {
	g := newFakeGateway(t, map[string]fakeResponse{"PUT /system/functions": {400, "image is required\n"}})
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no image", []string{"--name", "x"}, "--name and --image are required"},
		{"bad env", []string{"--name", "x", "--image", "i", "--env", "NOEQUALS"}, `--env "NOEQUALS"`},
		{"stack and name", []string{"-f", "stack.yml", "--name", "x"}, "cannot be combined"},
		{"unknown flag", []string{"--bogus"}, "flag provided but not defined"},
		{"positional", []string{"--name", "x", "--image", "i", "extra"}, "want no arguments"},
		{"server error", []string{"--name", "x", "--image", "i"}, "400 Bad Request: image is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"deploy", "-g", g.URL}, tt.args...)
			_, _, err := runCLI(t, map[string]string{}, "", args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("deploy %v = %v, want error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestLoginThenList(t *testing.T) {
	g := newFakeGateway(t, map[string]fakeResponse{
		"GET /system/functions": {200, `[{"name":"figlet","image":"ghcr.io/openfaas/figlet","invocationCount":42,"replicas":1,"availableReplicas":1,"usage":{"cpu":15.2,"totalMemoryBytes":13107200}},{"name":"env","image":"ghcr.io/openfaas/alpine","createdAt":"2024-01-02T03:04:05Z"}]`},
	})
	g.user, g.pass = "admin", "pa:ss"
	cfg := t.TempDir()
	vars := map[string]string{"OPENFAAS_URL": g.URL + "/", "OPENFAAS_CONFIG": cfg}

	_, _, err := runCLI(t, vars, "wrong\n", "login", "--password-stdin")
	if err == nil || err.Error() != "unable to login, either username or password is incorrect" {
		t.Errorf("login with a bad password = %v, want the incorrect-credentials error", err)
	}
	if _, err := os.Stat(filepath.Join(cfg, client.ConfigFileName)); !os.IsNotExist(err) {
		t.Errorf("config file after failed login: stat = %v, want not exist", err)
	}

	if _, _, err := runCLI(t, vars, "  pa:ss\n", "login", "-u", "admin", "-s"); err != nil {
		t.Fatalf("login = %v", err)
	}
	user, pass, ok, err := client.LoadCredentials(cfg, g.URL)
	if err != nil || !ok || user != "admin" || pass != "pa:ss" {
		t.Fatalf("LoadCredentials after login = %q, %q, %v, %v, want admin, pa:ss", user, pass, ok, err)
	}

	stdout, _, err := runCLI(t, vars, "", "list")
	if err != nil {
		t.Fatalf("list = %v", err)
	}
	want := "NAME    INVOCATIONS  REPLICAS  IMAGE\n" +
		"env     0            0/0       ghcr.io/openfaas/alpine\n" +
		"figlet  42           1/1       ghcr.io/openfaas/figlet\n"
	if stdout != want {
		t.Errorf("list output =\n%s\nwant\n%s", stdout, want)
	}
	for _, flag := range []string{"-v", "--usage"} {
		stdout, _, err = runCLI(t, vars, "", "list", flag)
		if err != nil {
			t.Fatalf("list %s = %v", flag, err)
		}
		want = "NAME    INVOCATIONS  REPLICAS  IMAGE                    MEMORY    CPU  NAMESPACE  CREATED\n" +
			"env     0            0/0       ghcr.io/openfaas/alpine  -         -    -          2024-01-02T03:04:05Z\n" +
			"figlet  42           1/1       ghcr.io/openfaas/figlet  12.5 MiB  15m  -          -\n"
		if stdout != want {
			t.Errorf("list %s output =\n%s\nwant\n%s", flag, stdout, want)
		}
	}
}

func TestInvoke(t *testing.T) {
	g := newFakeGateway(t, map[string]fakeResponse{
		"PUT /function/echo.dev/items/1": {200, "echoed"},
		"POST /function/broken":          {503, "No endpoints available for: broken.\n"},
	})
	cfg := t.TempDir()
	if err := client.SaveCredentials(cfg, g.URL, "admin", "secret"); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"OPENFAAS_URL": g.URL, "OPENFAAS_CONFIG": cfg}

	stdout, _, err := runCLI(t, vars, "hello", "invoke", "echo.dev", "--method", "put", "--path", "/items/1", "-H", "X-Sig=a=b", "--query", "q=1")
	if err != nil || stdout != "echoed" {
		t.Fatalf("invoke = %q, %v, want %q", stdout, err, "echoed")
	}
	r := g.requests()[0]
	if r.Body != "hello" || r.Query != "q=1" || r.Header.Get("X-Sig") != "a=b" || r.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("invoke sent body %q query %q headers %v, want stdin, q=1, X-Sig a=b, text/plain", r.Body, r.Query, r.Header)
	}
	if r.Auth != "" {
		t.Errorf("invoke sent Authorization %q, want none", r.Auth)
	}

	stdout, _, err = runCLI(t, vars, "", "invoke", "broken")
	if err == nil || !strings.Contains(err.Error(), "503 - No endpoints available for: broken.") || stdout != "" {
		t.Errorf("invoke of a 503 = %q, %v, want an error with status and body", stdout, err)
	}
}

func TestDescribe(t *testing.T) {
	g := newFakeGateway(t, map[string]fakeResponse{
		"GET /system/function/figlet": {200, `{"name":"figlet","image":"img","namespace":"dev","envProcess":"figlet","replicas":1,"availableReplicas":1,"invocationCount":3,"usage":{"cpu":250,"totalMemoryBytes":73400320},"labels":{"b":"2","a":"1"},"envVars":{"K":"V"},"secrets":["s"],"createdAt":"2024-01-02T03:04:05Z"}`},
		"GET /system/function/cold":   {200, `{"name":"cold","image":"img","replicas":1}`},
	})
	vars := map[string]string{"OPENFAAS_URL": g.URL}
	tests := []struct {
		args    []string
		want    []string
		wantErr string
	}{
		{[]string{"figlet", "-n", "dev"}, []string{"Status:             Ready\n", "URL:                " + g.URL + "/function/figlet.dev\n",
			"Labels:             a=1\n                    b=2\n", "Environment:        K=V\n", "Secrets:            s\n", "Created:            2024-01-02T03:04:05Z\n",
			"Invocations:        3\n", "Memory:             70.0 MiB\n", "CPU:                250m\n"}, ""},
		{[]string{"cold"}, []string{"Status:             Not Ready\n", "Memory:             -\n", "CPU:                -\n", "Annotations:        -\n"}, ""},
		{[]string{"nope"}, nil, "no such function: nope"},
	}
	for _, tt := range tests {
		t.Run(tt.args[0], func(t *testing.T) {
			stdout, _, err := runCLI(t, vars, "", append([]string{"describe"}, tt.args...)...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("describe %v = %v, want error %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("describe %v = %v", tt.args, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("describe %v output =\n%s\nwant it to contain %q", tt.args, stdout, w)
				}
			}
		})
	}
	if q := g.requests()[0].Query; q != "namespace=dev" {
		t.Errorf("describe figlet -n dev query = %q, want namespace=dev", q)
	}
}

func TestRemoveAndScale(t *testing.T) {
	g := newFakeGateway(t, map[string]fakeResponse{
		"DELETE /system/functions":           {202, ""},
		"POST /system/scale-function/figlet": {202, ""},
	})
	vars := map[string]string{"OPENFAAS_URL": g.URL}
	if _, _, err := runCLI(t, vars, "", "rm", "figlet.dev"); err != nil {
		t.Fatalf("rm = %v", err)
	}
	if _, _, err := runCLI(t, vars, "", "scale", "figlet", "--replicas", "3"); err != nil {
		t.Fatalf("scale = %v", err)
	}
	if _, _, err := runCLI(t, vars, "", "scale", "figlet"); err == nil {
		t.Errorf("scale without --replicas = nil error, want error")
	}
	want := []string{`{"functionName":"figlet","namespace":"dev"}`, `{"serviceName":"figlet","replicas":3}`}
	reqs := g.requests()
	for i, w := range want {
		if reqs[i].Body != w {
			t.Errorf("request %d body = %s, want %s", i, reqs[i].Body, w)
		}
	}
}

func TestVersion(t *testing.T) {
	g := newFakeGateway(t, map[string]fakeResponse{
		"GET /system/info": {200, `{"provider":{"provider":"funcd","orchestration":"containerd","version":{"sha":"abc","release":"0.1.0"}},"version":{"sha":"def","release":"0.2.0"},"arch":"amd64"}`},
	})
	stdout, _, err := runCLI(t, map[string]string{"OPENFAAS_URL": g.URL}, "", "version")
	for _, w := range []string{"version: " + version, "version: 0.2.0", "name:          funcd", "arch:    amd64"} {
		if err != nil || !strings.Contains(stdout, w) {
			t.Errorf("version = %q, %v, want it to contain %q", stdout, err, w)
		}
	}
	// An unreachable gateway is not an error.
	stdout, stderr, err := runCLI(t, map[string]string{"OPENFAAS_URL": "http://127.0.0.1:1"}, "", "version")
	if err != nil || !strings.Contains(stdout, version) || !strings.Contains(stderr, "not reachable") {
		t.Errorf("version without a gateway = %q, %q, %v, want CLI version and a note", stdout, stderr, err)
	}
}

func TestHelp(t *testing.T) {
	for name := range cliCommands {
		t.Run(name, func(t *testing.T) {
			stdout, _, err := runCLI(t, map[string]string{}, "", name, "-h")
			if err != nil || !strings.HasPrefix(stdout, "Usage: funcd ") {
				t.Errorf("%s -h = %q, %v, want usage and no error", name, stdout, err)
			}
		})
	}
}
