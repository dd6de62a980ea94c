package cni

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// NewNetNS creates a network namespace pinned by a bind mount at path, so it
// outlives any process in it: a replica's address and interface stay put
// while its task is restarted, and CNI DEL can always enter the namespace to
// clean up after it. An existing namespace at path is kept.
func NewNetNS(path string) error {
	if IsNetNS(path) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create netns %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o600)
	if err != nil {
		return fmt.Errorf("create netns %s: %w", path, err)
	}
	f.Close()

	errc := make(chan error, 1)
	go func() {
		// The thread that unshares is never returned to the scheduler:
		// exiting the goroutine while locked makes the runtime end it.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		src := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		if err := unix.Mount(src, path, "none", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("bind mount: %w", err)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		os.Remove(path)
		return fmt.Errorf("create netns %s: %w", path, err)
	}
	return nil
}

// IsNetNS reports whether path is a pinned network namespace (after a
// reboot the file may remain while the mount is gone).
func IsNetNS(path string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false
	}
	return st.Type == unix.NSFS_MAGIC
}

// RemoveNetNS unpins and removes the namespace at path. A missing one is
// not an error.
func RemoveNetNS(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove netns %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove netns %s: %w", path, err)
	}
	return nil
}

// NewNetNS is the package function, as a method so the provider can take a
// Network as one interface.
func (n *Network) NewNetNS(path string) error { return NewNetNS(path) }

// RemoveNetNS is the package function, as a method.
func (n *Network) RemoveNetNS(path string) error { return RemoveNetNS(path) }

// IsNetNS is the package function, as a method.
func (n *Network) IsNetNS(path string) bool { return IsNetNS(path) }
