package systemd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestInstallOnSystemd is issue 10's section 5: funcd installed with
// install.sh into a booted Debian 12 and operated with systemctl. Each step
// needs the ones before it, so the first failure ends the test.
func TestInstallOnSystemd(t *testing.T) {
	requireNspawn(t)
	began := time.Now()
	defer func() { report(t, "duration=%v", time.Since(began).Round(time.Second)) }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()

	a := buildAssets(ctx, t)
	m := newMachine(ctx, t, machineOptions{boot: true, prepare: a.copyInto})
	t.Logf("booted %s in %v (root filesystem and builds included)", m.name, time.Since(began).Round(time.Second))
	s := &systemdRun{m: m, a: a}
	steps := []struct {
		name string
		run  func(context.Context, *testing.T)
	}{
		{"1_install", s.install},
		{"2_deploy", s.deploy},
		{"3_side_services", s.sideServices},
		{"4_restart_under_load", s.restartUnderLoad},
		{"5_kill", s.kill},
		{"6_reboot", s.reboot},
		{"7_reinstall", s.reinstall},
		{"8_uninstall_purge", s.uninstallPurge},
	}
	for _, step := range steps {
		if !t.Run(step.name, func(t *testing.T) { step.run(ctx, t) }) {
			t.FailNow()
		}
	}
}

// systemdRun carries what one step leaves for the next.
type systemdRun struct {
	m       *machine
	a       assets
	taskPID string // of the function's replica, inside the machine
}

// installSh runs install.sh inside with dash, with env before it.
func (s *systemdRun) installSh(ctx context.Context, t *testing.T, env, args string) string {
	t.Helper()
	return s.m.mustRun(ctx, t, env+" sh "+inside+"/install.sh "+args+" 2>&1")
}

// isActive returns `systemctl is-active UNIT`.
func isActive(ctx context.Context, m *machine, unit string) string {
	out, _ := m.run(ctx, "systemctl is-active "+unit)
	return strings.TrimSpace(out)
}

func (s *systemdRun) install(ctx context.Context, t *testing.T) {
	m := s.m
	start := time.Now()
	out := s.installSh(ctx, t, "FUNCD_BINARY="+inside+"/funcd", "")
	report(t, "install_seconds=%.1f", time.Since(start).Seconds())
	t.Logf("install.sh:\n%s", out)
	for _, want := range []string{
		"install: funcd is ready at " + gatewayURL,
		"install: admin password (user admin): /var/lib/funcd/secrets/basic-auth-password",
		"funcd login --gateway " + gatewayURL + " --password-stdin",
		"faas-cli login --gateway " + gatewayURL + " --password-stdin",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("install.sh printed no %q", want)
		}
	}
	for unit, want := range map[string]string{"funcd": "active", "containerd": "active"} {
		if got := isActive(ctx, m, unit); got != want {
			t.Errorf("systemctl is-active %s = %q, want %q", unit, got, want)
		}
	}
	for _, unit := range []string{"funcd", "containerd"} {
		if got, _ := m.run(ctx, "systemctl is-enabled "+unit); strings.TrimSpace(got) != "enabled" {
			t.Errorf("systemctl is-enabled %s = %q, want enabled", unit, strings.TrimSpace(got))
		}
	}
	if unit, want := m.mustRun(ctx, t, "cat /etc/systemd/system/funcd.service"), m.mustRun(ctx, t, "funcd install --print-unit"); unit != want {
		t.Errorf("the installed unit differs from the one funcd embeds")
	}
	m.mustRun(ctx, t, `test "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 && grep -q '^net.ipv4.ip_forward = 1' /etc/sysctl.d/90-funcd.conf && test -f /etc/default/funcd`)
	// funcd install puts the shipped side services in the state directory.
	m.mustRun(ctx, t, `grep -q 'prom/prometheus' /var/lib/funcd/docker-compose.yaml && grep -q 'gateway:8080' /var/lib/funcd/prometheus.yml && test -s /var/lib/funcd/.shipped/docker-compose.yaml.sha256`)
	if _, err := m.run(ctx, "systemd-analyze verify /etc/systemd/system/funcd.service"); err != nil {
		t.Errorf("systemd-analyze verify: %v", err)
	}
}

