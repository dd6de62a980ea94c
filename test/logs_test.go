package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/namespaces"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/client"
	"github.com/funcd/funcd/internal/logs"
)

// logText makes function name print text on stdout (or stderr).
func logText(t *testing.T, c *client.Client, name, text, stream string) {
	t.Helper()
	path := "/log?" + url.Values{"text": {text}, "stream": {stream}}.Encode()
	if code, body, err := call(t.Context(), c, name, http.MethodGet, path, ""); err != nil || code != http.StatusOK {
		t.Fatalf("GET /function/%s%s = %d %q, %v", name, path, code, body, err)
	}
}

// readLogs returns the whole (non-follow) answer of GET /system/logs.
func readLogs(t *testing.T, c *client.Client, name string, opts client.LogOptions) []api.LogMessage {
	t.Helper()
	s, err := c.Logs(t.Context(), name, "", opts)
	if err != nil {
		t.Fatalf("Logs(%s, %+v) = %v", name, opts, err)
	}
	defer s.Close()
	var out []api.LogMessage
	for {
		m, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("Logs(%s): %v", name, err)
		}
		out = append(out, m)
	}
}

func logTexts(ms []api.LogMessage) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Text
	}
	return out
}

// waitForLine polls the logs of name until text appears.
func waitForLine(t *testing.T, c *client.Client, name, text string) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		if got := logTexts(readLogs(t, c, name, client.LogOptions{})); !slices.Contains(got, text) {
			return fmt.Errorf("logs of %s = %q, want a line %q", name, got, text)
		}
		return nil
	})
}

// replicaURL is where name's single replica listens, straight from its
// container's label: reachable while funcd is down.
func replicaURL(t *testing.T, name string) string {
	t.Helper()
	ctx := namespaces.WithNamespace(t.Context(), fnNamespace)
	for id := range tasks(t, name) {
		ctr, err := containerdClient(t).LoadContainer(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		labels, err := ctr.Labels(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return "http://" + labels["io.funcd.ip"] + ":8080"
	}
	t.Fatalf("no replica of %s", name)
	return ""
}

// TestLogs covers GET /system/logs on a real function: both streams,
// tail, since, follow, and output written while funcd was down.
func TestLogs(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	c := f.Client(t)
	deployReady(t, c, api.FunctionDeployment{Service: "logger", Image: imageRef("testfn:v1")})
	var replica string
	for id := range tasks(t, "logger") {
		replica = id
	}

	logText(t, c, "logger", "one", "stdout")
	logText(t, c, "logger", "two", "stderr")
	logText(t, c, "logger", "three", "stdout")
	waitForLine(t, c, "logger", "three")

	all := readLogs(t, c, "logger", client.LogOptions{Tail: -1})
	if got := logTexts(all); len(got) < 3 || !slices.Equal(got[len(got)-3:], []string{"one", "two", "three"}) {
		t.Errorf("logs = %q, want them to end with one, two, three", got)
	}
	for i, m := range all {
		if m.Name != "logger" || m.Namespace != fnNamespace || m.Instance != replica {
			t.Errorf("message %+v: want name logger, namespace %s, instance %s", m, fnNamespace, replica)
		}
		if i > 0 && m.Timestamp.Before(all[i-1].Timestamp) {
			t.Errorf("message %q at %v comes after a later one", m.Text, m.Timestamp)
		}
	}
	if got := logTexts(readLogs(t, c, "logger", client.LogOptions{Tail: 2})); !slices.Equal(got, []string{"two", "three"}) {
		t.Errorf("logs with tail 2 = %q, want [two three]", got)
	}

	// since travels with one-second resolution: write the next line in a
	// later second than everything before it.
	last := all[len(all)-1].Timestamp
	time.Sleep(time.Until(last.Truncate(time.Second).Add(time.Second)))
	mark := time.Now()
	logText(t, c, "logger", "four", "stdout")
	waitForLine(t, c, "logger", "four")
	if got := logTexts(readLogs(t, c, "logger", client.LogOptions{Since: mark})); !slices.Equal(got, []string{"four"}) {
		t.Errorf("logs since %v = %q, want [four]", mark, got)
	}
	if got := readLogs(t, c, "logger", client.LogOptions{Since: time.Now().Add(time.Hour)}); len(got) != 0 {
		t.Errorf("logs since an hour ahead = %q, want none", logTexts(got))
	}

	// follow: the history's last line, then lines as they are written.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	s, err := c.Logs(ctx, "logger", "", client.LogOptions{Tail: 1, Follow: true})
	if err != nil {
		t.Fatalf("Logs(follow) = %v", err)
	}
	defer s.Close()
	for _, want := range []string{"four", "five"} {
		if want == "five" {
			logText(t, c, "logger", "five", "stdout")
		}
		m, err := s.Recv()
		if err != nil || m.Text != want {
			t.Fatalf("followed line = %q, %v; want %q", m.Text, err, want)
		}
	}
	s.Close()

	// Output written while funcd is down waits in the task's FIFOs and is
	// recorded and served once funcd is back.
	direct := replicaURL(t, "logger")
	f.Kill9(t)
	resp, err := http.Get(direct + "/log?text=while-down")
	if err != nil {
		t.Fatalf("call the replica while funcd is down: %v", err)
	}
	resp.Body.Close()
	f.Restart(t)
	c = f.Client(t)
	waitForLine(t, c, "logger", "while-down")
	logText(t, c, "logger", "after-restart", "stdout")
	waitForLine(t, c, "logger", "after-restart")
	if got := logTexts(readLogs(t, c, "logger", client.LogOptions{Tail: 2})); !slices.Equal(got, []string{"while-down", "after-restart"}) {
		t.Errorf("logs with tail 2 after restart = %q, want [while-down after-restart]", got)
	}

	if _, err := c.Logs(t.Context(), "nope", "", client.LogOptions{}); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("Logs(nope) = %v, want ErrNotFound", err)
	}

	// The CLI prints TIMESTAMP INSTANCE TEXT.
	home := t.TempDir()
	pass, err := os.ReadFile(filepath.Join(f.StateDir, "secrets", "basic-auth-password"))
	if err != nil {
		t.Fatal(err)
	}
	cli := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), f.Cmd.Path, args...)
		cmd.Env = append(os.Environ(), "OPENFAAS_URL="+f.URL, "OPENFAAS_CONFIG="+home)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("funcd %s = %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	cli(string(pass), "login", "--password-stdin")
	out := strings.Fields(cli("", "logs", "logger", "--tail", "1"))
	if len(out) != 3 || out[1] != replica || out[2] != "after-restart" {
		t.Errorf("funcd logs logger --tail 1 = %q, want TIMESTAMP %s after-restart", out, replica)
	} else if _, err := time.Parse(time.RFC3339Nano, out[0]); err != nil {
		t.Errorf("funcd logs timestamp %q: %v", out[0], err)
	}
}

