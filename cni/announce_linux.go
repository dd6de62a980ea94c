package cni

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// announce sends a gratuitous ARP for addr from interface ifName inside
// the network namespace at netnsPath. A recreated service keeps its
// address but not its MAC; the replicas and services that talked to the
// old one have its MAC cached and would send into the void until the
// entry goes stale. Linux updates an existing entry on such an ARP.
func announce(netnsPath, ifName string, addr netip.Addr) error {
	errc := make(chan error, 1)
	go func() {
		// The thread enters another namespace and is never handed back:
		// exiting the goroutine while locked makes the runtime end it.
		runtime.LockOSThread()
		errc <- announceHere(netnsPath, ifName, addr)
	}()
	if err := <-errc; err != nil {
		return fmt.Errorf("announce %s: %w", addr, err)
	}
	return nil
}

func announceHere(netnsPath, ifName string, addr netip.Addr) error {
	ns, err := os.Open(netnsPath)
	if err != nil {
		return err
	}
	defer ns.Close()
	if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter netns: %w", err)
	}
	ifc, err := net.InterfaceByName(ifName)
	if err != nil {
		return err
	}
	proto := htons(unix.ETH_P_ARP)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(proto))
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	to := &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifc.Index, Halen: 6}
	copy(to.Addr[:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	return unix.Sendto(fd, garp(ifc.HardwareAddr, addr), 0, to)
}

// garp is a gratuitous ARP request: "who has addr? tell addr at mac".
func garp(mac net.HardwareAddr, addr netip.Addr) []byte {
	p := make([]byte, 28)
	binary.BigEndian.PutUint16(p[0:], 1)      // Ethernet
	binary.BigEndian.PutUint16(p[2:], 0x0800) // IPv4
	p[4], p[5] = 6, 4
	binary.BigEndian.PutUint16(p[6:], 1) // request
	copy(p[8:14], mac)
	a := addr.As4()
	copy(p[14:18], a[:])
	copy(p[24:28], a[:])
	return p
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
