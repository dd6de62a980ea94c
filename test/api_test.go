package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/client"
)

// TestDeployDescribeInvoke deploys a function with every field set and
// checks that describe gives each back exactly, that the function sees its
// environment and secret, and that invocations pass method, path, query,
// headers and body through.
func TestDeployDescribeInvoke(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	c := f.Client(t)
	ctx := t.Context()

	// Secrets get an API of their own later; the store is a directory.
	secretDir := filepath.Join(f.StateDir, "secrets", "namespaces", fnNamespace)
	if err := os.MkdirAll(secretDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(secretDir, "api-key"), []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}

	want := api.FunctionDeployment{
		Service:                "full",
		Image:                  imageRef("testfn:v1"),
		EnvProcess:             "/testfn --flag",
		EnvVars:                map[string]string{"CONN": "host=db user=a=b", "EMPTYISH": " "},
		Labels:                 map[string]string{"team": "edge", "com.openfaas.scale.max": "3"},
		Annotations:            map[string]string{"topic": "sensors", "note": "a=b"},
		Secrets:                []string{"api-key"},
		Limits:                 &api.FunctionResources{Memory: "128Mi", CPU: "500m"},
		Requests:               &api.FunctionResources{Memory: "64Mi"},
		ReadOnlyRootFilesystem: true,
	}
	before := time.Now().Add(-time.Second)
	deployReady(t, c, want)

	got, err := c.GetFunction(ctx, "full", "")
	if err != nil {
		t.Fatalf("GetFunction = %v", err)
	}
	wantStatus := want.Status()
	wantStatus.Namespace = fnNamespace
	wantStatus.Replicas, wantStatus.AvailableReplicas = 1, 1
	wantStatus.CreatedAt = got.CreatedAt
	// usage is what the replica uses now (TestUsage checks it); it
	// differs from one read to the next.
	if got.Usage == nil || got.Usage.TotalMemoryBytes <= 0 {
		t.Errorf("GetFunction usage = %+v, want the running replica's memory", got.Usage)
	}
	got.Usage = nil
	if !jsonEqual(got, wantStatus) {
		t.Errorf("GetFunction = %s\nwant          %s", mustJSON(got), mustJSON(wantStatus))
	}
	if got.CreatedAt.Before(before) || got.CreatedAt.After(time.Now()) {
		t.Errorf("createdAt = %v, want about now", got.CreatedAt)
	}
	list, err := c.ListFunctions(ctx, "")
	if err == nil && len(list) == 1 {
		list[0].Usage = nil
	}
	if err != nil || len(list) != 1 || !jsonEqual(list[0], got) {
		t.Errorf("ListFunctions = %s, %v; want [%s]", mustJSON(list), err, mustJSON(got))
	}

	// What the function sees.
	code, body, err := call(ctx, c, "full", http.MethodGet, "/env", "")
	if err != nil || code != 200 {
		t.Fatalf("GET /env = %d %q, %v", code, body, err)
	}
	var env map[string]string
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatalf("decode env %q: %v", body, err)
	}
	if env["CONN"] != "host=db user=a=b" || env["fprocess"] != "/testfn --flag" || env["VERSION"] != "v1" {
		t.Errorf("function env = %v, want CONN, fprocess and the image's VERSION", env)
	}
	code, body, _ = call(ctx, c, "full", http.MethodGet, "/file?path=/var/openfaas/secrets/api-key", "")
	if code != 200 || body != "s3cret" {
		t.Errorf("secret file = %d %q, want 200 s3cret", code, body)
	}

	// The invocation path.
	resp, err := c.Invoke(ctx, "full", "", http.MethodPut, "/a/b?x=1&y=%20z", strings.NewReader("payload"),
		http.Header{"X-Custom": {"v"}, "Content-Type": {"text/plain"}})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e echoReply
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("decode %q: %v", raw, err)
	}
	if e.Method != "PUT" || e.Path != "/a/b" || e.Query["y"][0] != " z" || e.Body != "payload" || e.Headers["X-Custom"][0] != "v" {
		t.Errorf("function saw %+v, want PUT /a/b ?x=1&y=%%20z body payload X-Custom v", e)
	}
	if resp.Header.Get("X-Call-Id") == "" || e.Headers["X-Call-Id"][0] != resp.Header.Get("X-Call-Id") {
		t.Errorf("X-Call-Id response %q, upstream %v; want the same generated id", resp.Header.Get("X-Call-Id"), e.Headers["X-Call-Id"])
	}
	if r := echo(t, c, "full.openfaas-fn", ""); r.Path != "/" {
		t.Errorf("/function/full.openfaas-fn path = %q, want /", r.Path)
	}

	// Unknown function.
	code, body, _ = call(ctx, c, "nope", http.MethodGet, "", "")
	if code != http.StatusNotFound || !strings.Contains(body, "nope") {
		t.Errorf("invoke unknown = %d %q, want 404 naming it", code, body)
	}
}

