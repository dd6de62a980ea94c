package queue

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// minInodes is how few free inodes count as a full disk: a file cannot be
// created without one, whatever the free bytes.
const minInodes = 64

// diskSpace returns the bytes an unprivileged writer may still use on the
// filesystem holding dir (what df calls "Avail"; 0 when it is out of
// inodes), and its size.
func diskSpace(dir string) (avail, total int64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	unit := int64(st.Frsize)
	if unit <= 0 {
		unit = int64(st.Bsize)
	}
	avail, total = int64(st.Bavail)*unit, int64(st.Blocks)*unit
	if st.Files > 0 && st.Ffree < minInodes { // some filesystems report no inode counts at all
		avail = 0
	}
	return avail, total, nil
}

// freeSpace is diskSpace's first answer: the queue's default
// Config.freeSpace.
func freeSpace(dir string) (int64, error) {
	avail, _, err := diskSpace(dir)
	return avail, err
}
