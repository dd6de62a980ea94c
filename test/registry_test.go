package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/funcd/funcd/internal/imagebuild"
)

const registryConfig = `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %q
  delete:
    enabled: true
http:
  addr: %q
`

// startRegistry runs docker-registry on a free loopback port.
func (h *harness) startRegistry(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	h.registryHost = "127.0.0.1:" + strconv.Itoa(port)
	cfgPath := filepath.Join(h.dir, "registry.yml")
	cfg := fmt.Sprintf(registryConfig, filepath.Join(h.dir, "registry"), h.registryHost)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return fmt.Errorf("write registry config: %w", err)
	}
	d, err := startDaemon("docker-registry", filepath.Join(h.dir, "registry.log"), nil, "docker-registry", "serve", cfgPath)
	if err != nil {
		return err
	}
	h.registry = d
	return d.waitReady(ctx, 30*time.Second, func(ctx context.Context) error {
		return httpGetOK(ctx, "http://"+h.registryHost+"/v2/")
	})
}

// imageRef returns the reference of an image in the test registry, e.g.
// imageRef("testfn:v1") = "127.0.0.1:PORT/testfn:v1".
func imageRef(nameTag string) string {
	if h == nil || h.registryHost == "" {
		panic("imageRef called without the e2e environment; call requireE2E first")
	}
	return h.registryHost + "/" + nameTag
}

// testImages are the images TestMain pushes: name:tag → package directory
// (relative to the module root) and image config.
var testImages = []struct {
	ref, pkg string
	cfg      imagebuild.Config
}{
	{"testfn:v1", "test/testfn", imagebuild.Config{Entrypoint: "/testfn", Env: []string{"VERSION=v1"}}},
	{"testfn:v2", "test/testfn", imagebuild.Config{Entrypoint: "/testfn", Env: []string{"VERSION=v2"}}},
	{"hello:0.1", "examples/hello", imagebuild.Config{Entrypoint: "/hello"}},
}

// pushImages builds each package once and pushes testImages.
func (h *harness) pushImages(ctx context.Context) error {
	bins := map[string]string{}
	for _, ti := range testImages {
		bin, ok := bins[ti.pkg]
		if !ok {
			bin = filepath.Join(h.dir, "bin", filepath.Base(ti.pkg))
			if err := imagebuild.GoBuild(ctx, filepath.Join(h.modRoot, ti.pkg), bin); err != nil {
				return err
			}
			bins[ti.pkg] = bin
		}
		img, err := imagebuild.Build(bin, ti.cfg)
		if err != nil {
			return fmt.Errorf("image %s: %w", ti.ref, err)
		}
		if err := imagebuild.Push(ctx, img, imageRef(ti.ref)); err != nil {
			return err
		}
	}
	return nil
}
