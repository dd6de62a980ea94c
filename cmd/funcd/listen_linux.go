package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// functionPort is where functions reach funcd on the bridge, as
// http://gateway:8080 (the name the hosts file gives the bridge address).
const functionPort = 8080

// bridgeListener listens on the bridge's address at :8080 so functions can
// call each other through funcd, unless listen already covers that
// address. The bridge may not exist yet (CNI creates it with the first
// replica), so the socket is bound with IP_FREEBIND.
func bridgeListener(ctx context.Context, listen string, gateway netip.Addr) (net.Listener, error) {
	if covers(listen, gateway) {
		return nil, nil
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_FREEBIND, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	addr := bridgeAddr(gateway)
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on the bridge at %s: %w", addr, err)
	}
	return ln, nil
}

// bridgeAddr is where functions reach funcd: gateway:8080.
func bridgeAddr(gateway netip.Addr) string {
	return netip.AddrPortFrom(gateway, functionPort).String()
}

// covers reports whether a listener on listen accepts connections to
// gateway:8080.
func covers(listen string, gateway netip.Addr) bool {
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port != fmt.Sprint(functionPort) {
		return false
	}
	if host == "" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && (a.IsUnspecified() || a == gateway)
}