// TestSystemRoutes checks auth, info, namespaces, the codes the CLI relies
// on for missing functions, and the body cap.
func TestSystemRoutes(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	c := f.Client(t)
	ctx := t.Context()

	for _, path := range []string{"/system/functions", "/system/info", "/system/namespaces", "/system/function/x"} {
		resp, err := http.Get(f.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Basic realm="Restricted"` {
			t.Errorf("GET %s without auth = %d %q, want 401 with the Basic realm", path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	wrong := client.New(f.URL, client.WithBasicAuth("admin", "wrong"))
	if _, err := wrong.ListFunctions(ctx, ""); !isStatus(err, 401) {
		t.Errorf("list with a wrong password = %v, want 401", err)
	}
	if err := c.Health(ctx); err != nil {
		t.Errorf("healthz = %v", err)
	}
	if fns, err := c.ListFunctions(ctx, ""); err != nil || fns == nil || len(fns) != 0 {
		t.Errorf("empty list = %#v, %v; want [] ", fns, err)
	}
	info, err := c.Info(ctx)
	if err != nil || info.Provider == nil || info.Provider.Version == nil || info.Version == nil || info.Arch == "" {
		t.Errorf("Info = %+v, %v; want provider, versions and arch", info, err)
	}
	if err == nil && info.Version != nil && (info.Version.Release == "" || info.Version.SHA == "") {
		t.Errorf("Info version = %+v, want a release and a sha (\"unknown\" at worst)", *info.Version)
	}
	if ns, err := c.Namespaces(ctx); err != nil || len(ns) != 1 || ns[0] != fnNamespace {
		t.Errorf("Namespaces = %v, %v; want [openfaas-fn]", ns, err)
	}

	// Status of a missing function: 404 with an empty body.
	resp, b := authed(t, f, http.MethodGet, "/system/function/missing", nil)
	if resp.StatusCode != 404 || len(b) != 0 {
		t.Errorf("status of missing = %d %q, want 404 and an empty body", resp.StatusCode, b)
	}
	if err := c.Update(ctx, api.FunctionDeployment{Service: "missing", Image: imageRef("testfn:v1")}); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("update of missing = %v, want 404", err)
	}
	if err := c.Remove(ctx, "missing", ""); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("remove of missing = %v, want 404", err)
	}

	// Bodies are capped.
	big := append([]byte(`{"service":"`), bytes.Repeat([]byte("x"), 2<<20)...)
	if resp, _ = authed(t, f, http.MethodPost, "/system/functions", bytes.NewReader(big)); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("2 MiB deploy body = %d, want 413", resp.StatusCode)
	}
}

// TestBadInputLeavesNothing sends each kind of bad deployment and checks it
// is refused with a 4xx naming the problem, leaving nothing behind.
func TestBadInputLeavesNothing(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t, WithArgs("--ready-timeout", "5s"))
	ctx := t.Context()
	tests := []struct {
		name   string
		body   string
		code   int
		want   string
		header []string
	}{
		{"invalid name", `{"service":"Bad_Name","image":"` + imageRef("testfn:v1") + `"}`, 400, "Bad_Name", nil},
		{"empty image", `{"service":"noimage","image":""}`, 400, "image", nil},
		{"malformed JSON", `{"service":`, 400, "unmarshal", nil},
		{"unpullable image", `{"service":"nopull","image":"` + imageRef("missing:v1") + `"}`, 400, "missing:v1", nil},
		{"unknown secret", `{"service":"nosecret","image":"` + imageRef("testfn:v1") + `","secrets":["ghost"]}`, 400, "ghost", nil},
		{"never ready", `{"service":"crashy","image":"` + imageRef("testfn:v1") + `","envVars":{"START_DELAY_MS":"60000"}}`, 400, "not ready", nil},
		{"absurd scale", `{"service":"huge","image":"` + imageRef("testfn:v1") + `","labels":{"com.openfaas.scale.max":"1000000000"}}`, 400, "--max-replicas", nil},
		{"trailing data", `{"service":"twice","image":"` + imageRef("testfn:v1") + `"}{"service":"x"}`, 400, "after the JSON", nil},
		// A hostile page in a browser holding the admin's credentials.
		{"cross-site form", `{"service":"csrf","image":"` + imageRef("testfn:v1") + `"}`, 415, "application/json",
			[]string{"Content-Type", "text/plain"}},
		{"cross-site fetch", `{"service":"csrf","image":"` + imageRef("testfn:v1") + `"}`, 403, "cross-origin",
			[]string{"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := authed(t, f, http.MethodPost, "/system/functions", strings.NewReader(tt.body), tt.header...)
			if resp.StatusCode != tt.code || !strings.Contains(string(b), tt.want) {
				t.Errorf("POST %s = %d %q, want %d mentioning %q", tt.body, resp.StatusCode, b, tt.code, tt.want)
			}
			assertNoLeftovers(t, f)
		})
	}
	if fns, err := f.Client(t).ListFunctions(ctx, ""); err != nil || len(fns) != 0 {
		t.Errorf("after bad deploys ListFunctions = %v, %v; want none", fns, err)
	}
}

// authed sends a request with funcd's admin credentials and returns the
// response (body closed) and its body.
func authed(t *testing.T, f *Funcd, method, path string, body io.Reader, header ...string) (*http.Response, []byte) {
	t.Helper()
	pass, err := os.ReadFile(filepath.Join(f.StateDir, "secrets", "basic-auth-password"))
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, f.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("admin", strings.TrimSpace(string(pass)))
	if body != nil {
		req.Header.Set("Content-Type", "application/json") // as faas-cli sends it
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func isStatus(err error, code int) bool {
	var se *client.StatusError
	return errors.As(err, &se) && se.Code == code
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func jsonEqual(a, b any) bool { return mustJSON(a) == mustJSON(b) }
