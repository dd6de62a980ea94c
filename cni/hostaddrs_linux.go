package cni

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// hostAddresses lists every interface with its addresses, from one netlink
// dump of the links and one of the addresses. (Interface.Addrs dumps every
// address of the host for each interface it is asked about: with a
// thousand replicas' veths on the bridge that was a million addresses
// parsed at each start.)
func hostAddresses() ([]hostAddrs, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	rib, err := syscall.NetlinkRIB(syscall.RTM_GETADDR, syscall.AF_UNSPEC)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(rib)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	byIndex := map[int][]netip.Prefix{}
	for _, m := range msgs {
		if m.Header.Type != syscall.RTM_NEWADDR {
			continue
		}
		p, index, ok := parseAddrMsg(m)
		if ok {
			byIndex[index] = append(byIndex[index], p)
		}
	}
	host := make([]hostAddrs, 0, len(ifaces))
	for _, ifc := range ifaces {
		host = append(host, hostAddrs{name: ifc.Name, addrs: byIndex[ifc.Index]})
	}
	return host, nil
}

// parseAddrMsg reads one RTM_NEWADDR message: the address with its prefix
// length and the index of its interface.
func parseAddrMsg(m syscall.NetlinkMessage) (p netip.Prefix, index int, ok bool) {
	if len(m.Data) < syscall.SizeofIfAddrmsg {
		return p, 0, false
	}
	prefixLen := int(m.Data[1])                          // struct ifaddrmsg: family, prefixlen, flags, scope,
	index = int(binary.NativeEndian.Uint32(m.Data[4:8])) // then the interface's index
	attrs, err := syscall.ParseNetlinkRouteAttr(&m)
	if err != nil {
		return p, 0, false
	}
	// IFA_LOCAL is the interface's own address on a point-to-point link,
	// where IFA_ADDRESS is the peer's; elsewhere they are the same.
	var addr, local []byte
	for _, a := range attrs {
		switch a.Attr.Type {
		case syscall.IFA_ADDRESS:
			addr = a.Value
		case syscall.IFA_LOCAL:
			local = a.Value
		}
	}
	if local != nil {
		addr = local
	}
	ip, ok := netip.AddrFromSlice(addr)
	if !ok {
		return p, 0, false
	}
	p = netip.PrefixFrom(ip.Unmap(), prefixLen)
	return p, index, p.IsValid()
}
