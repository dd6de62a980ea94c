package testenv

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/funcd/funcd/internal/imagebuild"
)

// PrometheusBinary is Debian's prometheus; `scripts/deps.sh test` installs
// it.
const PrometheusBinary = "/usr/bin/prometheus"

// PrometheusImageRef is the name:tag PushPrometheus uses in the test
// registry unless told otherwise.
const PrometheusImageRef = "prometheus:debian"

// PrometheusImageConfig is the default prometheus.yml of the image: it
// scrapes itself, as upstream's does. A compose file mounts its own over
// /etc/prometheus/prometheus.yml.
const PrometheusImageConfig = `global:
  scrape_interval: 15s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["localhost:9090"]
`

// PrometheusImage builds an image of Debian's prometheus shaped like
// upstream's prom/prometheus, so a compose file written for that image runs
// it unchanged: entrypoint /bin/prometheus, arguments (Cmd)
// --config.file=/etc/prometheus/prometheus.yml
// --storage.tsdb.path=/prometheus, user nobody (65534:65534, named in
// /etc/passwd and /etc/group), working and data directory /prometheus owned
// by nobody, port 9090. The binary is dynamically linked, so the image also
// holds its ELF interpreter and shared libraries, at the paths ldd reports.
// The web UI's assets (Debian keeps them in /usr/share/prometheus) are left
// out: the HTTP API and scraping work without them.
func PrometheusImage(ctx context.Context) (v1.Image, error) {
	libs, err := imagebuild.SharedLibraries(ctx, PrometheusBinary)
	if err != nil {
		return nil, fmt.Errorf("prometheus image: %w", err)
	}
	img, err := imagebuild.Build(PrometheusBinary, imagebuild.Config{
		Entrypoint:  "/bin/prometheus",
		Cmd:         []string{"--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"},
		User:        "65534:65534",
		WorkingDir:  "/prometheus",
		ExposedPort: 9090,
		Files: map[string][]byte{
			"/etc/prometheus/prometheus.yml": []byte(PrometheusImageConfig),
			"/etc/passwd":                    []byte("root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"),
			"/etc/group":                     []byte("root:x:0:\nnogroup:x:65534:\n"),
		},
		HostFiles:    libs,
		WritableDirs: []string{"/prometheus"},
	})
	if err != nil {
		return nil, fmt.Errorf("prometheus image: %w", err)
	}
	return img, nil
}

// PushPrometheus builds PrometheusImage and pushes it as nameTag (e.g.
// PrometheusImageRef); it returns the image's reference in r.
func (r *Registry) PushPrometheus(ctx context.Context, nameTag string) (string, error) {
	img, err := PrometheusImage(ctx)
	if err != nil {
		return "", err
	}
	ref := r.Ref(nameTag)
	if err := imagebuild.Push(ctx, img, ref); err != nil {
		return "", err
	}
	return ref, nil
}
