package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/test/testenv"
)

// TestServiceKeys runs a compose file using the keys TestServices does
// not, and checks each took effect in the running container: entrypoint
// (the service listens where only the new entrypoint says), env_file and
// environment, user, cap_add and cap_drop (the bounding set), read_only,
// mem_limit and cpus (the container's cgroup).
func TestServiceKeys(t *testing.T) {
	requireE2E(t)
	dir := t.TempDir()
	var ports [3]int
	for i := range ports {
		p, err := testenv.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = p
	}
	if err := os.WriteFile(filepath.Join(dir, "probe.env"), []byte("# comment\nFROM_FILE=yes\nSHARED=file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "docker-compose.yaml")
	compose := fmt.Sprintf(`services:
  probe:
    image: %[1]s
    user: "1234:1234"
    cap_add: [NET_ADMIN]
    cap_drop: [CHOWN]
    mem_limit: 96m
    cpus: 0.5
    env_file: [probe.env]
    environment:
      FROM_COMPOSE: "yes"
      SHARED: compose
    ports: ["127.0.0.1:%[3]d:8080"]
  ro:
    image: %[1]s
    read_only: true
    ports: ["127.0.0.1:%[4]d:8080"]
  entry:
    image: %[2]s
    entrypoint: ["/testsvc", "-listen", ":8001", "-data", "/tmp/entry"]
    ports: ["127.0.0.1:%[5]d:8001"]
`, imageRef("testfn:v1"), imageRef("testsvc:v1"), ports[0], ports[1], ports[2])
	if err := os.WriteFile(file, []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	f := startFuncd(t, WithArgs("--compose", file))
	purgeAtCleanup(t, f)
	c := f.Client(t)
	ctx := t.Context()
	running := waitServices(t, c, func(s map[string]api.ServiceStatus) error {
		for _, name := range []string{"probe", "ro", "entry"} {
			if s[name].State != "running" {
				return fmt.Errorf("services = %+v, want all three running", s)
			}
		}
		return nil
	})
	probe := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	eventually(t, 20*time.Second, func() error { return httpDo(ctx, http.MethodGet, probe+"/ok", "", http.StatusOK) })

	// entrypoint: only the new one listens on 8001.
	eventually(t, 20*time.Second, func() error {
		return httpDo(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/healthz", ports[2]), "", http.StatusOK)
	})

	// env_file, then environment over it.
	env := httpGet(t, probe+"/env")
	for _, want := range []string{`"FROM_FILE":"yes"`, `"FROM_COMPOSE":"yes"`, `"SHARED":"compose"`} {
		if !strings.Contains(env, want) {
			t.Errorf("probe's environment %s has no %s", env, want)
		}
	}

	// user, cap_add, cap_drop.
	status := httpGet(t, probe+"/file?path=/proc/self/status")
	if !strings.Contains(status, "Uid:\t1234\t1234") || !strings.Contains(status, "Gid:\t1234\t1234") {
		t.Errorf("probe runs as %q, want uid and gid 1234", grepLines(status, "Uid:", "Gid:"))
	}
	bnd := capBits(t, status, "CapBnd:")
	const capChown, capNetAdmin = 0, 12
	if bnd&(1<<capNetAdmin) == 0 || bnd&(1<<capChown) != 0 {
		t.Errorf("probe's bounding set %#x: want CAP_NET_ADMIN added and CAP_CHOWN dropped", bnd)
	}

	// read_only: the root file system refuses writes (EROFS, not EACCES).
	ro := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	eventually(t, 20*time.Second, func() error { return httpDo(ctx, http.MethodGet, ro+"/ok", "", http.StatusOK) })
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ro+"/write?path=/written", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	res.Body.Close()
	if res.StatusCode == http.StatusOK || !strings.Contains(string(body), "read-only file system") {
		t.Errorf("writing / in the read_only service = %d %q, want read-only file system", res.StatusCode, body)
	}

	// mem_limit and cpus, from the host's view of probe's cgroup.
	mem, quota := cgroupLimits(t, running["probe"].PID)
	if mem != 96<<20 {
		t.Errorf("probe's memory limit = %d, want %d (96m)", mem, 96<<20)
	}
	if quota != "50000 100000" {
		t.Errorf("probe's CPU quota = %q, want 50000 per 100000 (cpus: 0.5)", quota)
	}
}

// grepLines returns the lines of s starting with any of prefixes.
func grepLines(s string, prefixes ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				out = append(out, l)
			}
		}
	}
	return strings.Join(out, "; ")
}

// capBits parses a capability mask line ("CapBnd:\t000001ffffffffff") of
// /proc/PID/status.
func capBits(t *testing.T, status, key string) uint64 {
	t.Helper()
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, key); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatalf("%s %q: %v", key, v, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in %q", key, status)
	return 0
}

// cgroupLimits reads the memory limit (bytes) and CPU quota ("QUOTA
// PERIOD") of process pid's cgroups, v1 or v2.
func cgroupLimits(t *testing.T, pid uint32) (int64, string) {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	var mem int64
	var quota, period, unified string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, ctl := range strings.Split(parts[1], ",") {
			switch ctl {
			case "memory":
				mem, _ = strconv.ParseInt(read(filepath.Join("/sys/fs/cgroup", parts[1], parts[2], "memory.limit_in_bytes")), 10, 64)
			case "cpu":
				dir := filepath.Join("/sys/fs/cgroup", parts[1], parts[2])
				quota, period = read(filepath.Join(dir, "cpu.cfs_quota_us")), read(filepath.Join(dir, "cpu.cfs_period_us"))
			}
		}
		if parts[0] == "0" && parts[1] == "" {
			unified = parts[2]
		}
	}
	if mem == 0 && unified != "" { // cgroup v2 only
		dir := filepath.Join("/sys/fs/cgroup", unified)
		mem, _ = strconv.ParseInt(read(filepath.Join(dir, "memory.max")), 10, 64)
		return mem, read(filepath.Join(dir, "cpu.max"))
	}
	return mem, quota + " " + period
}
