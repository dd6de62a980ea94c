package cni

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"

	gocni "github.com/containerd/go-cni"
)

// The subnet is split: side services take its top sixteenth (from a /26
// on: 4 addresses, of which the broadcast is not one), functions the rest.
// A subnet smaller than a /26 (down to the /29 funcd accepts) is all the
// functions'; services then cannot be attached.
const minServicesSubnetBits = 26

// functionRange is the first and last address replicas get.
func functionRange(subnet netip.Prefix) (first, last netip.Addr) {
	subnet = subnet.Masked()
	first = Gateway(subnet).Next()
	if sfirst, _, ok := servicesRange(subnet); ok {
		return first, sfirst.Prev()
	}
	return first, broadcast(subnet).Prev()
}

// servicesRange is the first and last address side services get, or false
// when subnet is too small to share.
func servicesRange(subnet netip.Prefix) (first, last netip.Addr, ok bool) {
	subnet = subnet.Masked()
	if subnet.Bits() > minServicesSubnetBits {
		return netip.Addr{}, netip.Addr{}, false
	}
	size := uint32(1) << (32 - subnet.Bits() - 4)
	first = fromIPv4(ipv4(broadcast(subnet)) - size + 1)
	return first, broadcast(subnet).Prev(), true
}

func broadcast(p netip.Prefix) netip.Addr {
	return fromIPv4(ipv4(p.Masked().Addr()) | (1<<(32-p.Bits()) - 1))
}

func ipv4(a netip.Addr) uint32 { b := a.As4(); return binary.BigEndian.Uint32(b[:]) }

func fromIPv4(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

// ServicesNetwork attaches side services to the same bridge as functions,
// from their own share of the subnet, through a conflist that also has the
// portmap plugin: published ports cost functions' attachments nothing.
type ServicesNetwork struct {
	cni     gocni.CNI
	conf    []byte
	binDirs []string
	bridge  string
}

// Port is a published port: HostIP:HostPort on the host forwards to
// ContainerPort of the service.
type Port struct {
	HostIP        string // "" for every address
	HostPort      uint16
	ContainerPort uint16
	Protocol      string // "tcp" or "udp"
}

// NewServices writes the services' conflist (if it changed), loads it and
// adds the subnet's masquerade rule unless it is there.
func NewServices(ctx context.Context, cfg Config) (*ServicesNetwork, error) {
	first, last, ok := servicesRange(cfg.Subnet)
	if !ok {
		return nil, fmt.Errorf("subnet %s is too small for side services: they need a /%d or larger", cfg.Subnet, minServicesSubnetBits)
	}
	plugins := bridgePlugins(cfg, first, last)
	plugins = append(plugins, map[string]any{"type": "portmap", "snat": true, "capabilities": map[string]bool{"portMappings": true}})
	conf, err := encodeConflist(plugins)
	if err != nil {
		return nil, err
	}
	c, err := writeAndLoad(cfg, NetworkName+"-services.conflist", conf)
	if err != nil {
		return nil, err
	}
	if err := ensureMasquerade(ctx, cfg.Bridge, cfg.Subnet); err != nil {
		return nil, err
	}
	return &ServicesNetwork{cni: c, conf: conf, binDirs: cfg.BinDirs, bridge: cfg.Bridge}, nil
}

// Attach connects the network namespace at netnsPath, owned by id, to the
// bridge with ports published, and returns its address: want when it is
// valid and free (so a recreated service keeps its address), else any free
// one of the services' share.
func (n *ServicesNetwork) Attach(ctx context.Context, id, netnsPath string, want netip.Addr, ports []Port) (netip.Addr, error) {
	opts := n.opts(ports)
	var res *gocni.Result
	var err error
	if want.IsValid() {
		if res, err = n.cni.Setup(ctx, id, netnsPath, append(opts, gocni.WithArgs("IP", want.String()))...); err != nil {
			_ = n.cni.Remove(ctx, id, netnsPath, opts...)
		}
	}
	if res == nil {
		if res, err = n.cni.Setup(ctx, id, netnsPath, opts...); err != nil {
			return netip.Addr{}, fmt.Errorf("CNI add %s: %w", id, pluginError(err))
		}
	}
	addr, err := resultAddr(id, res)
	if err != nil {
		return addr, err
	}
	if len(ports) > 0 {
		if err := guardLocalnet(ctx, n.bridge); err != nil {
			return addr, err
		}
	}
	// The address may have been another container's: the host forgets
	// its MAC, the others learn the new one.
	if err := forgetNeighbour(n.bridge, addr); err != nil {
		return addr, err
	}
	return addr, announce(netnsPath, ifName, addr)
}

// Detach releases id's address, published ports and interface; ports must
// be those it was attached with.
func (n *ServicesNetwork) Detach(ctx context.Context, id, netnsPath string, ports []Port) error {
	if netnsPath != "" && !IsNetNS(netnsPath) {
		netnsPath = ""
	}
	if err := forDel(n.cni, n.conf, n.binDirs, id).Remove(ctx, id, netnsPath, n.opts(ports)...); err != nil {
		return fmt.Errorf("CNI del %s: %w", id, err)
	}
	return nil
}

func (n *ServicesNetwork) opts(ports []Port) []gocni.NamespaceOpts {
	opts := []gocni.NamespaceOpts{gocni.WithArgs("IgnoreUnknown", "1")}
	if len(ports) > 0 {
		pm := make([]gocni.PortMapping, len(ports))
		for i, p := range ports {
			pm[i] = gocni.PortMapping{HostIP: p.HostIP, HostPort: int32(p.HostPort), ContainerPort: int32(p.ContainerPort), Protocol: p.Protocol}
		}
		opts = append(opts, gocni.WithCapabilityPortMap(pm))
	}
	return opts
}

func resultAddr(id string, res *gocni.Result) (netip.Addr, error) {
	iface, ok := res.Interfaces[ifName]
	if !ok {
		return netip.Addr{}, fmt.Errorf("CNI add %s: no %s in result", id, ifName)
	}
	for _, ipc := range iface.IPConfigs {
		if ip4 := ipc.IP.To4(); ip4 != nil {
			addr, _ := netip.AddrFromSlice(ip4)
			return addr, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("CNI add %s: no IPv4 address in result", id)
}

// guardLocalnet drops packets that arrive on bridge for the host's
// loopback addresses, unless they belong to a connection already made or
// translated. portmap sets route_localnet on the bridge so that a port
// published on 127.0.0.1 works; without this rule a container able to
// forge packets could reach services listening on the host's 127.0.0.1
// (the rule kube-proxy adds for the same reason, CVE-2020-8558).
func guardLocalnet(ctx context.Context, bridge string) error {
	rule := []string{"INPUT", "-i", bridge, "-d", "127.0.0.0/8", "!", "-s", "127.0.0.0/8",
		"-m", "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED,DNAT", "-j", "DROP"}
	if iptables(ctx, "filter", append([]string{"-C"}, rule...)...) == nil {
		return nil
	}
	return iptables(ctx, "filter", append([]string{"-I"}, rule...)...)
}
