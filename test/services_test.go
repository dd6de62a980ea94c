package e2e

import (
	"bytes"
	"context"
	"errors"
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

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/client"
	"github.com/funcd/funcd/internal/compose"
	"github.com/funcd/funcd/test/testenv"
)

// servicesCompose is the compose file of TestServices: kv has a
// healthcheck, a bind volume and a published port; web waits until kv is
// healthy. webVersion and kvExtra let a test change one service.
func servicesCompose(hostPort int, webVersion, kvExtra string) string {
	return fmt.Sprintf(`services:
  kv:
    image: %[1]s
    command: ["-listen", ":8000", "-data", "/data"]
    volumes:
      - ./kvdata:/data
    ports:
      - "127.0.0.1:%[2]d:8000"
    environment:
      EXTRA: "%[4]s"
    healthcheck:
      test: ["CMD", "/testsvc", "-healthcheck", "http://127.0.0.1:8000/healthz"]
      interval: 1s
      timeout: 2s
      retries: 3
    restart: always
  web:
    image: %[1]s
    command: ["-listen", ":8000", "-data", "/tmp/web"]
    environment:
      VERSION: "%[3]s"
    depends_on:
      kv:
        condition: service_healthy
    restart: on-failure
`, imageRef("testsvc:v1"), hostPort, webVersion, kvExtra)
}

// requireComposeLoader fails the test unless the file loads.
func requireComposeLoader(t *testing.T, file string) {
	t.Helper()
	if _, err := compose.Load(t.Context(), file, nil); err != nil {
		t.Fatalf("compose.Load(%s) = %v", file, err)
	}
}

