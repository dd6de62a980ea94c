package e2e

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/funcd/funcd/internal/api"
)

// TestLimitsInCgroups deploys a function with memory and CPU limits and
// reads its cgroup files to see them enforced, with the default pids limit.
func TestLimitsInCgroups(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	c := f.Client(t)
	deployReady(t, c, api.FunctionDeployment{Service: "limited", Image: imageRef("testfn:v1"),
		Limits: &api.FunctionResources{Memory: "64Mi", CPU: "250m"}})
	var pid uint32
	for _, p := range tasks(t, "limited") {
		pid = p
	}
	if pid == 0 {
		t.Fatal("no running task")
	}
	if got := cgroupValue(t, pid, "memory", "memory.limit_in_bytes", "memory.max"); got != strconv.Itoa(64<<20) {
		t.Errorf("memory limit = %q, want %d", got, 64<<20)
	}
	cpu := cgroupValue(t, pid, "cpu", "cpu.cfs_quota_us", "cpu.max")
	if cpu != "25000" && !strings.HasPrefix(cpu, "25000 ") {
		t.Errorf("cpu quota = %q, want 25000 (250m of a 100ms period)", cpu)
	}
	if got := cgroupValue(t, pid, "pids", "pids.max", "pids.max"); got != "1024" {
		t.Errorf("pids.max = %q, want the default 1024", got)
	}
}

// TestMemoryBudgetRefusesDeploy checks the host budget on memory limits.
func TestMemoryBudgetRefusesDeploy(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t, WithArgs("--memory-budget", "100Mi"))
	c := f.Client(t)
	deployReady(t, c, api.FunctionDeployment{Service: "small", Image: imageRef("testfn:v1"), Limits: &api.FunctionResources{Memory: "64Mi"}})
	err := c.Deploy(t.Context(), api.FunctionDeployment{Service: "big", Image: imageRef("testfn:v1"), Limits: &api.FunctionResources{Memory: "64Mi"}})
	if !isStatus(err, 400) || !strings.Contains(err.Error(), "100Mi") || !strings.Contains(err.Error(), "64Mi") {
		t.Errorf("deploy over the budget = %v, want 400 with the numbers", err)
	}
	if err := c.Scale(t.Context(), "small", "", 2); !isStatus(err, 400) {
		t.Errorf("scale over the budget = %v, want 400", err)
	}
}