func (s *systemdRun) deploy(ctx context.Context, t *testing.T) {
	deployFunction(ctx, t, s.m)
	c := gatewayClient(t, s.m)
	mustAnswer(ctx, t, c, "/", `"body":"ping"`)
	// The machine is offline (no default route; the image was imported):
	// the function also goes to zero and cold-starts again.
	if out, _ := s.m.run(ctx, "ip route show default"); strings.TrimSpace(out) != "" {
		t.Fatalf("the machine has a default route (%s); the test needs it offline", strings.TrimSpace(out))
	}
	if err := c.Scale(ctx, fnName, "", 0); err != nil {
		t.Fatalf("scale to zero: %v", err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if st, err := c.GetFunction(ctx, fnName, ""); err == nil && st.AvailableReplicas == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the function did not reach zero replicas within a minute")
		}
	}
	coldStart := time.Now()
	mustAnswer(ctx, t, c, "/", `"body":"ping"`)
	report(t, "offline_cold_start_ms=%d", time.Since(coldStart).Milliseconds())
	checkSecret(ctx, t, c)
	s.taskPID = taskPID(ctx, t, s.m)
}

// sideServices runs the docker-compose.yaml install.sh shipped: its
// Prometheus, from the image imported under the upstream name (the machine
// is offline), scrapes funcd through prometheus.yml's gateway:8080 and
// counts the function's invocations as funcd does.
func (s *systemdRun) sideServices(ctx context.Context, t *testing.T) {
	m := s.m
	m.mustRun(ctx, t, `set -e
test -s /var/lib/funcd/docker-compose.yaml && test -s /var/lib/funcd/prometheus.yml
funcd image import --services --gateway `+gatewayURL+` `+inside+`/prometheus.tar
funcd service restart --gateway `+gatewayURL+` prometheus`)
	hc := netnsHTTPClient(m.leaderPID, 5*time.Second)
	waitPrometheus(ctx, t, m, hc)
	c := gatewayClient(t, m)
	for range 5 {
		mustAnswer(ctx, t, c, "/", `"body":"ping"`)
	}
	st, err := c.GetFunction(ctx, fnName, "")
	if err != nil || st.InvocationCount < 5 {
		t.Fatalf("invocationCount of %s = %v, %v; want at least 5", fnName, st.InvocationCount, err)
	}
	want := st.InvocationCount
	query := "http://127.0.0.1:9090/api/v1/query?query=" + url.QueryEscape(`sum(gateway_function_invocation_total{function_name="`+fnName+`.openfaas-fn"})`)
	var got string
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		if got = promValue(ctx, hc, query); got == strconv.FormatFloat(want, 'f', -1, 64) {
			break
		}
	}
	if got != strconv.FormatFloat(want, 'f', -1, 64) {
		services, _ := m.run(ctx, "funcd service list --gateway "+gatewayURL+"; funcd service logs --gateway "+gatewayURL+" --tail 20 prometheus")
		t.Fatalf("the shipped Prometheus counts %q invocations of %s, funcd %v\n%s", got, fnName, want, services)
	}
	report(t, "shipped_prometheus_counted=%s", got)

	// systemctl reload applies an edit of the file: the changed service
	// is recreated, funcd keeps running. The edit also makes the file the
	// user's, which the upgrade (reinstall) must keep.
	servicePID := func() uint32 {
		ss, err := c.Services(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ss {
			if s.Name == "prometheus" && s.State == "running" {
				return s.PID
			}
		}
		return 0
	}
	oldPID := servicePID()
	mainPID := m.mustRun(ctx, t, "systemctl show -p MainPID --value funcd")
	m.mustRun(ctx, t, `set -e
grep -q 'mem_limit: 512m' /var/lib/funcd/docker-compose.yaml
sed -i 's/mem_limit: 512m/mem_limit: 384m/' /var/lib/funcd/docker-compose.yaml
systemctl reload funcd`)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if pid := servicePID(); pid != 0 && pid != oldPID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus (pid %d) not recreated within a minute of systemctl reload", oldPID)
		}
	}
	if got := m.mustRun(ctx, t, "systemctl show -p MainPID --value funcd"); got != mainPID || isActive(ctx, m, "funcd") != "active" {
		t.Errorf("after systemctl reload funcd is %s with MainPID %s, want active with %s", isActive(ctx, m, "funcd"), got, mainPID)
	}
	waitPrometheus(ctx, t, m, hc)
}

