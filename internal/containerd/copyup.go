package containerd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/containerd/containerd/mount"
	cfs "github.com/containerd/continuity/fs"
)

// CopyUp fills dst, an empty host directory about to be mounted at path in
// container id, with what the container's image holds at path, owners and
// modes kept, and gives dst the owner and mode of the image's directory:
// Docker does this for a new named volume, so an image that prepares a
// data directory for its own user (prom/prometheus's /prometheus, owned by
// nobody) works with a volume mounted over it. Nothing happens when the
// image has nothing at path.
func (c *Client) CopyUp(ctx context.Context, ns, id, path, dst string) (err error) {
	defer markUnavailable(&err)
	ctx = withNS(ctx, ns)
	mounts, err := c.c.SnapshotService(c.snapshotter).Mounts(ctx, snapshotKey(id))
	if err != nil {
		return fmt.Errorf("copy %s of %s: %w", path, id, err)
	}
	root, err := os.MkdirTemp("", "funcd-copyup-")
	if err != nil {
		return fmt.Errorf("copy %s of %s: %w", path, id, err)
	}
	defer os.Remove(root)
	for i := range mounts {
		mounts[i].Options = append(mounts[i].Options, "ro")
	}
	if err := mount.All(mounts, root); err != nil {
		return fmt.Errorf("copy %s of %s: mount its root: %w", path, id, err)
	}
	defer func() {
		if uerr := mount.UnmountAll(root, 0); uerr != nil && err == nil {
			err = fmt.Errorf("copy %s of %s: unmount its root: %w", path, id, uerr)
		}
	}()
	src, err := cfs.RootPath(root, path) // symlinks resolved inside the image
	if err != nil {
		return fmt.Errorf("copy %s of %s: %w", path, id, err)
	}
	fi, err := os.Stat(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("copy %s of %s: %w", path, id, err)
	}
	if !fi.IsDir() {
		return nil
	}
	if err := cfs.CopyDir(dst, src); err != nil {
		return fmt.Errorf("copy %s of %s to %s: %w", path, id, dst, err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if err := os.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("copy %s of %s: %w", path, id, err)
	}
	if err := os.Chmod(dst, fi.Mode().Perm()); err != nil {
		return fmt.Errorf("copy %s of %s: %w", path, id, err)
	}
	return nil
}
