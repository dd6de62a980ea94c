package testenv

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

// Registry is docker-registry serving plain HTTP on 127.0.0.1.
type Registry struct {
	Host string // 127.0.0.1:PORT
	Proc *Process
}

// StartRegistry runs docker-registry on a free loopback port with its
// config, storage and log (registry*) in dir, and waits until it answers.
func StartRegistry(ctx context.Context, dir string) (*Registry, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	r := &Registry{Host: "127.0.0.1:" + strconv.Itoa(port)}
	cfgPath := filepath.Join(dir, "registry.yml")
	cfg := fmt.Sprintf(registryConfig, filepath.Join(dir, "registry"), r.Host)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, fmt.Errorf("write registry config: %w", err)
	}
	if r.Proc, err = StartProcess("docker-registry", filepath.Join(dir, "registry.log"), nil, "docker-registry", "serve", cfgPath); err != nil {
		return nil, err
	}
	err = r.Proc.WaitReady(ctx, 30*time.Second, func(ctx context.Context) error {
		return HTTPGetOK(ctx, "http://"+r.Host+"/v2/")
	})
	return r, err // on error the caller stops what was started
}

// Stop stops the registry (SIGTERM, SIGKILL after 10s).
func (r *Registry) Stop() error { return r.Proc.Stop(10 * time.Second) }

// Ref returns the reference of an image in this registry:
// Ref("testfn:v1") = "127.0.0.1:PORT/testfn:v1".
func (r *Registry) Ref(nameTag string) string { return r.Host + "/" + nameTag }

// Image is a function image built from a Go main package of this module.
type Image struct {
	Ref    string // name:tag in the registry, e.g. "testfn:v1"
	Pkg    string // package directory relative to the module root, e.g. "test/testfn"
	Config imagebuild.Config
}

// Push builds each package of imgs once into binDir (named after the
// package directory) and pushes the images.
func (r *Registry) Push(ctx context.Context, modRoot, binDir string, imgs ...Image) error {
	bins := map[string]string{}
	for _, im := range imgs {
		bin, ok := bins[im.Pkg]
		if !ok {
			bin = filepath.Join(binDir, filepath.Base(im.Pkg))
			if err := imagebuild.GoBuild(ctx, filepath.Join(modRoot, im.Pkg), bin); err != nil {
				return err
			}
			bins[im.Pkg] = bin
		}
		img, err := imagebuild.Build(bin, im.Config)
		if err != nil {
			return fmt.Errorf("image %s: %w", im.Ref, err)
		}
		if err := imagebuild.Push(ctx, img, r.Ref(im.Ref)); err != nil {
			return err
		}
	}
	return nil
}
