package systemd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/client"
)

// fnName is the function the tests deploy; its secret is secretName.
const (
	fnName      = "fn"
	secretName  = "greeting"
	secretValue = "hello from nspawn"
)

// gatewayClient is an API client for the funcd inside m, with the admin
// password funcd generated there.
func gatewayClient(t *testing.T, m *machine) *client.Client {
	t.Helper()
	pw, err := os.ReadFile(filepath.Join(m.dir, "var/lib/funcd/secrets/basic-auth-password"))
	if err != nil {
		t.Fatalf("admin password: %v", err)
	}
	hc := netnsHTTPClient(m.leaderPID, 30*time.Second)
	return client.New(gatewayURL, client.WithBasicAuth("admin", strings.TrimSpace(string(pw))), client.WithHTTPClient(hc))
}

// invoke calls the function at path and returns the status and body.
func invoke(ctx context.Context, c *client.Client, method, path string, body string) (int, string, error) {
	res, err := c.Invoke(ctx, fnName, "", method, path, strings.NewReader(body), nil)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, string(b), err
}

// mustAnswer invokes the function once and fails the test unless it
// answers 200 with a body containing want.
func mustAnswer(ctx context.Context, t *testing.T, c *client.Client, path, want string) {
	t.Helper()
	code, body, err := invoke(ctx, c, http.MethodPost, path, "ping")
	if err != nil || code != http.StatusOK || !strings.Contains(body, want) {
		t.Fatalf("invoke %s%s = %d %q, %v; want 200 with %q", fnName, path, code, body, err, want)
	}
}

// waitAnswer polls until the function answers 200, and returns when it
// first did.
func waitAnswer(ctx context.Context, t *testing.T, c *client.Client, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, body, err := invoke(ctx, c, http.MethodGet, "/", "")
		if err == nil && code == http.StatusOK {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("function %s did not answer within %v: %d %q %v", fnName, timeout, code, body, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// deployFunction imports the test image, creates the secret and deploys
// the function with it, with the CLI inside the machine, as a person
// would.
func deployFunction(ctx context.Context, t *testing.T, m *machine) {
	t.Helper()
	m.mustRun(ctx, t, `set -e
funcd login --gateway `+gatewayURL+` --password-stdin </var/lib/funcd/secrets/basic-auth-password
funcd image import --gateway `+gatewayURL+` `+inside+`/testfn.tar
funcd secret create --gateway `+gatewayURL+` --from-literal '`+secretValue+`' `+secretName+`
funcd deploy --gateway `+gatewayURL+` --name `+fnName+` --image `+testfnRef+` --secret `+secretName+` --label com.openfaas.queue.max-inflight=1`)
}

// taskPID returns the pid (inside the machine) of the function's one task,
// from containerd.
func taskPID(ctx context.Context, t *testing.T, m *machine) string {
	t.Helper()
	out := m.mustRun(ctx, t, "ctr -n openfaas-fn tasks ls")
	var pids []string
	re := regexp.MustCompile(`^` + fnName + `-\S+\s+(\d+)\s+RUNNING`)
	for _, line := range strings.Split(out, "\n") {
		if mm := re.FindStringSubmatch(line); mm != nil {
			pids = append(pids, mm[1])
		}
	}
	if len(pids) != 1 {
		t.Fatalf("running tasks of %s: %v, want exactly one\n%s", fnName, pids, out)
	}
	return pids[0]
}

// checkSecret checks that the replica reads the secret's value.
func checkSecret(ctx context.Context, t *testing.T, c *client.Client) {
	t.Helper()
	code, body, err := invoke(ctx, c, http.MethodGet, "/file?path=/var/openfaas/secrets/"+secretName, "")
	if err != nil || code != http.StatusOK || body != secretValue {
		t.Errorf("secret %s in the replica = %d %q, %v; want %q", secretName, code, body, err, secretValue)
	}
}

// queueCalls queues n invocations of /record that take ms each; with the
// function's max-inflight of 1 they wait in the queue one after another.
func queueCalls(ctx context.Context, t *testing.T, c *client.Client, n, ms int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		id, err := c.InvokeAsync(ctx, fnName, "", "/record?ms="+strconv.Itoa(ms), strings.NewReader(fmt.Sprintf("queued %d", i)), nil)
		if err != nil {
			t.Fatalf("queue call %d: %v", i, err)
		}
		ids = append(ids, id)
	}
	return ids
}

// waitRecorded waits until the function recorded every call in ids.
func waitRecorded(ctx context.Context, t *testing.T, c *client.Client, ids []string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var missing []string
	for time.Now().Before(deadline) {
		code, body, err := invoke(ctx, c, http.MethodGet, "/recorded", "")
		if err == nil && code == http.StatusOK {
			var calls []struct {
				CallID string `json:"callId"`
			}
			if err := json.Unmarshal([]byte(body), &calls); err == nil {
				seen := map[string]bool{}
				for _, c := range calls {
					seen[c.CallID] = true
				}
				missing = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return seen[id] })
				if len(missing) == 0 {
					return
				}
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Errorf("queued calls not run within %v: %v of %v", timeout, missing, ids)
}
