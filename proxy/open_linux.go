package proxy

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// peeker asks, with one non-blocking peek, whether the peer has closed a
// connection: a replica that restarted or timed out an idle connection
// shows up here instead of failing the request written to it. It is made
// once per connection, so the check allocates nothing per request.
type peeker struct {
	rc    syscall.RawConn // nil when the connection has no descriptor
	alive bool
	buf   [1]byte
	fn    func(fd uintptr) bool
}

func newPeeker(nc any) *peeker {
	pk := &peeker{}
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			pk.rc = rc
		}
	}
	pk.fn = func(fd uintptr) bool {
		// recvfrom without an address: unix.Recvfrom would allocate one.
		_, _, errno := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&pk.buf[0])), 1,
			unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
		// EAGAIN: open and quiet. Data: the peer said something we
		// did not ask for. Zero bytes: closed.
		pk.alive = errno == unix.EAGAIN
		return true // never wait for readiness
	}
	return pk
}

// open reports whether the peer has not closed the connection.
func (pk *peeker) open() bool {
	if pk.rc == nil {
		return true
	}
	pk.alive = false
	err := pk.rc.Read(pk.fn)
	return err == nil && pk.alive
}