// TestIsolation looks at a function from inside: no extra capabilities,
// seccomp filtering, no privilege escalation, the image's user, and a
// read-only root with a writable /tmp when asked.
func TestIsolation(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	c := f.Client(t)
	ctx := t.Context()
	deployReady(t, c, api.FunctionDeployment{Service: "ro", Image: imageRef("testfn:v1"), ReadOnlyRootFilesystem: true})
	deployReady(t, c, api.FunctionDeployment{Service: "nobody", Image: imageRef("testfn:nobody")})

	status := func(fn string) map[string]string {
		t.Helper()
		code, body, err := call(ctx, c, fn, http.MethodGet, "/file?path=/proc/self/status", "")
		if err != nil || code != 200 {
			t.Fatalf("read /proc/self/status in %s = %d %q, %v", fn, code, body, err)
		}
		m := map[string]string{}
		for _, line := range strings.Split(body, "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok {
				m[k] = strings.TrimSpace(v)
			}
		}
		return m
	}
	st := status("ro")
	capEff, err := strconv.ParseUint(st["CapEff"], 16, 64)
	if err != nil {
		t.Fatalf("CapEff = %q", st["CapEff"])
	}
	const defaultCaps uint64 = 0x00000000a80425fb // the container default set
	if capEff&^defaultCaps != 0 {
		t.Errorf("CapEff = %#x has capabilities beyond the default set %#x", capEff, defaultCaps)
	}
	if capEff&(1<<21) != 0 {
		t.Errorf("CapEff = %#x includes CAP_SYS_ADMIN", capEff)
	}
	if st["Seccomp"] != "2" || st["NoNewPrivs"] != "1" {
		t.Errorf("Seccomp = %q, NoNewPrivs = %q; want 2 (filtering) and 1", st["Seccomp"], st["NoNewPrivs"])
	}
	if uid := strings.Fields(status("nobody")["Uid"]); len(uid) == 0 || uid[0] != "65534" {
		t.Errorf("Uid in an image with USER 65534 = %v, want 65534", uid)
	}
	if uid := strings.Fields(st["Uid"]); len(uid) == 0 || uid[0] != "0" {
		t.Errorf("Uid in an image without USER = %v, want 0", uid)
	}

	if code, body, _ := call(ctx, c, "ro", http.MethodGet, "/write?path=/etc/x", ""); code == 200 || !strings.Contains(body, "read-only") {
		t.Errorf("writing / in a read-only function = %d %q, want a read-only file system error", code, body)
	}
	if code, body, _ := call(ctx, c, "ro", http.MethodGet, "/write?path=/tmp/x", ""); code != 200 {
		t.Errorf("writing /tmp in a read-only function = %d %q, want 200", code, body)
	}
	if code, body, _ := call(ctx, c, "nobody", http.MethodGet, "/write?path=/etc/x", ""); code == 200 {
		t.Errorf("a non-root function wrote to /etc: %d %q", code, body)
	}

	// No raw sockets (no ARP forgery on the shared bridge), even as root,
	// unless asked for; ping sockets still work.
	if capEff&(1<<13) != 0 {
		t.Errorf("CapEff = %#x includes CAP_NET_RAW", capEff)
	}
	sockets := func(fn string) map[string]string {
		t.Helper()
		code, body, err := call(ctx, c, fn, http.MethodGet, "/sockets", "")
		var m map[string]string
		if err != nil || code != 200 || json.Unmarshal([]byte(body), &m) != nil {
			t.Fatalf("/sockets in %s = %d %q, %v", fn, code, body, err)
		}
		return m
	}
	if s := sockets("ro"); s["raw"] == "ok" || s["ping"] != "ok" {
		t.Errorf("sockets of a root function = %v; want raw refused, ping allowed", s)
	}
	if s := sockets("nobody"); s["raw"] == "ok" || s["ping"] != "ok" {
		t.Errorf("sockets of a non-root function = %v; want raw refused, ping allowed", s)
	}
	deployReady(t, c, api.FunctionDeployment{Service: "pinger", Image: imageRef("testfn:v1"),
		Annotations: map[string]string{"io.funcd.net-raw": "true"}})
	if s := sockets("pinger"); s["raw"] != "ok" {
		t.Errorf("sockets of a function with io.funcd.net-raw=true = %v; want raw allowed", s)
	}
	err = c.Deploy(ctx, api.FunctionDeployment{Service: "badraw", Image: imageRef("testfn:v1"),
		Annotations: map[string]string{"io.funcd.net-raw": "maybe"}})
	if !isStatus(err, 400) || !strings.Contains(err.Error(), "io.funcd.net-raw") {
		t.Errorf("deploy with io.funcd.net-raw=maybe = %v, want 400 naming it", err)
	}
}

