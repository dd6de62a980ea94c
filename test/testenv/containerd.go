package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/images"
	"github.com/containerd/containerd/namespaces"
)

// containerdSock is the private containerd's socket, in the run directory.
const containerdSock = "containerd.sock"

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

// Containerd is a private containerd daemon and a client of it.
type Containerd struct {
	Socket string             // the gRPC socket, what --containerd-address gets
	Client *containerd.Client // callers add the namespace; nil while stopped
	Proc   *Process

	dir string // holds the config, root, state and log
}

// StartContainerd runs containerd with its config, root, state, socket and
// log (containerd.*) in dir and waits until it answers.
func StartContainerd(ctx context.Context, dir string) (*Containerd, error) {
	sock := filepath.Join(dir, containerdSock)
	// sun_path holds 108 bytes; the ttrpc socket adds ".ttrpc".
	if len(sock)+len(".ttrpc") >= 100 {
		return nil, fmt.Errorf("containerd socket path %s is too long for a unix socket: use a shorter base directory", sock)
	}
	cfgPath := filepath.Join(dir, "containerd.toml")
	cfg := fmt.Sprintf(containerdConfig, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, sock+".ttrpc")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, fmt.Errorf("write containerd config: %w", err)
	}
	c := &Containerd{Socket: sock, dir: dir}
	return c, c.Start(ctx) // on failure the caller stops what was started
}

// Start runs the daemon with the config, root, state and socket that
// StartContainerd wrote, and waits until it answers. After Stop, this is a
// containerd restart: tasks whose shims kept running are there again.
func (c *Containerd) Start(ctx context.Context) error {
	if c.Proc != nil && !c.Proc.Exited() {
		return errors.New("start containerd: it is running")
	}
	p, err := StartProcess("containerd", filepath.Join(c.dir, "containerd.log"), nil,
		"containerd", "--config", filepath.Join(c.dir, "containerd.toml"))
	if err != nil {
		return err
	}
	c.Proc = p
	return p.WaitReady(ctx, 30*time.Second, func(ctx context.Context) error {
		if c.Client == nil {
			cl, err := containerd.New(c.Socket, containerd.WithTimeout(time.Second))
			if err != nil {
				return err
			}
			c.Client = cl
		}
		_, err := c.Client.Version(ctx)
		return err
	})
}

// Stop closes the client and stops the daemon (SIGTERM, SIGKILL after 10s).
// Only the daemon gets the signals: shims are in process groups of their
// own and keep their tasks running, as they do when containerd restarts
// for real. Start runs it again.
func (c *Containerd) Stop() error {
	if c.Client != nil {
		c.Client.Close()
		c.Client = nil
	}
	if c.Proc == nil {
		return nil
	}
	return c.Proc.Stop(10 * time.Second)
}

// Running reports whether the daemon is started and has not exited.
func (c *Containerd) Running() bool { return c.Proc != nil && !c.Proc.Exited() }

// Reset deletes every task, container and image in every namespace, so
// the next user starts from an empty containerd.
func (c *Containerd) Reset(ctx context.Context) error {
	if c.Client == nil {
		return nil
	}
	nss, err := c.Client.NamespaceService().List(ctx)
	if err != nil {
		return fmt.Errorf("list namespaces: %w", err)
	}
	var errs []error
	for _, ns := range nss {
		nctx := namespaces.WithNamespace(ctx, ns)
		ctrs, err := c.Client.Containers(nctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("list containers in %s: %w", ns, err))
		}
		for _, ctr := range ctrs {
			if err := DeleteContainer(nctx, ctr); err != nil {
				errs = append(errs, fmt.Errorf("%s/%s: %w", ns, ctr.ID(), err))
			}
		}
		imgs, err := c.Client.ImageService().List(nctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("list images in %s: %w", ns, err))
		}
		for _, img := range imgs {
			if err := c.Client.ImageService().Delete(nctx, img.Name, images.SynchronousDelete()); err != nil && !errdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete image %s/%s: %w", ns, img.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// DeleteContainer kills and deletes the container's task, then the
// container and its snapshot.
func DeleteContainer(ctx context.Context, ctr containerd.Container) error {
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
	base := filepath.Join(runDir, "state", "io.containerd.runtime.v2.task")
	matches, _ := filepath.Glob(filepath.Join(base, "*", "*"))
	var ids []string
	for _, m := range matches {
		rel, _ := filepath.Rel(base, m)
		ids = append(ids, strings.ReplaceAll(rel, string(filepath.Separator), "/"))
	}
	return ids
}
