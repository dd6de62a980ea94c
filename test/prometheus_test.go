package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/images"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/oci"
	"github.com/containerd/containerd/remotes/docker"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/compose"
	"github.com/funcd/funcd/internal/imagebuild"
	"github.com/funcd/funcd/test/testenv"
)

// TestMetricsPromtool gives every metric funcd records a child (a call, a
// cold start, a restart, a queued call, a scale up), then pipes funcd's
// /metrics to Debian's `promtool check metrics`: any finding fails.
func TestMetricsPromtool(t *testing.T) {
	requireE2E(t)
	promtool := lookPath(t, "promtool")
	f := startFuncd(t)
	c := f.Client(t)
	ctx := t.Context()
	deployReady(t, c, api.FunctionDeployment{Service: "linted", Image: imageRef("testfn:v1")})

	if err := c.Scale(ctx, "linted", "", 0); err != nil {
		t.Fatalf("Scale(linted, 0) = %v", err)
	}
	if code, body, err := call(ctx, c, "linted", http.MethodGet, "/", ""); err != nil || code != http.StatusOK {
		t.Fatalf("cold call: GET /function/linted = %d %q, %v", code, body, err)
	}
	for id, pid := range tasks(t, "linted") {
		kill(t, id, pid)
	}
	if _, err := c.InvokeAsync(ctx, "linted", "", "/", strings.NewReader("queued"), nil); err != nil {
		t.Fatalf("InvokeAsync(linted) = %v", err)
	}
	queueSettled(t, c, 30*time.Second)
	if err := c.Scale(ctx, "linted", "", 2); err != nil {
		t.Fatalf("Scale(linted, 2) = %v", err)
	}

	fn := `function_name="linted.openfaas-fn"`
	want := []string{
		`gateway_function_invocation_total{code="200",` + fn + `}`,
		`gateway_functions_seconds_count{code="200",` + fn + `}`,
		`funcd_cold_start_seconds_count{` + fn + `}`,
		`funcd_replica_restarts_total{` + fn + `}`,
		`funcd_scale_events_total{direction="up",` + fn + `}`,
		`funcd_queue_enqueued_total{` + fn,
		`funcd_async_invocations_total{code="200",` + fn + `}`,
	}
	var body string
	eventually(t, 30*time.Second, func() error {
		var err error
		if body, err = scrape(f.URL + "/metrics"); err != nil {
			return err
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				return fmt.Errorf("GET /metrics has no %s", w)
			}
		}
		return nil
	})

	cmd := exec.CommandContext(ctx, promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics = %v\n%s\n--- /metrics ---\n%s", err, out, body)
	}
}

// TestPrometheusScrapesFuncd runs Debian's Prometheus with funcd as its only
// target, calls a function N times, and asks Prometheus for the function's
// gateway_function_invocation_total once it has scraped after the last
// call: the sum must be N. The scrape config renames
// gateway_service_replicas back to OpenFaaS's gateway_service_count, as
// README's snippet does for existing dashboards; that name must hold the
// function's desired replicas.
func TestPrometheusScrapesFuncd(t *testing.T) {
	requireE2E(t)
	lookPath(t, "prometheus")
	f := startFuncd(t)
	c := f.Client(t)
	ctx := t.Context()
	deployReady(t, c, api.FunctionDeployment{Service: "scraped", Image: imageRef("testfn:v1")})

	dir := t.TempDir()
	target := strings.TrimPrefix(f.URL, "http://")
	p, err := testenv.StartPrometheus(ctx, testenv.PrometheusOptions{Dir: dir, ScrapeConfigs: funcdScrapeConfig(target)})
	t.Cleanup(func() {
		if p == nil || p.Proc == nil {
			return
		}
		if err := p.Stop(); err != nil {
			t.Errorf("stop prometheus (pid %d): %v", p.Proc.PID(), err)
		}
		if t.Failed() {
			t.Logf("--- %s ---\n%s", p.Proc.Log, testenv.Tail(p.Proc.Log, 30))
		}
	})
	if err != nil {
		t.Fatal(err)
	}

	const n = 7
	for i := range n {
		if code, body, err := call(ctx, c, "scraped", http.MethodGet, "/", ""); err != nil || code != http.StatusOK {
			t.Fatalf("call %d: GET /function/scraped = %d %q, %v", i+1, code, body, err)
		}
	}
	// funcd counts a call just after its answer has left: wait until its
	// own /metrics shows all of them, then for a scrape that began later.
	counted := fmt.Sprintf(`gateway_function_invocation_total{code="200",function_name="scraped.openfaas-fn"} %d`, n)
	eventually(t, 5*time.Second, func() error {
		body, err := scrape(f.URL + "/metrics")
		if err == nil && !strings.Contains(body, counted) {
			err = fmt.Errorf("GET /metrics has no %s", counted)
		}
		return err
	})
	since := time.Now()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := p.WaitScraped(wctx, since); err != nil {
		t.Fatalf("prometheus did not scrape funcd after the last call: %v", err)
	}

	for _, tt := range []struct {
		query string
		want  float64
	}{
		{`sum(gateway_function_invocation_total{function_name="scraped.openfaas-fn"})`, n},
		{`sum(gateway_service_count{function_name="scraped.openfaas-fn"})`, 1},
		{`count(gateway_service_replicas)`, 0}, // renamed at scrape time, not kept twice
	} {
		got, err := p.Query(ctx, tt.query)
		if err != nil {
			t.Errorf("Query(%s) = %v", tt.query, err)
			continue
		}
		if sum := got["{}"]; len(got) > 1 || (tt.want != 0 && len(got) == 0) || sum != tt.want {
			t.Errorf("Query(%s) = %v, want %v", tt.query, got, tt.want)
		}
	}
}

