package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/api"
)

// TestMetrics invokes a function and finds the OpenFaaS gateway metrics
// for it on /metrics, which answers without credentials.
func TestMetrics(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	c := f.Client(t)
	deployReady(t, c, api.FunctionDeployment{Service: "counted", Image: imageRef("testfn:v1")})
	if code, body, err := call(t.Context(), c, "counted", http.MethodGet, "/", ""); err != nil || code != http.StatusOK {
		t.Fatalf("GET /function/counted = %d %q, %v", code, body, err)
	}
	want := []string{
		`gateway_function_invocation_total{code="200",function_name="counted.openfaas-fn"} 1`,
		`gateway_functions_seconds_count{code="200",function_name="counted.openfaas-fn"} 1`,
		`gateway_service_replicas{function_name="counted.openfaas-fn"} 1`,
	}
	// The relay records an invocation just after its answer has left.
	eventually(t, 5*time.Second, func() error {
		resp, err := http.Get(f.URL + "/metrics")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /metrics = %d %q, want 200", resp.StatusCode, body)
		}
		for _, w := range want {
			if !strings.Contains(string(body), w) {
				return fmt.Errorf("GET /metrics does not contain %q", w)
			}
		}
		return nil
	})
}
