package cni

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestDelNeighMsg(t *testing.T) {
	msgs, err := syscall.ParseNetlinkMessage(delNeighMsg(7, netip.MustParseAddr("10.9.0.6")))
	if err != nil || len(msgs) != 1 {
		t.Fatalf("ParseNetlinkMessage = %v, %v; want one message", msgs, err)
	}
	m := msgs[0]
	if m.Header.Type != unix.RTM_DELNEIGH || m.Header.Flags != unix.NLM_F_REQUEST|unix.NLM_F_ACK {
		t.Errorf("header = %+v, want RTM_DELNEIGH asking for an ack", m.Header)
	}
	ne := binary.NativeEndian
	if m.Data[0] != unix.AF_INET || ne.Uint32(m.Data[4:]) != 7 {
		t.Errorf("ndmsg = %v, want AF_INET on interface 7", m.Data[:unix.SizeofNdMsg])
	}
	attr := m.Data[unix.SizeofNdMsg:]
	if len(attr) != 8 || ne.Uint16(attr) != 8 || ne.Uint16(attr[2:]) != unix.NDA_DST || netip.AddrFrom4([4]byte(attr[4:])) != netip.MustParseAddr("10.9.0.6") {
		t.Errorf("attribute = %v, want NDA_DST 10.9.0.6", attr)
	}
}

func TestAckError(t *testing.T) {
	ack := func(errno int32) []byte {
		b := make([]byte, unix.SizeofNlMsghdr+4)
		binary.NativeEndian.PutUint16(b[4:], unix.NLMSG_ERROR)
		binary.NativeEndian.PutUint32(b[unix.SizeofNlMsghdr:], uint32(-errno))
		return b
	}
	if err := ackError(ack(0)); err != nil {
		t.Errorf("ackError(0) = %v, want nil", err)
	}
	if err := ackError(ack(int32(unix.ENOENT))); !errors.Is(err, unix.ENOENT) {
		t.Errorf("ackError(ENOENT) = %v, want ENOENT", err)
	}
	if err := ackError([]byte{1, 2}); err == nil {
		t.Errorf("ackError(short) = nil, want an error")
	}
}

func TestGarp(t *testing.T) {
	mac := net.HardwareAddr{2, 0xfd, 1, 2, 3, 4}
	p := garp(mac, netip.MustParseAddr("10.9.0.241"))
	want := []byte{0, 1, 8, 0, 6, 4, 0, 1, 2, 0xfd, 1, 2, 3, 4, 10, 9, 0, 241, 0, 0, 0, 0, 0, 0, 10, 9, 0, 241}
	if !bytes.Equal(p, want) {
		t.Errorf("garp = % x, want % x", p, want)
	}
}