// TestServices runs two side services from a compose file: depends_on
// waits for kv's healthcheck, kv's published port answers on the host, a
// function reaches kv by name and web reaches the gateway; a reload that
// changes web recreates only web; changing kv keeps the file its bind
// volume holds and its address; after a kill -9 of funcd the next funcd
// adopts both (same PIDs); functions cannot reach or list them.
func TestServices(t *testing.T) {
	requireE2E(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "docker-compose.yaml")
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	write := func(web, kvExtra string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(servicesCompose(port, web, kvExtra)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("1", "")
	requireComposeLoader(t, file)
	f := startFuncd(t, WithArgs("--compose", file))
	purgeAtCleanup(t, f)
	c := f.Client(t)
	ctx := t.Context()

	// Both come up, web only after kv is healthy.
	first := waitServices(t, c, func(s map[string]api.ServiceStatus) error {
		if s["kv"].Health != "healthy" || s["web"].State != "running" {
			return fmt.Errorf("services = %+v, want kv healthy and web running", s)
		}
		return nil
	})
	if first["kv"].PID == 0 || first["web"].PID == 0 || first["kv"].Address == "" {
		t.Fatalf("services = %+v, want PIDs and addresses", first)
	}

	// The published port, from the host.
	hostURL := fmt.Sprintf("http://127.0.0.1:%d", port)
	eventually(t, 20*time.Second, func() error {
		return httpDo(ctx, http.MethodPut, hostURL+"/kv/greeting", "hello", http.StatusNoContent)
	})
	if got := httpGet(t, hostURL+"/kv/greeting"); got != "hello" {
		t.Fatalf("GET %s/kv/greeting = %q, want hello", hostURL, got)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "kvdata", "greeting")); err != nil || string(data) != "hello" {
		t.Fatalf("bind volume file = %q, %v; want hello (created by funcd as ./kvdata)", data, err)
	}

	// portmap opened route_localnet on the bridge for that; the host's
	// loopback must still be closed to packets from containers.
	if rl, _ := os.ReadFile("/proc/sys/net/ipv4/conf/" + f.Bridge + "/route_localnet"); strings.TrimSpace(string(rl)) == "1" {
		save, _ := exec.CommandContext(ctx, "iptables-save", "-t", "filter").Output()
		if !strings.Contains(string(save), "-A INPUT ! -s 127.0.0.0/8 -d 127.0.0.0/8 -i "+f.Bridge+" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP") {
			t.Errorf("route_localnet is on for %s but no INPUT rule drops its packets to 127.0.0.0/8:\n%s", f.Bridge, save)
		}
	}

	// A function reaches kv by its service name, and web the gateway.
	deployReady(t, c, api.FunctionDeployment{Service: "caller", Image: imageRef("testfn:v1")})
	if code, body, err := call(ctx, c, "caller", http.MethodGet, "/get?url=http://kv:8000/kv/greeting", ""); err != nil || code != 200 || body != "hello" {
		t.Fatalf("function GET http://kv:8000/kv/greeting = %d %q, %v; want 200 hello", code, body, err)
	}
	if code, body, err := call(ctx, c, "caller", http.MethodGet, "/get?url=http://web:8000/get?url=http://gateway:8080/healthz", ""); err != nil || code != 200 {
		t.Fatalf("web GET http://gateway:8080/healthz (through the function) = %d %q, %v; want 200", code, body, err)
	}

	// Outsiders: no function namespace "funcd", no function call or
	// listing reaches a service.
	if err := c.CreateNamespace(ctx, api.FunctionNamespace{Name: api.ServicesNamespace}); err == nil {
		t.Error("creating function namespace funcd succeeded; it must be refused")
	}
	for _, path := range []string{"/function/kv.funcd/kv/greeting", "/function/kv/kv/greeting", "/function/kv.funcd"} {
		if code, body := authGet(t, f, path); code == http.StatusOK {
			t.Errorf("GET %s = %d %q; a service must not be reachable as a function", path, code, body)
		}
	}
	if code, body := authGet(t, f, "/system/functions?namespace=funcd"); code == http.StatusOK && strings.Contains(body, "kv") {
		t.Errorf("GET /system/functions?namespace=funcd = %d %q lists a service", code, body)
	}

	// Logs and restart of an unknown service.
	if code, body := authGet(t, f, "/system/services/nosuch/logs"); code != http.StatusNotFound || !strings.Contains(body, "nosuch") {
		t.Errorf("logs of an unknown service = %d %q, want 404 naming it", code, body)
	}
	if code, body := authGet(t, f, "/system/services/kv/logs?tail=5"); code != http.StatusOK || !strings.Contains(body, "testsvc listening") {
		t.Errorf("logs of kv = %d %q, want its start line", code, body)
	}

	// Reload: web changed, kv untouched.
	write("2", "")
	signalFuncd(t, f, syscall.SIGHUP)
	second := waitServices(t, c, func(s map[string]api.ServiceStatus) error {
		if s["web"].State != "running" || s["web"].PID == first["web"].PID {
			return fmt.Errorf("web = %+v, want a new running task", s["web"])
		}
		return nil
	})
	if second["kv"].PID != first["kv"].PID {
		t.Errorf("kv PID %d after a reload that changed only web, want %d", second["kv"].PID, first["kv"].PID)
	}
	eventually(t, 20*time.Second, func() error { // running is started, not yet listening
		if code, body, err := call(ctx, c, "caller", http.MethodGet, "/get?url=http://web:8000/env/VERSION", ""); err != nil || body != "2" {
			return fmt.Errorf("web's VERSION after reload = %d %q, %v; want 2", code, body, err)
		}
		return nil
	})

	// An invalid file on reload changes nothing.
	if err := os.WriteFile(file, []byte("services:\n  kv: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	signalFuncd(t, f, syscall.SIGHUP)
	time.Sleep(time.Second) // nothing to wait for: nothing may happen
	if s := services(t, c); s["kv"].PID != first["kv"].PID || s["web"].PID != second["web"].PID {
		t.Errorf("services after an invalid reload = %+v, want both PIDs kept", s)
	}

	// kv changed: recreated, its volume's file and its address kept.
	write("2", "x")
	signalFuncd(t, f, syscall.SIGHUP)
	third := waitServices(t, c, func(s map[string]api.ServiceStatus) error {
		if s["kv"].PID == first["kv"].PID || s["kv"].Health != "healthy" {
			return fmt.Errorf("kv = %+v, want a new healthy task", s["kv"])
		}
		return nil
	})
	if third["kv"].Address != first["kv"].Address {
		t.Errorf("kv's address after recreate = %s, want %s kept", third["kv"].Address, first["kv"].Address)
	}
	eventually(t, 20*time.Second, func() error { return httpDo(ctx, http.MethodGet, hostURL+"/kv/greeting", "", http.StatusOK) })
	if got := httpGet(t, hostURL+"/kv/greeting"); got != "hello" {
		t.Errorf("kv's value after recreate = %q, want hello from the bind volume", got)
	}

	// kill -9: the services keep running and are adopted.
	f.Kill9(t)
	if err := f.Funcd.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	c = f.Client(t)
	adopted := waitServices(t, c, func(s map[string]api.ServiceStatus) error {
		if s["kv"].State != "running" || s["web"].State != "running" {
			return fmt.Errorf("services = %+v, want both running", s)
		}
		return nil
	})
	if adopted["kv"].PID != third["kv"].PID || adopted["web"].PID != third["web"].PID {
		t.Errorf("PIDs after kill -9 and start = kv %d web %d, want %d %d (adopted)", adopted["kv"].PID, adopted["web"].PID, third["kv"].PID, third["web"].PID)
	}
	if code, body, err := call(ctx, c, "caller", http.MethodGet, "/get?url=http://kv:8000/kv/greeting", ""); err != nil || body != "hello" {
		t.Errorf("function GET kv after restart = %d %q, %v", code, body, err)
	}
}

// TestServiceRestartPolicies: on-failure:2 restarts a failing service twice
// (with back-off) and then leaves it exited; restart no leaves it exited at
// once; `funcd service restart` starts it again.
func TestServiceRestartPolicies(t *testing.T) {
	requireE2E(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "docker-compose.yaml")
	compose := fmt.Sprintf(`services:
  flaky:
    image: %[1]s
    command: ["-exit", "3"]
    restart: on-failure:2
  once:
    image: %[1]s
    command: ["-exit", "4"]
    restart: "no"
  clean:
    image: %[1]s
    command: ["-exit", "0"]
    restart: always
  unpullable:
    image: %[2]s
`, imageRef("testsvc:v1"), imageRef("nosuch:v1"))
	if err := os.WriteFile(file, []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	requireComposeLoader(t, file)
	f := startFuncd(t, WithArgs("--compose", file))
	purgeAtCleanup(t, f)
	c := f.Client(t)
	start := time.Now()
	got := waitServices(t, c, func(s map[string]api.ServiceStatus) error {
		if s["flaky"].State != "exited" || s["flaky"].Restarts != 2 || s["once"].State != "exited" {
			return fmt.Errorf("services = %+v, want flaky exited after 2 restarts, once exited", s)
		}
		return nil
	})
	if got["once"].Restarts != 0 {
		t.Errorf("once restarted %d times under restart: no", got["once"].Restarts)
	}
	if took := time.Since(start); took < 500*time.Millisecond {
		t.Errorf("two restarts took %v; the second must wait the back-off (0.5s)", took)
	}
	time.Sleep(2 * time.Second) // on-failure:2 must not try a third time
	s := services(t, c)
	if s["flaky"].Restarts != 2 {
		t.Errorf("flaky restarted %d times, want 2", s["flaky"].Restarts)
	}
	// A clean exit is restarted under always, with the back-off too.
	if r := s["clean"].Restarts; r < 2 || r > 8 {
		t.Errorf("clean (exit 0, restart always) restarted %d times in %v, want a few, backing off", r, time.Since(start).Round(time.Second))
	}
	if err := c.RestartService(t.Context(), "once"); err != nil {
		t.Fatal(err)
	}
	waitServices(t, c, func(s map[string]api.ServiceStatus) error {
		if s["once"].Restarts != 1 {
			return fmt.Errorf("once = %+v, want restarted once on request", s["once"])
		}
		return nil
	})
	// An image that cannot be pulled did not hold funcd up (it is
	// serving); the pull is retried, each attempt logged.
	if st := s["unpullable"]; st.State != "failed" && st.State != "pulling" {
		t.Errorf("unpullable = %+v, want failed or pulling", st)
	}
	eventually(t, 10*time.Second, func() error {
		if n := strings.Count(testenv.Tail(f.LogPath, 200), "create side service"); n < 2 {
			return fmt.Errorf("%d failed attempts logged, want the pull retried", n)
		}
		return nil
	})
	if err := c.RestartService(t.Context(), "nosuch"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("RestartService(nosuch) = %v, want ErrNotFound", err)
	}
}

// purgeAtCleanup stops f and runs `funcd purge` on it when the test ends,
// then checks that no published port's rule is left in iptables.
func purgeAtCleanup(t *testing.T, f *Funcd) {
	t.Cleanup(func() {
		f.Stop(t)
		bin, err := h.FuncdBinary(context.Background())
		if err != nil {
			t.Error(err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, append([]string{"purge"}, f.Flags()...)...).CombinedOutput()
		if err != nil {
			t.Errorf("funcd purge: %v\n%s", err, out)
		}
		if !bytes.Contains(out, []byte("side services")) {
			t.Errorf("funcd purge said %q, want the side services removed", out)
		}
		save, _ := exec.CommandContext(ctx, "iptables-save", "-t", "nat").Output()
		for _, line := range strings.Split(string(save), "\n") {
			if strings.Contains(line, "DNAT") && strings.Contains(line, f.Subnet.Addr().String()[:strings.LastIndexByte(f.Subnet.Addr().String(), '.')]) {
				t.Errorf("left after purge: %s", line)
			}
		}
	})
}

func services(t *testing.T, c *client.Client) map[string]api.ServiceStatus {
	t.Helper()
	list, err := c.Services(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]api.ServiceStatus{}
	for _, s := range list {
		out[s.Name] = s
	}
	return out
}

// waitServices polls GET /system/services until ok accepts it.
func waitServices(t *testing.T, c *client.Client, ok func(map[string]api.ServiceStatus) error) map[string]api.ServiceStatus {
	t.Helper()
	var got map[string]api.ServiceStatus
	eventually(t, 60*time.Second, func() error {
		list, err := c.Services(t.Context())
		if err != nil {
			return err
		}
		got = map[string]api.ServiceStatus{}
		for _, s := range list {
			got[s.Name] = s
		}
		return ok(got)
	})
	return got
}

func signalFuncd(t *testing.T, f *Funcd, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(f.PID(), sig); err != nil {
		t.Fatal(err)
	}
}

func httpDo(ctx context.Context, method, url, body string, want int) error {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s = %d %q, want %d", method, url, resp.StatusCode, b, want)
	}
	return nil
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// authGet GETs path from f with its credentials.
func authGet(t *testing.T, f *Funcd, path string) (int, string) {
	t.Helper()
	user, _ := os.ReadFile(filepath.Join(f.StateDir, "secrets", "basic-auth-user"))
	pass, _ := os.ReadFile(filepath.Join(f.StateDir, "secrets", "basic-auth-password"))
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, f.URL+path, nil)
	req.SetBasicAuth(strings.TrimSpace(string(user)), strings.TrimSpace(string(pass)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, string(b)
}

// TestServicesMemory measures what supervising side services costs funcd:
// its RSS, Go heap in use and goroutines with no services, then with ten
// (each with a healthcheck), applied by a reload. It logs the figures and
// asserts none (memory targets are benchmarks' to report, not tests'); it
// fails when the ten do not all become healthy.
func TestServicesMemory(t *testing.T) {
	requireE2E(t)
	const n = 10
	dir := t.TempDir()
	file := filepath.Join(dir, "docker-compose.yaml")
	if err := os.WriteFile(file, []byte("services: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	requireComposeLoader(t, file)
	f := startFuncd(t, WithArgs("--compose", file))
	purgeAtCleanup(t, f)
	c := f.Client(t)
	time.Sleep(3 * time.Second) // settle
	before := funcdCost(t, f)

	var b strings.Builder
	b.WriteString("services:\n")
	for i := range n {
		fmt.Fprintf(&b, "  s%d:\n    image: %s\n    healthcheck:\n      test: [\"CMD\", \"/testsvc\", \"-healthcheck\", \"http://127.0.0.1:8000/healthz\"]\n      interval: 2s\n    restart: always\n", i, imageRef("testsvc:v1"))
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	signalFuncd(t, f, syscall.SIGHUP)
	waitServices(t, c, func(s map[string]api.ServiceStatus) error {
		for i := range n {
			if st := s[fmt.Sprintf("s%d", i)]; st.Health != "healthy" {
				return fmt.Errorf("s%d = %+v, want healthy", i, st)
			}
		}
		return nil
	})
	time.Sleep(3 * time.Second)
	after := funcdCost(t, f)
	t.Logf("funcd with 0 services: RSS %d KiB, heap in use %d KiB, %d goroutines", before.rssKiB, before.heapKiB, before.goroutines)
	t.Logf("funcd with %d services: RSS %d KiB, heap in use %d KiB, %d goroutines", n, after.rssKiB, after.heapKiB, after.goroutines)
	t.Logf("per service: RSS %+.1f KiB, heap %+.1f KiB, %+.1f goroutines",
		float64(after.rssKiB-before.rssKiB)/n, float64(after.heapKiB-before.heapKiB)/n, float64(after.goroutines-before.goroutines)/n)
}

type cost struct{ rssKiB, heapKiB, goroutines int }

// funcdCost reads f's RSS from /proc and its heap and goroutines from
// /metrics.
func funcdCost(t *testing.T, f *Funcd) cost {
	t.Helper()
	var c cost
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", f.PID()))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &c.rssKiB)
		}
	}
	_, metrics := authGet(t, f, "/metrics")
	for _, line := range strings.Split(metrics, "\n") {
		var v float64
		if _, err := fmt.Sscanf(line, "go_goroutines %g", &v); err == nil {
			c.goroutines = int(v)
		}
		if _, err := fmt.Sscanf(line, "go_memstats_heap_inuse_bytes %g", &v); err == nil {
			c.heapKiB = int(v) / 1024
		}
	}
	return c
}

// TestServicesInvalidFile: an invalid compose file stops funcd up with the
// file, line and reason.
func TestServicesInvalidFile(t *testing.T) {
	requireE2E(t)
	file := filepath.Join(t.TempDir(), "docker-compose.yaml")
	if err := os.WriteFile(file, []byte("services:\n  kv:\n    image: x\n    ports: [\"not a port\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := compose.Load(t.Context(), file, nil); err == nil {
		t.Fatal("compose.Load accepted the invalid file")
	}
	bridge, subnet, err := allocNetwork(int(funcdCount.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	o := testenv.FuncdOptions{Bridge: bridge, Subnet: subnet, Args: []string{"--compose", file}}
	tf, err := h.StartFuncd(t.Context(), o)
	if err == nil {
		tf.Kill()
		t.Fatal("funcd up with an invalid compose file started; want it to stop")
	}
	if !strings.Contains(err.Error(), file+":4") {
		t.Errorf("funcd up said %v, want FILE:4 naming the bad line", err)
	}
}
