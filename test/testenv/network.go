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
	"slices"
	"strings"
	"syscall"

	"github.com/funcd/funcd/internal/instance"
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

// recordNetwork notes n in the run directory dir for CleanRunDir, once.
func recordNetwork(dir string, n Network) error {
	path := filepath.Join(dir, networksFile)
	nets, err := readNetworks(path)
	if err != nil {
		return err
	}
	if slices.Contains(nets, n) {
		return nil
	}
	return appendFile(path, n.Bridge+" "+n.Subnet.String()+"\n")
}

// AllocNetwork gives bridge a 10.199.X.0/24 subnet that no other test
// process, funcd or host interface uses, trying X from start on, and
// records it in the run directory. Test processes running at once do not
// collide: under a lock shared by every run directory's base, a subnet is
// taken only when no run directory records it (every harness records its
// networks, this one before it lets go of the lock), no live funcd claims
// it (instance.HostDir) and no host address lies in it.
func (e *Env) AllocNetwork(bridge string, start int) (Network, error) {
	unlock, err := e.lockNetworks()
	if err != nil {
		return Network{}, err
	}
	defer unlock()
	used, err := e.usedSubnets()
	if err != nil {
		return Network{}, err
	}
	for i := range 254 {
		x := (start+i)%254 + 1
		subnet := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 199, byte(x), 0}), 24)
		if slices.ContainsFunc(used, subnet.Overlaps) {
			continue
		}
		if overlaps, err := OverlapsHost(subnet); err != nil || overlaps {
			if err != nil {
				return Network{}, err
			}
			continue
		}
		n := Network{bridge, subnet}
		return n, recordNetwork(e.Dir, n)
	}
	return Network{}, fmt.Errorf("no free subnet in 10.199.0.0/16")
}

// lockNetworks takes the lock that AllocNetwork holds across processes: a
// file beside the run directories, named so that ReapStaleRuns never takes
// it for one.
func (e *Env) lockNetworks() (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(e.opts.Base, "."+e.opts.Prefix+"networks.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock networks: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock networks: %w", err)
	}
	return func() { f.Close() }, nil
}

// usedSubnets lists the subnets recorded by any run directory and claimed
// by any live funcd.
func (e *Env) usedSubnets() ([]netip.Prefix, error) {
	files, err := filepath.Glob(filepath.Join(e.opts.Base, e.opts.Prefix+"*", networksFile))
	if err != nil {
		return nil, err
	}
	var used []netip.Prefix
	for _, f := range files {
		nets, err := readNetworks(f)
		if err != nil {
			continue // a run directory being removed
		}
		for _, n := range nets {
			used = append(used, n.Subnet)
		}
	}
	claims, err := instance.Live(instance.HostDir)
	if err != nil {
		return nil, err
	}
	for _, c := range claims {
		used = append(used, c.Subnet)
	}
	return used, nil
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
