package testenv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// networksFile lists, in the run directory, "bridge subnet" per line for
// every network handed to a funcd, so that a later run can remove them if
// this one dies.
const networksFile = "networks"

// Network is the bridge and subnet of one funcd.
type Network struct {
	Bridge string
	Subnet netip.Prefix
}

// OverlapsHost reports whether subnet holds an address of this host or
// overlaps a host network of /16 or narrower. (A wider one, a 10.0.0.0/8
// LAN, is left to the routing table's longest match.)
func OverlapsHost(subnet netip.Prefix) (bool, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false, fmt.Errorf("list host addresses: %w", err)
	}
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a.String())
		if err == nil && (subnet.Contains(p.Addr()) || p.Bits() >= 16 && p.Overlaps(subnet)) {
			return true, nil
		}
	}
	return false, nil
}

// recordNetwork notes n in the run directory dir for CleanRunDir.
func recordNetwork(dir string, n Network) error {
	return appendFile(filepath.Join(dir, networksFile), n.Bridge+" "+n.Subnet.String()+"\n")
}

func readNetworks(path string) ([]Network, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var nets []Network
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		bridge, subnet, ok := strings.Cut(line, " ")
		p, err := netip.ParsePrefix(subnet)
		if !ok || err != nil {
			continue
		}
		nets = append(nets, Network{bridge, p})
	}
	return nets, nil
}

// RemoveNetworks deletes the bridges and every iptables rule that names
// them or an address in their subnets, with the CNI chains those rules
// jumped to.
func RemoveNetworks(ctx context.Context, nets []Network) error {
	var errs []error
	for _, n := range nets {
		if _, err := os.Stat(filepath.Join("/sys/class/net", n.Bridge)); err == nil {
			if _, err := Run(ctx, "ip", "link", "del", "dev", n.Bridge); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(nets) > 0 {
		errs = append(errs, removeIptablesRules(ctx, nets))
	}
	return errors.Join(errs...)
}

// RecordNetwork notes a network that the caller creates itself (not through
// a funcd), so that Close, or a later run after a crash, removes its bridge
// and iptables rules like a funcd's.
func (e *Env) RecordNetwork(n Network) error { return recordNetwork(e.Dir, n) }
