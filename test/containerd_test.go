package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/images"
	"github.com/containerd/containerd/namespaces"
)

// containerdConfig is the private containerd's config.toml. Plugins funcd
// does not use are disabled: CRI (it would want its own CNI setup), the
// snapshotters that only log errors here, and the "opt" plugin, which would
// create /opt/containerd.
const containerdConfig = `version = 2
root = %[1]q
state = %[2]q
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.internal.v1.opt",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[debug]
  level = "info"
`

// socketPath returns the private containerd's socket.
func (h *harness) socketPath() string { return filepath.Join(h.dir, containerdSock) }

func (h *harness) startContainerd(ctx context.Context) error {
	sock := h.socketPath()
	// sun_path holds 108 bytes; the ttrpc socket adds ".ttrpc".
	if len(sock)+len(".ttrpc") >= 100 {
		return fmt.Errorf("containerd socket path %s is too long for a unix socket: use a shorter FUNCD_E2E_TMPDIR", sock)
	}
	cfgPath := filepath.Join(h.dir, "containerd.toml")
	cfg := fmt.Sprintf(containerdConfig, filepath.Join(h.dir, "root"), filepath.Join(h.dir, "state"), sock, sock+".ttrpc")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return fmt.Errorf("write containerd config: %w", err)
	}
	d, err := startDaemon("containerd", filepath.Join(h.dir, "containerd.log"), nil, "containerd", "--config", cfgPath)
	if err != nil {
		return err
	}
	h.containerd = d
	err = d.waitReady(ctx, 30*time.Second, func(ctx context.Context) error {
		if h.ctr == nil {
			c, err := containerd.New(sock, containerd.WithTimeout(time.Second))
			if err != nil {
				return err
			}
			h.ctr = c
		}
		_, err := h.ctr.Version(ctx)
		return err
	})
	if err != nil {
		return err
	}
	return nil
}

// containerdClient returns a client of the private containerd. Callers add
// the namespace: namespaces.WithNamespace(ctx, "openfaas-fn").
func containerdClient(t testing.TB) *containerd.Client {
	t.Helper()
	requireE2E(t)
	return h.ctr
}

// containerdAddress returns the private containerd's socket path.
func containerdAddress(t testing.TB) string {
	t.Helper()
	requireE2E(t)
	return h.socketPath()
}

// resetContainerd deletes every task, container and image in every
// namespace, so the next test starts from an empty containerd.
func resetContainerd(ctx context.Context, c *containerd.Client) error {
	nss, err := c.NamespaceService().List(ctx)
	if err != nil {
		return fmt.Errorf("list namespaces: %w", err)
	}
	var errs []error
	for _, ns := range nss {
		nctx := namespaces.WithNamespace(ctx, ns)
		ctrs, err := c.Containers(nctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("list containers in %s: %w", ns, err))
		}
		for _, ctr := range ctrs {
			if err := deleteContainer(nctx, ctr); err != nil {
				errs = append(errs, fmt.Errorf("%s/%s: %w", ns, ctr.ID(), err))
			}
		}
		imgs, err := c.ImageService().List(nctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("list images in %s: %w", ns, err))
		}
		for _, img := range imgs {
			if err := c.ImageService().Delete(nctx, img.Name, images.SynchronousDelete()); err != nil && !errdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete image %s/%s: %w", ns, img.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// deleteContainer kills and deletes the container's task, then the
// container and its snapshot.
func deleteContainer(ctx context.Context, ctr containerd.Container) error {
	task, err := ctr.Task(ctx, nil)
	switch {
	case err == nil:
		if _, err := task.Delete(ctx, containerd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("delete task: %w", err)
		}
	case !errdefs.IsNotFound(err):
		return fmt.Errorf("load task: %w", err)
	}
	if err := ctr.Delete(ctx, containerd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		// The snapshot may be gone already; delete the record anyway.
		if err2 := ctr.Delete(ctx); err2 != nil && !errdefs.IsNotFound(err2) {
			return fmt.Errorf("delete container: %w", errors.Join(err, err2))
		}
	}
	return nil
}

// containerdTaskDirs returns "namespace/id" of every task the private
// containerd in runDir has state for.
func containerdTaskDirs(runDir string) []string {
	matches, _ := filepath.Glob(filepath.Join(runDir, "state", "io.containerd.runtime.v2.task", "*", "*"))
	var ids []string
	for _, m := range matches {
		rel, _ := filepath.Rel(filepath.Join(runDir, "state", "io.containerd.runtime.v2.task"), m)
		ids = append(ids, strings.ReplaceAll(rel, string(filepath.Separator), "/"))
	}
	return ids
}
