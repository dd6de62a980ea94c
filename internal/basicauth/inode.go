package basicauth

import (
	"os"
	"syscall"
)

// inode is fi's inode number, 0 where the system does not say.
func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino) // uint32 on some systems
	}
	return 0
}