// waitPrometheus waits until the Prometheus side service answers on its
// published port inside the machine.
func waitPrometheus(ctx context.Context, t *testing.T, m *machine, hc *http.Client) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(500 * time.Millisecond) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:9090/-/ready", nil)
		if res, err := hc.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			out, _ := m.run(ctx, "funcd service list --gateway "+gatewayURL+"; funcd service logs --gateway "+gatewayURL+" --tail 20 prometheus")
			t.Fatalf("Prometheus not ready on 127.0.0.1:9090 within 2 minutes:\n%s", out)
		}
	}
}

// promValue returns the value of an instant query's one sample, or "".
func promValue(ctx context.Context, hc *http.Client, query string) string {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, query, nil)
	res, err := hc.Do(req)
	if err != nil {
		return ""
	}
	defer res.Body.Close()
	var r struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if json.NewDecoder(res.Body).Decode(&r) != nil || len(r.Data.Result) != 1 {
		return ""
	}
	v, _ := r.Data.Result[0].Value[1].(string)
	return v
}

// restartUnderLoad restarts funcd while four clients call the function,
// and reports the failed calls and the longest time without an answer.
func (s *systemdRun) restartUnderLoad(ctx context.Context, t *testing.T) {
	m := s.m
	c := gatewayClient(t, m)
	hc := netnsHTTPClient(m.leaderPID, 0)
	stop := make(chan struct{})
	done := make(chan loadResult, 1)
	go func() { done <- runLoad(ctx, hc, c.FunctionURL(fnName, "")+"/?load=1", 4, stop) }()
	time.Sleep(time.Second)
	start := time.Now()
	_, err := m.run(ctx, "systemctl restart funcd")
	restart := time.Since(start)
	time.Sleep(2 * time.Second)
	close(stop)
	res := <-done
	if err != nil {
		t.Fatal(err)
	}
	report(t, "restart_under_load %v systemctl_restart_ms=%d", res, restart.Milliseconds())
	if restart > 2*time.Second {
		journal, _ := m.run(ctx, fmt.Sprintf("journalctl -u funcd --no-pager -q -o short-precise --since=@%d", start.Unix()))
		t.Logf("systemctl restart took %v; funcd's journal since:\n%s", restart.Round(time.Millisecond), tail(journal, 30))
	}
	if res.firstFailure != "" {
		t.Logf("first failed call: %s", res.firstFailure)
	}
	if res.calls == 0 || res.calls == res.failed {
		t.Fatalf("no call succeeded during the restart: %v", res)
	}
	// systemd keeps funcd's listening sockets over the restart (the fd
	// store): connections wait in the backlog, none is refused.
	if res.failed > 0 {
		t.Errorf("%d of %d calls failed during the restart, want 0 for calls that wait up to %v (first: %s)",
			res.failed, res.calls, callBudget, res.firstFailure)
	}
	if got := taskPID(ctx, t, m); got != s.taskPID {
		t.Errorf("the replica's task pid went from %s to %s over a funcd restart", s.taskPID, got)
	}
}

// kill SIGKILLs funcd through systemd: systemd restarts it and the
// function, whose task belongs to containerd, keeps its process.
func (s *systemdRun) kill(ctx context.Context, t *testing.T) {
	m := s.m
	before := strings.TrimSpace(m.mustRun(ctx, t, "systemctl show -p MainPID --value funcd"))
	// A state directory others may read makes the next funcd narrow it
	// and say so with a warning: the journal must file it as one.
	m.mustRun(ctx, t, "chmod 0755 /var/lib/funcd")
	since := strings.TrimSpace(m.mustRun(ctx, t, "date +%s"))
	m.mustRun(ctx, t, "systemctl kill -s KILL funcd")
	deadline := time.Now().Add(time.Minute)
	for {
		pid := strings.TrimSpace(m.mustRun(ctx, t, "systemctl show -p MainPID --value funcd"))
		if pid != before && pid != "0" && isActive(ctx, m, "funcd") == "active" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("funcd not active again a minute after SIGKILL (MainPID %s, was %s)", pid, before)
		}
		time.Sleep(100 * time.Millisecond)
	}
	mustAnswer(ctx, t, gatewayClient(t, m), "/", `"body":"ping"`)
	if got := taskPID(ctx, t, m); got != s.taskPID {
		t.Errorf("the replica's task pid went from %s to %s when funcd was killed", s.taskPID, got)
	}
	if n := strings.TrimSpace(m.mustRun(ctx, t, "systemctl show -p NRestarts --value funcd")); n == "0" {
		t.Errorf("systemd counts no restart of funcd after it was killed")
	}
	warnings, _ := m.run(ctx, "journalctl -u funcd -p warning --no-pager -q -o cat --since=@"+since)
	infos, _ := m.run(ctx, "journalctl -u funcd -p info --no-pager -q -o cat --since=@"+since)
	if !strings.Contains(warnings, "narrowed it to mode 0700") || strings.Contains(warnings, "level=INFO") ||
		!strings.Contains(infos, `msg="funcd is up"`) || regexp.MustCompile(`(?m)^<\d>`).MatchString(infos) {
		t.Errorf("journalctl -p warning shows:\n%s\nwant the warning and no info lines; -p info shows:\n%s", warnings, infos)
	}
}

