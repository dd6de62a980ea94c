package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/api"
)

// TestUsage covers what each function costs, on real replicas: the
// invocation count faas-cli and funcd list show, memory and CPU read from
// the replicas' cgroups (API, CLI and metrics), and an OOM kill counted,
// logged and followed by a restart.
func TestUsage(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	c := f.Client(t)

	t.Run("invocation count", func(t *testing.T) {
		deployReady(t, c, api.FunctionDeployment{Service: "thrice", Image: imageRef("testfn:v1")})
		for range 3 {
			if code, body, err := call(t.Context(), c, "thrice", http.MethodGet, "/", ""); err != nil || code != http.StatusOK {
				t.Fatalf("GET /function/thrice = %d %q, %v", code, body, err)
			}
		}
		// faas-cli cannot be installed here (no GitHub); decode the raw
		// answer as its types.FunctionStatus does: invocationCount float64.
		var fn struct {
			Name            string  `json:"name"`
			InvocationCount float64 `json:"invocationCount"`
		}
		eventually(t, 5*time.Second, func() error { // the relay counts just after answering
			var list []json.RawMessage
			if err := json.Unmarshal(system(t, f, "/system/functions"), &list); err != nil {
				return err
			}
			for _, raw := range list {
				if err := json.Unmarshal(raw, &fn); err != nil {
					return err
				}
				if fn.Name == "thrice" && fn.InvocationCount == 3 {
					return nil
				}
			}
			return fmt.Errorf("GET /system/functions: thrice has invocationCount %v, want 3", fn.InvocationCount)
		})
		if err := json.Unmarshal(system(t, f, "/system/function/thrice"), &fn); err != nil || fn.InvocationCount != 3 {
			t.Errorf("GET /system/function/thrice: invocationCount %v, %v; want 3", fn.InvocationCount, err)
		}
		cfg := loginCLI(t, f)
		out, errOut, err := runFuncdCLI(t, f, cfg, nil, "list")
		if err != nil {
			t.Fatalf("funcd list = %v: %s", err, errOut)
		}
		if !regexp.MustCompile(`(?m)^thrice\s+3\s+1/1\s`).MatchString(out) {
			t.Errorf("funcd list =\n%s\nwant thrice with 3 invocations", out)
		}
	})

	t.Run("memory and CPU", func(t *testing.T) {
		deployReady(t, c, api.FunctionDeployment{Service: "holder", Image: imageRef("testfn:v1"),
			Limits: &api.FunctionResources{Memory: "256Mi"}})
		for _, path := range []string{"/alloc?mib=80", "/spin?ms=700"} {
			if code, body, err := call(t.Context(), c, "holder", http.MethodGet, path, ""); err != nil || code != http.StatusOK {
				t.Fatalf("GET /function/holder%s = %d %q, %v", path, code, body, err)
			}
		}
		var st api.FunctionStatus
		if err := json.Unmarshal(system(t, f, "/system/function/holder"), &st); err != nil {
			t.Fatal(err)
		}
		t.Logf("holder: usage %+v", st.Usage)
		if st.Usage == nil || st.Usage.TotalMemoryBytes < 80<<20 || st.Usage.TotalMemoryBytes > 256<<20 || st.Usage.CPU <= 0 {
			t.Errorf("GET /system/function/holder usage = %+v, want 80 to 256 MiB and some CPU", st.Usage)
		}
		if mem := metric(t, f, "funcd_function_memory_working_set_bytes", "holder"); mem < 80<<20 {
			t.Errorf("funcd_function_memory_working_set_bytes of holder = %v, want at least 80 MiB", mem)
		}
		if cpu := metric(t, f, "funcd_function_cpu_seconds_total", "holder"); cpu < 0.6 {
			t.Errorf("funcd_function_cpu_seconds_total of holder = %v, want at least the 0.7 s it spun (less a little)", cpu)
		}
		if n := metric(t, f, "funcd_function_replicas_ready", "holder"); n != 1 {
			t.Errorf("funcd_function_replicas_ready of holder = %v, want 1", n)
		}
		out, errOut, err := runFuncdCLI(t, f, loginCLI(t, f), nil, "describe", "holder")
		if err != nil || !regexp.MustCompile(`Memory:\s+\d+\.\d MiB`).MatchString(out) || !regexp.MustCompile(`CPU:\s+\d+m`).MatchString(out) {
			t.Errorf("funcd describe holder = %v %s\n%s; want Memory and CPU", err, errOut, out)
		}
	})

	t.Run("OOM kill", func(t *testing.T) {
		deployReady(t, c, api.FunctionDeployment{Service: "hog", Image: imageRef("testfn:v1"),
			Limits: &api.FunctionResources{Memory: "64Mi"}})
		before := tasks(t, "hog")
		// The kernel kills testfn mid-request: the answer is an error.
		if code, _, err := call(t.Context(), c, "hog", http.MethodGet, "/alloc?mib=200", ""); err == nil && code == http.StatusOK {
			t.Fatalf("allocating 200 MiB under a 64 MiB limit succeeded")
		}
		eventually(t, 20*time.Second, func() error {
			if n := metric(t, f, "funcd_function_oom_kills_total", "hog"); n < 1 {
				return fmt.Errorf("funcd_function_oom_kills_total of hog = %v, want 1", n)
			}
			return nil
		})
		eventually(t, 20*time.Second, func() error { // restarted: a new task answers
			code, body, err := call(t.Context(), c, "hog", http.MethodGet, "/", "")
			if err != nil || code != http.StatusOK {
				return fmt.Errorf("GET /function/hog after the OOM kill = %d %q, %v", code, body, err)
			}
			return nil
		})
		for id, pid := range tasks(t, "hog") {
			if pid == 0 || pid == before[id] {
				t.Errorf("task of %s: pid %d, want a new one (was %d)", id, pid, before[id])
			}
			want := fmt.Sprintf("function hog.openfaas-fn replica %s killed: out of memory (limit 64 MiB)", id)
			if log, _ := os.ReadFile(f.LogPath); !strings.Contains(string(log), want) {
				t.Errorf("funcd's log lacks %q", want)
			}
		}
		if n := metric(t, f, "funcd_replica_restarts_total", "hog"); n < 1 {
			t.Errorf("funcd_replica_restarts_total of hog = %v, want 1", n)
		}
	})
}

// system GETs path of the admin API with funcd's credentials and returns
// the raw body.
func system(t *testing.T, f *Funcd, path string) []byte {
	t.Helper()
	var cred [2]string
	for i, name := range []string{"basic-auth-user", "basic-auth-password"} {
		b, err := os.ReadFile(filepath.Join(f.StateDir, "secrets", name))
		if err != nil {
			t.Fatal(err)
		}
		cred[i] = strings.TrimSpace(string(b))
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, f.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(cred[0], cred[1])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %q, %v", path, resp.StatusCode, body, err)
	}
	return body
}

// metric scrapes /metrics and returns name's value for function fn in the
// default namespace; -1 when it is not there.
func metric(t *testing.T, f *Funcd, name, fn string) float64 {
	t.Helper()
	body := get(t, f.URL+"/metrics")
	re := regexp.MustCompile(`(?m)^` + name + `\{function_name="` + regexp.QuoteMeta(fn+"."+fnNamespace) + `"\} (\S+)$`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}
