package cni

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// forgetNeighbour deletes the host's neighbour (ARP) entry for addr on
// bridge. host-local hands a released address out again, soon in a small
// subnet; without this the host would keep sending to the MAC of the
// replica that had it before, until the entry expires (up to 45 s on
// Linux's defaults), and the new replica would not be reachable. The
// bridge plugin sends no gratuitous ARP that would correct it. No entry is
// not an error.
func forgetNeighbour(bridge string, addr netip.Addr) error {
	ifc, err := net.InterfaceByName(bridge)
	if err != nil {
		return fmt.Errorf("forget neighbour %s: %w", addr, err)
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("forget neighbour %s: %w", addr, err)
	}
	defer unix.Close(fd)
	if err := unix.Sendto(fd, delNeighMsg(ifc.Index, addr), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("forget neighbour %s: %w", addr, err)
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return fmt.Errorf("forget neighbour %s: %w", addr, err)
	}
	if err := ackError(buf[:n]); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("forget neighbour %s: %w", addr, err)
	}
	return nil
}

// ackError reads the error a netlink acknowledgement carries: a header,
// then the (negated) errno, 0 for success.
func ackError(b []byte) error {
	ne := binary.NativeEndian
	if len(b) < unix.SizeofNlMsghdr+4 || ne.Uint16(b[4:]) != unix.NLMSG_ERROR {
		return errors.New("unexpected netlink answer")
	}
	if errno := -int32(ne.Uint32(b[unix.SizeofNlMsghdr:])); errno != 0 {
		return unix.Errno(errno)
	}
	return nil
}

// delNeighMsg is the netlink request RTM_DELNEIGH for addr on interface
// ifindex, asking for an acknowledgement.
func delNeighMsg(ifindex int, addr netip.Addr) []byte {
	const size = unix.SizeofNlMsghdr + unix.SizeofNdMsg + unix.SizeofRtAttr + 4
	b := make([]byte, size)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], size)
	ne.PutUint16(b[4:], unix.RTM_DELNEIGH)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	ne.PutUint32(b[8:], 1) // sequence
	nd := b[unix.SizeofNlMsghdr:]
	nd[0] = unix.AF_INET
	ne.PutUint32(nd[4:], uint32(ifindex))
	attr := nd[unix.SizeofNdMsg:]
	ne.PutUint16(attr[0:], unix.SizeofRtAttr+4)
	ne.PutUint16(attr[2:], unix.NDA_DST)
	ip := addr.As4()
	copy(attr[unix.SizeofRtAttr:], ip[:])
	return b
}