// TestLogsSizeCap checks that --log-max-size bounds each replica's files
// and that a deleted function's logs go with it.
func TestLogsSizeCap(t *testing.T) {
	requireE2E(t)
	const capBytes = 2048
	f := startFuncd(t, WithArgs("--log-max-size", "2Ki"))
	c := f.Client(t)
	deployReady(t, c, api.FunctionDeployment{Service: "capped", Image: imageRef("testfn:v1")})
	pad := strings.Repeat("x", 100)
	const n = 60 // about three times the cap
	for i := range n {
		logText(t, c, "capped", fmt.Sprintf("line-%02d %s", i, pad), "stdout")
	}
	lastLine := fmt.Sprintf("line-%02d %s", n-1, pad)
	waitForLine(t, c, "capped", lastLine)

	dir := logs.FunctionDir(filepath.Join(f.StateDir, "logs"), fnNamespace, "capped")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.Type()&os.ModeNamedPipe != 0 {
			continue // the task's output FIFOs (ID.log.stdout, .stderr)
		}
		names = append(names, e.Name())
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > capBytes {
			t.Errorf("%s is %d bytes, want at most %d", e.Name(), fi.Size(), capBytes)
		}
	}
	if len(names) != 2 || !strings.HasSuffix(names[1], ".log.1") {
		t.Errorf("log files = %q, want ID.log and ID.log.1", names)
	}
	got := logTexts(readLogs(t, c, "capped", client.LogOptions{}))
	if slices.Contains(got, "line-00 "+pad) || !slices.Contains(got, lastLine) {
		t.Errorf("logs = %d lines from %q, want the oldest rotated away and the newest kept", len(got), got[0])
	}

	if err := c.Remove(t.Context(), "capped", ""); err != nil {
		t.Fatalf("Remove = %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after remove, stat %s = %v, want it gone", dir, err)
	}
	assertNoLeftovers(t, f)
}