// TestTmpCappedByMemory: /tmp is memory (a tmpfs the size of the memory
// limit, charged to the function), so a function cannot fill the host's
// disk through it, whether its root is read-only or not.
func TestTmpCappedByMemory(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	c := f.Client(t)
	ctx := t.Context()
	deployReady(t, c, api.FunctionDeployment{Service: "writer", Image: imageRef("testfn:v1"),
		Limits: &api.FunctionResources{Memory: "96Mi"}})
	deployReady(t, c, api.FunctionDeployment{Service: "nolimit", Image: imageRef("testfn:v1")})

	if code, body, _ := call(ctx, c, "writer", http.MethodGet, "/file?path=/proc/mounts", ""); code != 200 || !regexp.MustCompile(`tmpfs /tmp tmpfs \S*size=98304k`).MatchString(body) {
		t.Errorf("mounts of a function with 96Mi = %d; want /tmp a 96Mi tmpfs in:\n%s", code, body)
	}
	if code, body, _ := call(ctx, c, "nolimit", http.MethodGet, "/file?path=/proc/mounts", ""); code != 200 || !regexp.MustCompile(`tmpfs /tmp tmpfs \S*size=65536k`).MatchString(body) {
		t.Errorf("mounts of a function without a limit = %d; want /tmp a 64Mi tmpfs in:\n%s", code, body)
	}
	// What the review did: 300 MB into /tmp of a 96Mi function.
	if code, body, _ := call(ctx, c, "writer", http.MethodGet, "/write?path=/tmp/big&mb=300", ""); code == 200 {
		t.Errorf("wrote 300 MiB into /tmp of a 96Mi function: %d %q", code, body)
	}
	du := func() int64 {
		var n int64
		_ = filepath.WalkDir(filepath.Join(h.Dir, "root"), func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if fi, err := d.Info(); err == nil {
					n += fi.Size()
				}
			}
			return nil
		})
		return n
	}
	before := du()
	_, _, _ = call(ctx, c, "nolimit", http.MethodGet, "/write?path=/tmp/big&mb=200", "")
	if grew := du() - before; grew > 32<<20 {
		t.Errorf("containerd's disk grew by %d MiB after a function wrote to /tmp", grew>>20)
	}
}

// TestFunctionCallsFunction has one function call another through
// http://gateway:8080, with the resolv.conf and hosts funcd writes.
func TestFunctionCallsFunction(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	c := f.Client(t)
	ctx := t.Context()
	deployReady(t, c, api.FunctionDeployment{Service: "callee", Image: imageRef("testfn:v2")})
	deployReady(t, c, api.FunctionDeployment{Service: "caller", Image: imageRef("testfn:v1")})

	code, body, err := call(ctx, c, "caller", http.MethodGet, "/get?url=http://gateway:8080/function/callee/hello", "")
	if err != nil || code != 200 || !strings.Contains(body, `"path":"/hello"`) || !strings.Contains(body, `"version":"v2"`) {
		t.Errorf("caller → gateway → callee = %d %q, %v; want callee's echo of /hello", code, body, err)
	}
	hosts, _ := os.ReadFile(filepath.Join(f.StateDir, "etc", "hosts"))
	gw := f.Subnet.Masked().Addr().Next()
	if !strings.Contains(string(hosts), fmt.Sprintf("%s\tgateway", gw)) {
		t.Errorf("hosts file = %q, want gateway at %s", hosts, gw)
	}
	code, body, _ = call(ctx, c, "caller", http.MethodGet, "/file?path=/etc/resolv.conf", "")
	if code != 200 || strings.Contains(body, "127.0.0.53") {
		t.Errorf("function resolv.conf = %d %q, want no loopback stub", code, body)
	}
}

// cgroupValue reads a cgroup file of pid: v1file under the v1 controller
// hierarchy, or v2file in the unified one.
func cgroupValue(t *testing.T, pid uint32, controller, v1file, v2file string) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var path string
		switch {
		case parts[1] == "" && parts[0] == "0":
			path = filepath.Join("/sys/fs/cgroup", parts[2], v2file)
		case containsController(parts[1], controller):
			path = filepath.Join("/sys/fs/cgroup", controllerDir(controller, parts[1]), parts[2], v1file)
		default:
			continue
		}
		if b, err := os.ReadFile(path); err == nil {
			return strings.TrimSpace(string(b))
		}
	}
	t.Fatalf("no %s cgroup file for pid %d in %q", controller, pid, data)
	return ""
}

func containsController(list, c string) bool {
	for _, x := range strings.Split(list, ",") {
		if x == c {
			return true
		}
	}
	return false
}

// controllerDir finds where a v1 controller is mounted: its own name, or
// the joint name (e.g. cpu,cpuacct).
func controllerDir(c, joint string) string {
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", c)); err == nil {
		return c
	}
	return joint
}
