package gateway

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/funcd/funcd/internal/metrics"
	"github.com/funcd/funcd/proxy"
)

// oneBackend resolves every function to the same host.
type oneBackend string

func (b oneBackend) Host() string { return string(b) }
func (b oneBackend) Release()     {}

func (b oneBackend) Pick(name, ns string) (proxy.Backend, error) { return b, nil }
func (b oneBackend) Resolve(ctx context.Context, name, ns string) (proxy.Backend, error) {
	return b, nil
}

// TestMetricsOpen checks that /metrics answers without credentials and
// counts an invocation that went through the gateway and the proxy.
func TestMetricsOpen(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	defer up.Close()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	p := proxy.New(oneBackend(strings.TrimPrefix(up.URL, "http://")), proxy.Config{Timeout: time.Second, Metrics: m}, slog.New(slog.DiscardHandler))
	defer p.Close()
	cfg := Config{Credentials: creds, Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}
	gw := New(&fakeFunctions{}, p, cfg, slog.New(slog.DiscardHandler))

	inv := httptest.NewRecorder()
	gw.ServeHTTP(inv, httptest.NewRequest("GET", "/function/figlet", nil))
	if inv.Code != http.StatusOK {
		t.Fatalf("GET /function/figlet = %d, want 200", inv.Code)
	}
	rec := httptest.NewRecorder()
	gw.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics without auth = %d, want 200", rec.Code)
	}
	want := `gateway_function_invocation_total{code="200",function_name="figlet.openfaas-fn"} 1`
	if !strings.Contains(rec.Body.String(), want) {
		t.Errorf("GET /metrics = %q, want it to contain %q", rec.Body, want)
	}
}

// TestMetricsNotServedWithoutHandler checks that /metrics is only routed
// when configured.
func TestMetricsNotServedWithoutHandler(t *testing.T) {
	e := newEnv(&fakeFunctions{})
	if rec := e.do("GET", "/metrics", "", authNone); rec.Code != http.StatusNotFound {
		t.Errorf("GET /metrics without a handler = %d, want 404", rec.Code)
	}
}
