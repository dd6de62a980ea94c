package proxy

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// open reports whether the peer has not closed nc, with one non-blocking
// peek: a replica that restarted or timed out an idle connection shows up
// here instead of failing the request written to it.
func open(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, err := unix.Recvfrom(int(fd), buf[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		// EAGAIN: open and quiet. Data: the peer said something we
		// did not ask for. Zero bytes: closed.
		alive = err == unix.EAGAIN
		return true // never wait for readiness
	})
	return err == nil && alive
}