// reboot reboots the container: funcd comes back with the function
// running, without a deploy call, and is READY only once it answers.
func (s *systemdRun) reboot(ctx context.Context, t *testing.T) {
	m := s.m
	start := time.Now()
	if err := m.reboot(ctx); err != nil {
		t.Fatal(err)
	}
	booted := time.Since(start)
	// The boot is done when systemd's start jobs are, funcd's included:
	// funcd is active only after READY=1, which it sends once the
	// function it recreated answers.
	if got := isActive(ctx, m, "funcd"); got != "active" {
		t.Fatalf("funcd is %q after the reboot, want active", got)
	}
	c := gatewayClient(t, m)
	if code, body, err := invoke(ctx, c, http.MethodGet, "/", ""); err != nil || code != http.StatusOK {
		t.Errorf("first call after funcd became active = %d %q, %v; want 200 (READY before the function answered?)", code, body, err)
	}
	answered := waitAnswer(ctx, t, c, 2*time.Minute)
	report(t, "reboot_to_first_answer_seconds=%.1f boot_seconds=%.1f", answered.Sub(start).Seconds(), booted.Seconds())
	if warnings, _ := m.run(ctx, "journalctl -b -u funcd -p warning --no-pager -q"); strings.TrimSpace(warnings) != "" {
		t.Logf("funcd's warnings and errors during the boot:\n%s", warnings)
	}
	checkSecret(ctx, t, c)
	s.taskPID = taskPID(ctx, t, m)
	waitPrometheus(ctx, t, m, netnsHTTPClient(m.leaderPID, 5*time.Second))
}

// reinstall runs install.sh again with a binary of another version while
// invocations wait in the queue: everything is kept and the function
// keeps serving.
func (s *systemdRun) reinstall(ctx context.Context, t *testing.T) {
	m := s.m
	c := gatewayClient(t, m)
	ids := queueCalls(ctx, t, c, 6, 1500)
	if st, err := c.QueueStats(ctx); err == nil {
		t.Logf("queue before the upgrade: depth=%d inflight=%d", st.Depth, st.InFlight)
	}
	out := s.installSh(ctx, t, "FUNCD_BINARY="+inside+"/funcd-upgrade", "")
	t.Logf("install.sh (upgrade):\n%s", out)
	if !strings.Contains(out, "restarting funcd to upgrade it") {
		t.Errorf("install.sh did not say it restarts funcd for the upgrade")
	}
	info, err := c.Info(ctx)
	if err != nil || info.Version == nil || info.Version.Release != s.a.upgraded {
		t.Fatalf("/system/info after the upgrade = %+v, %v; want release %q", info.Version, err, s.a.upgraded)
	}
	fns, err := c.ListFunctions(ctx, "")
	if err != nil || len(fns) != 1 || fns[0].Name != fnName {
		t.Errorf("functions after the upgrade = %v, %v; want just %s", fns, err, fnName)
	}
	if got := taskPID(ctx, t, m); got != s.taskPID {
		t.Errorf("the replica's task pid went from %s to %s over the upgrade", s.taskPID, got)
	}
	checkSecret(ctx, t, c)
	waitRecorded(ctx, t, c, ids, time.Minute)
	// The compose file edited in sideServices is the user's: kept.
	m.mustRun(ctx, t, "grep -q 'mem_limit: 384m' /var/lib/funcd/docker-compose.yaml")
}

