package gateway

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/funcd/funcd/provider"
)

// TestContainerdUnavailable: every /system operation that needs containerd
// answers 503 with a Retry-After and a message naming containerd when it
// cannot be reached, also when that made a replica fail to start; the
// internal error goes to the log only.
func TestContainerdUnavailable(t *testing.T) {
	const leak = "dial unix /run/containerd/containerd.sock: internal-detail-42"
	unavailable := fmt.Errorf("deploy f.openfaas-fn: ping containerd: %w: %s", provider.ErrUnavailable, leak)
	didNotStart := fmt.Errorf("deploy f.openfaas-fn: %w: new task f-1: %w: %s", provider.ErrStart, provider.ErrUnavailable, leak)
	tests := []struct {
		name           string
		method, target string
		body           string
		err            error
	}{
		{"deploy", "POST", "/system/functions", `{"service":"f","image":"i"}`, unavailable},
		{"deploy, start failed", "POST", "/system/functions", `{"service":"f","image":"i"}`, didNotStart},
		{"update", "PUT", "/system/functions", `{"service":"f","image":"i"}`, unavailable},
		{"update, start failed", "PUT", "/system/functions", `{"service":"f","image":"i"}`, didNotStart},
		{"delete", "DELETE", "/system/functions", `{"functionName":"f"}`, unavailable},
		{"scale", "POST", "/system/scale-function/f", `{"replicas":2}`, unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(&fakeFunctions{err: tt.err})
			rec := e.do(tt.method, tt.target, tt.body, authRight)
			body := rec.Body.String()
			if rec.Code != http.StatusServiceUnavailable || !strings.Contains(body, "containerd is unavailable") {
				t.Errorf("%s %s = %d %q, want 503 saying containerd is unavailable", tt.method, tt.target, rec.Code, body)
			}
			if got := rec.Header().Get("Retry-After"); got != unavailableRetryAfter {
				t.Errorf("%s %s Retry-After = %q, want %q", tt.method, tt.target, got, unavailableRetryAfter)
			}
			if strings.Contains(body, "internal-detail-42") || strings.Contains(body, "containerd.sock") {
				t.Errorf("%s %s body = %q leaks the internal error", tt.method, tt.target, body)
			}
			if !strings.Contains(e.log.String(), "internal-detail-42") {
				t.Errorf("%s %s: log %q lacks the internal error", tt.method, tt.target, e.log)
			}
		})
	}
}
