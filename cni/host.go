package cni

import (
	"fmt"
	"net/netip"
)

// CheckHost returns an error naming the interface when one other than
// bridge already has an address inside subnet: the subnet is in use on this
// host (the LAN, a VPN, another network's bridge), and replicas' routes and
// masquerading would fight over it. An address of a wider network that
// merely contains subnet (a 10.0.0.0/8 LAN) is allowed: the more specific
// route of the bridge wins.
func CheckHost(bridge string, subnet netip.Prefix) error {
	host, err := hostAddresses()
	if err != nil {
		return fmt.Errorf("check subnet %s against the host: %w", subnet, err)
	}
	return hostConflict(bridge, subnet, host)
}

// hostAddrs is one host interface and its addresses.
type hostAddrs struct {
	name  string
	addrs []netip.Prefix
}

func hostConflict(bridge string, subnet netip.Prefix, host []hostAddrs) error {
	for _, h := range host {
		if h.name == bridge {
			continue
		}
		for _, a := range h.addrs {
			if subnet.Contains(a.Addr()) {
				return fmt.Errorf("subnet %s is already used on this host: interface %s has address %s; give funcd another --subnet", subnet, h.name, a)
			}
		}
	}
	return nil
}
