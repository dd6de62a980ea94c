package funcd

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/funcd/funcd/internal/compose"
)

// TestShippedCompose loads the shipped docker-compose.yaml with funcd's own
// loader, as funcd up will from the state directory: no warnings, and
// Prometheus as documented (loopback only, read-only config, named data
// volume, restarted, capped).
func TestShippedCompose(t *testing.T) {
	dir := t.TempDir()
	for _, f := range Shipped {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := compose.Load(context.Background(), filepath.Join(dir, "docker-compose.yaml"), nil)
	if err != nil {
		t.Fatalf("Load(shipped docker-compose.yaml): %v", err)
	}
	if len(p.Warnings) != 0 {
		t.Errorf("Warnings = %+v, want none", p.Warnings)
	}
	want := []compose.Service{{
		Name:  "prometheus",
		Image: "docker.io/prom/prometheus:v3.5.0",
		User:  "65534:65534",
		Mounts: []compose.Mount{
			{Source: filepath.Join(dir, "prometheus.yml"), Target: "/etc/prometheus/prometheus.yml", ReadOnly: true},
			{Volume: "prometheus-data", Target: "/prometheus"},
		},
		Ports:       []compose.Port{{HostIP: "127.0.0.1", HostPort: 9090, ContainerPort: 9090, Protocol: "tcp"}},
		Restart:     compose.Restart{Policy: "always"},
		MemoryBytes: 512 << 20,
	}}
	if !reflect.DeepEqual(p.Services, want) {
		t.Errorf("Services =\n%+v\nwant\n%+v", p.Services, want)
	}
}

// TestShippedFilesEmbedded checks the embedded copies are the repository's
// files, and that the Prometheus configuration scrapes funcd.
func TestShippedFilesEmbedded(t *testing.T) {
	for _, f := range Shipped {
		disk, err := os.ReadFile(f.Name)
		if err != nil || !bytes.Equal(disk, f.Data) {
			t.Errorf("embedded %s differs from the repository's (%v)", f.Name, err)
		}
	}
	for _, want := range []string{"scrape_interval: 15s", `targets: ["gateway:8080"]`, "regex: gateway_service_replicas\n        target_label: __name__\n        replacement: gateway_service_count"} {
		if !bytes.Contains(PrometheusConfig, []byte(want)) {
			t.Errorf("prometheus.yml lacks %s", want)
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian's prometheus package)")
	}
	if out, err := exec.Command(promtool, "check", "config", "prometheus.yml").CombinedOutput(); err != nil {
		t.Errorf("promtool check config prometheus.yml: %v\n%s", err, out)
	}
}
