package testenv

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/funcd/funcd/internal/imagebuild"
)

// TestPrometheusImage checks the image's shape against upstream's
// prom/prometheus and that it holds every library the binary needs. The
// e2e test TestPrometheusImageRuns runs it.
func TestPrometheusImage(t *testing.T) {
	if _, err := os.Stat(PrometheusBinary); err != nil {
		t.Skipf("no Debian prometheus (scripts/deps.sh test installs it): %v", err)
	}
	img, err := PrometheusImage(t.Context())
	if err != nil {
		t.Fatalf("PrometheusImage = %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if want := []string{"/bin/prometheus"}; !reflect.DeepEqual(c.Entrypoint, want) {
		t.Errorf("Entrypoint = %q, want %q", c.Entrypoint, want)
	}
	if want := []string{"--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"}; !reflect.DeepEqual(c.Cmd, want) {
		t.Errorf("Cmd = %q, want %q", c.Cmd, want)
	}
	if c.User != "65534:65534" || c.WorkingDir != "/prometheus" {
		t.Errorf("User, WorkingDir = %q, %q; want 65534:65534, /prometheus", c.User, c.WorkingDir)
	}
	if _, ok := c.ExposedPorts["9090/tcp"]; !ok {
		t.Errorf("ExposedPorts = %v, want 9090/tcp", c.ExposedPorts)
	}

	files := layer(t, img)
	libs, err := imagebuild.SharedLibraries(t.Context(), PrometheusBinary)
	if err != nil {
		t.Fatal(err)
	}
	if len(libs) == 0 {
		t.Errorf("SharedLibraries(%s) = none; Debian's binary is dynamically linked", PrometheusBinary)
	}
	want := []string{"bin/prometheus", "etc/prometheus/prometheus.yml", "etc/passwd", "etc/group", "prometheus/"}
	for l := range libs {
		want = append(want, strings.TrimPrefix(l, "/"))
	}
	for _, name := range want {
		if _, ok := files[name]; !ok {
			t.Errorf("image lacks %s", name)
		}
	}
	if d := files["prometheus/"]; d != nil && (d.Uid != 65534 || d.Gid != 65534) {
		t.Errorf("/prometheus is owned by %d:%d, want 65534:65534 (nobody writes its data there)", d.Uid, d.Gid)
	}
	if b := files["bin/prometheus"]; b != nil && b.Mode&0o111 == 0 {
		t.Errorf("/bin/prometheus has mode %o, want executable", b.Mode)
	}
}

// layer returns the headers of the image's single layer by name.
func layer(t *testing.T, img v1.Image) map[string]*tar.Header {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("Layers() = %d layers, %v; want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		got[hdr.Name] = hdr
	}
}