// funcdScrapeConfig is README's scrape config for funcd at target
// (HOST:PORT), indented for scrape_configs.
func funcdScrapeConfig(target string) string {
	return `  - job_name: funcd
    metrics_path: /metrics
    static_configs:
      - targets: ["` + target + `"]
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: gateway_service_replicas
        target_label: __name__
        replacement: gateway_service_count
`
}

// scrape returns the body of GET url, an error unless it answers 200.
func scrape(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s = %d %q, want 200", url, resp.StatusCode, b)
	}
	return string(b), nil
}

// lookPath finds a program scripts/deps.sh installs, failing the test when
// it is missing.
func lookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found (scripts/deps.sh test installs Debian's prometheus): %v", name, err)
	}
	return p
}

// TestPrometheusImageRuns pushes testenv's image of Debian's prometheus to
// the test registry, pulls it into containerd and runs it with the image's
// own entrypoint, user, working directory and arguments plus a listen
// address (host network, a free loopback port): it must load its libraries,
// open its TSDB in /prometheus as nobody and answer ready.
func TestPrometheusImageRuns(t *testing.T) {
	requireE2E(t)
	ctx := namespaces.WithNamespace(t.Context(), "e2e-prometheus")
	ref, err := h.Registry.PushPrometheus(ctx, testenv.PrometheusImageRef)
	if err != nil {
		t.Fatal(err)
	}
	c := containerdClient(t)
	resolver := docker.NewResolver(docker.ResolverOptions{
		Hosts: docker.ConfigureDefaultRegistries(docker.WithPlainHTTP(docker.MatchLocalhost)),
	})
	img, err := c.Pull(ctx, ref, containerd.WithPullUnpack, containerd.WithResolver(resolver))
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	t.Cleanup(func() {
		if err := c.ImageService().Delete(context.WithoutCancel(ctx), ref, images.SynchronousDelete()); err != nil {
			t.Errorf("delete image %s: %v", ref, err)
		}
	})
	cf, err := img.Spec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	args := append(append(cf.Config.Entrypoint, cf.Config.Cmd...), "--web.listen-address="+addr)

	const id = "e2e-prometheus-image"
	ctr, err := c.NewContainer(ctx, id,
		containerd.WithNewSnapshot(id, img),
		containerd.WithNewSpec(oci.WithImageConfig(img), oci.WithProcessArgs(args...),
			oci.WithHostNamespace(specs.NetworkNamespace)),
	)
	if err != nil {
		t.Fatalf("create container: %v", err)
	}
	t.Cleanup(func() {
		if err := testenv.DeleteContainer(context.WithoutCancel(ctx), ctr); err != nil {
			t.Errorf("delete container %s: %v", id, err)
		}
	})
	logPath := filepath.Join(t.TempDir(), id+".log")
	task, err := ctr.NewTask(ctx, cio.LogFile(logPath))
	if err != nil {
		t.Fatalf("create task: %v", err)
	}
	if err := task.Start(ctx); err != nil {
		t.Fatalf("start task: %v", err)
	}
	ready := func() error { return testenv.HTTPGetOK(ctx, "http://"+addr+"/-/ready") }
	eventually(t, 30*time.Second, func() error {
		err := ready()
		if err == nil {
			return nil
		}
		b, _ := os.ReadFile(logPath)
		if st, serr := task.Status(ctx); serr == nil && st.Status == containerd.Stopped {
			t.Fatalf("prometheus exited with status %d before it was ready; output:\n%s", st.ExitStatus, b)
		}
		return fmt.Errorf("%v; output:\n%s", err, b)
	})
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", task.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(status), "\nUid:\t65534\t65534\t65534\t65534\n") {
		t.Errorf("prometheus does not run as nobody (65534):\n%s", status)
	}
	body, err := scrape("http://" + addr + "/api/v1/status/flags")
	if err != nil || !strings.Contains(body, `"storage.tsdb.path":"/prometheus"`) || !strings.Contains(body, `"config.file":"/etc/prometheus/prometheus.yml"`) {
		t.Errorf("GET /api/v1/status/flags = %s, %v; want the image's config file and /prometheus", body, err)
	}
}