// uninstallPurge checks that --uninstall leaves the functions running and
// their state in place, and that --purge leaves nothing of funcd.
func (s *systemdRun) uninstallPurge(ctx context.Context, t *testing.T) {
	m := s.m
	out := s.installSh(ctx, t, "", "--uninstall")
	t.Logf("install.sh --uninstall:\n%s", out)
	if got := isActive(ctx, m, "funcd"); got == "active" {
		t.Errorf("funcd is still active after --uninstall")
	}
	m.mustRun(ctx, t, `! test -e /etc/systemd/system/funcd.service && ! test -e /usr/local/bin/funcd &&
test -s /var/lib/funcd/secrets/basic-auth-password && test -f /etc/default/funcd`)
	if got := taskPID(ctx, t, m); got != s.taskPID {
		t.Errorf("the replica's task pid went from %s to %s over --uninstall", s.taskPID, got)
	}

	out = s.installSh(ctx, t, "FUNCD_BINARY="+inside+"/funcd", "--purge")
	t.Logf("install.sh --purge:\n%s", out)
	checkPurged(ctx, t, m, true)
}

// purgeChecks are what must be gone after install.sh --purge, each a shell
// test that succeeds when it is.
var purgeChecks = []struct{ what, check string }{
	{"binary /usr/local/bin/funcd", "! test -e /usr/local/bin/funcd"},
	{"unit /etc/systemd/system/funcd.service", "! test -e /etc/systemd/system/funcd.service"},
	{"settings /etc/default/funcd", "! test -e /etc/default/funcd"},
	{"state directory /var/lib/funcd", "! test -e /var/lib/funcd"},
	{"logs /var/log/funcd", "! test -e /var/log/funcd"},
	{"sysctl file /etc/sysctl.d/90-funcd.conf", "! test -e /etc/sysctl.d/90-funcd.conf"},
	{"instance claim /run/funcd", "! test -e /run/funcd"},
	{"pid file /run/funcd-install.pid", "! test -e /run/funcd-install.pid"},
	{"containerd containers in openfaas-fn", `test -z "$(ctr -n openfaas-fn containers ls -q)"`},
	{"containerd tasks in openfaas-fn", `test -z "$(ctr -n openfaas-fn tasks ls -q)"`},
	{"containerd images in openfaas-fn", `test -z "$(ctr -n openfaas-fn images ls -q)"`},
	{"containerd snapshots in openfaas-fn", `test -z "$(ctr -n openfaas-fn snapshots ls | tail -n +2)"`},
	{"containerd containers of side services", `test -z "$(ctr -n funcd containers ls -q)"`},
	{"containerd images of side services", `test -z "$(ctr -n funcd images ls -q)"`},
	{"bridge funcd0", "! ip link show funcd0 >/dev/null 2>&1"},
	{"veth interfaces", `! ip -o link show type veth | grep -q .`},
	{"network namespace mounts", "! grep -q nsfs /proc/self/mountinfo"},
	{"CNI result cache of network funcd", `! ls /var/lib/cni/results 2>/dev/null | grep -q '^funcd-'`},
	{"iptables rules and chains of funcd and CNI", `! iptables-save | grep -Eq 'funcd|10\.62\.|CNI-'`},
	{"processes of funcd and the functions", `! pgrep -f '[f]uncd up|/[t]estfn|[c]ontainerd-shim' >/dev/null`},
}

// purgeKnownGaps are purgeChecks that funcd purge does not pass yet, with
// why: they are logged and reported, not failed.
var purgeKnownGaps = map[string]string{}

// checkPurged runs purgeChecks and logs what it checked.
func checkPurged(ctx context.Context, t *testing.T, m *machine, systemd bool) {
	t.Helper()
	var gone, left []string
	for _, c := range purgeChecks {
		if _, err := m.run(ctx, c.check); err != nil {
			if why, ok := purgeKnownGaps[c.what]; ok {
				t.Logf("known gap, left after --purge: %s (%s)", c.what, why)
				left = append(left, strings.ReplaceAll(c.what, " ", "_"))
				continue
			}
			t.Errorf("left after --purge: %s (%s)", c.what, c.check)
			continue
		}
		gone = append(gone, c.what)
	}
	if systemd {
		if out, _ := m.run(ctx, "systemctl list-unit-files --no-legend funcd.service"); strings.TrimSpace(out) != "" {
			t.Errorf("systemd still knows funcd.service: %s", out)
		} else {
			gone = append(gone, "systemd unit funcd.service")
		}
	}
	t.Logf("checked gone after --purge (%d): %s", len(gone), strings.Join(gone, "; "))
	report(t, "purge_checked_gone=%d purge_known_gaps_left=%s", len(gone), strings.Join(left, ","))
}
