package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/snapshots"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/client"
)

const fnNamespace = api.DefaultNamespace

// echoReply is what testfn answers on every unknown path.
type echoReply struct {
	Method   string              `json:"method"`
	Path     string              `json:"path"`
	Query    map[string][]string `json:"query"`
	Headers  map[string][]string `json:"headers"`
	Body     string              `json:"body"`
	Version  string              `json:"version"`
	Hostname string              `json:"hostname"`
}

// call invokes name at path with body and returns status and body.
func call(ctx context.Context, c *client.Client, name, method, path, body string) (int, string, error) {
	resp, err := c.Invoke(ctx, name, "", method, path, strings.NewReader(body), nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// echo invokes testfn's echo path and decodes the reply.
func echo(t *testing.T, c *client.Client, name, path string) echoReply {
	t.Helper()
	code, body, err := call(t.Context(), c, name, http.MethodGet, path, "")
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /function/%s%s = %d %q, %v", name, path, code, body, err)
	}
	var r echoReply
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("decode echo reply %q: %v", body, err)
	}
	return r
}

func deployReady(t *testing.T, c *client.Client, d api.FunctionDeployment) {
	t.Helper()
	if err := c.Deploy(t.Context(), d); err != nil {
		t.Fatalf("Deploy(%s) = %v", d.Service, err)
	}
	st, err := c.GetFunction(t.Context(), d.Service, d.Namespace)
	if err != nil || st.AvailableReplicas < 1 {
		t.Fatalf("after deploy GetFunction(%s) = %+v, %v; want a ready replica", d.Service, st, err)
	}
}

// tasks returns container ID → task PID (0 when no task) for function name.
func tasks(t *testing.T, name string) map[string]uint32 {
	t.Helper()
	ctx := namespaces.WithNamespace(t.Context(), fnNamespace)
	ctrs, err := containerdClient(t).Containers(ctx, fmt.Sprintf("labels.%q==%q", "io.funcd.function", name))
	if err != nil {
		t.Fatalf("list containers: %v", err)
	}
	out := map[string]uint32{}
	for _, c := range ctrs {
		out[c.ID()] = 0
		if task, err := c.Task(ctx, nil); err == nil {
			out[c.ID()] = task.Pid()
		}
	}
	return out
}

// leftovers lists what funcd holds for functions: containers, active
// snapshots, addresses in the IPAM store, pinned network namespaces and
// iptables rules naming the subnet. Images and their committed layers are
// not leftovers, nor is the subnet's one masquerade rule: like the bridge,
// it is the host's network, there from funcd's start until `funcd purge`
// (TestPurge, TestMasquerade).
func leftovers(t *testing.T, f *Funcd) []string {
	t.Helper()
	ctx := namespaces.WithNamespace(context.Background(), fnNamespace)
	ctr := containerdClient(t)
	var out []string
	ctrs, err := ctr.Containers(ctx)
	if err != nil {
		t.Fatalf("list containers: %v", err)
	}
	for _, c := range ctrs {
		out = append(out, "container "+c.ID())
	}
	err = ctr.SnapshotService("overlayfs").Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		if info.Kind != snapshots.KindCommitted {
			out = append(out, "snapshot "+info.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk snapshots: %v", err)
	}
	ipam, _ := os.ReadDir(filepath.Join(f.StateDir, "cni", "ipam", "funcd"))
	for _, e := range ipam {
		if e.Name() != "lock" && !strings.HasPrefix(e.Name(), "last_reserved_ip") {
			out = append(out, "address "+e.Name())
		}
	}
	netns, _ := os.ReadDir(filepath.Join(f.StateDir, "netns"))
	for _, e := range netns {
		out = append(out, "netns "+e.Name())
	}
	for _, table := range []string{"nat", "filter"} {
		_, rules, err := iptablesSave(ctx, table)
		if err != nil {
			t.Fatalf("iptables-save: %v", err)
		}
		for _, r := range rules {
			if r.matches([]network{{bridge: f.Bridge, subnet: f.Subnet}}) && !isMasquerade(r, f.Bridge) {
				out = append(out, "iptables -A "+r.chain+" "+strings.Join(r.args, " "))
			}
		}
	}
	slices.Sort(out)
	return out
}

// isMasquerade reports whether r is the subnet's masquerade rule, which
// cni adds with the comment "funcd BRIDGE masquerade".
func isMasquerade(r iptRule, bridge string) bool {
	return r.chain == "POSTROUTING" && strings.Contains(strings.Join(r.args, " "), "--comment funcd "+bridge+" masquerade -j MASQUERADE")
}

func assertNoLeftovers(t *testing.T, f *Funcd) {
	t.Helper()
	var left []string
	// Deletion is synchronous, but give the shim a moment to go.
	eventually(t, 5*time.Second, func() error {
		if left = leftovers(t, f); len(left) > 0 {
			return fmt.Errorf("left behind: %v", left)
		}
		return nil
	})
}