// TestShippedComposePrometheus runs the repository's docker-compose.yaml
// and prometheus.yml as funcd install ships them, with Debian's prometheus
// imported offline under the upstream image name: the Prometheus side
// service scrapes funcd at gateway:8080 and counts what funcd counts. The
// only edits are the published port (a free one) and the scrape interval
// (1 s, for a quick test).
func TestShippedComposePrometheus(t *testing.T) {
	requireE2E(t)
	lookPath(t, "prometheus")
	ctx := t.Context()
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	shipped := func(name string, edits ...string) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join("..", name))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		for i := 0; i < len(edits); i += 2 {
			if !strings.Contains(s, edits[i]) {
				t.Fatalf("the shipped %s has no %q any more; update this test", name, edits[i])
			}
			s = strings.ReplaceAll(s, edits[i], edits[i+1])
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shipped("docker-compose.yaml", `"127.0.0.1:9090:9090"`, fmt.Sprintf(`"127.0.0.1:%d:9090"`, port))
	shipped("prometheus.yml", "scrape_interval: 15s", "scrape_interval: 1s")
	file := filepath.Join(dir, "docker-compose.yaml")
	p, err := compose.Load(ctx, file, nil)
	if err != nil || len(p.Services) != 1 || len(p.Warnings) != 0 {
		t.Fatalf("compose.Load(shipped) = %+v, %v; want one service, no warnings", p, err)
	}
	image := p.Services[0].Image

	// Offline: the upstream image cannot be pulled; the service waits
	// until it is imported and restarted.
	f := startFuncd(t, WithArgs("--compose", file))
	purgeAtCleanup(t, f)
	c := f.Client(t)
	img, err := testenv.PrometheusImage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "prometheus.tar")
	if err := imagebuild.WriteTarball(img, image, archive); err != nil {
		t.Fatal(err)
	}
	a, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := c.ImportImage(ctx, api.ServicesNamespace, a, -1); err != nil {
		t.Fatalf("import %s for the services: %v", image, err)
	}
	if err := c.RestartService(ctx, "prometheus"); err != nil {
		t.Fatal(err)
	}
	prom := &testenv.Prometheus{URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	eventually(t, time.Minute, func() error {
		return httpDo(ctx, http.MethodGet, prom.URL+"/-/ready", "", http.StatusOK)
	})

	// A new named volume gets the image's /prometheus, owner included, as
	// Docker fills it: Prometheus runs as nobody and writes its TSDB there.
	vol := filepath.Join(f.StateDir, "volumes", "prometheus-data")
	if fi, err := os.Stat(vol); err != nil || fi.Sys().(*syscall.Stat_t).Uid != 65534 {
		t.Errorf("volume %s = %v, %v; want a directory owned by nobody (65534)", vol, fi, err)
	}

	deployReady(t, c, api.FunctionDeployment{Service: "counted", Image: imageRef("testfn:v1")})
	const n = 4
	for i := range n {
		if code, body, err := call(ctx, c, "counted", http.MethodGet, "/", ""); err != nil || code != http.StatusOK {
			t.Fatalf("call %d: GET /function/counted = %d %q, %v", i+1, code, body, err)
		}
	}
	query := `sum(gateway_function_invocation_total{function_name="counted.openfaas-fn"})`
	eventually(t, 30*time.Second, func() error {
		got, err := prom.Query(ctx, query)
		if err == nil && got["{}"] != n {
			err = fmt.Errorf("Query(%s) = %v, want %d", query, got, n)
		}
		return err
	})
}
