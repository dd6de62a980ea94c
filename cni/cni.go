// Package cni attaches function replicas to funcd's bridge network and
// detaches them again, through the CNI plugins the distribution ships
// (bridge, host-local, firewall, loopback). The replica's address comes from
// the CNI result, never from reading the IPAM plugin's files.
//
// The network configuration is generated here from a bridge name and a
// subnet, written under funcd's state directory so an operator can read it,
// and loaded from there. host-local's address store lives beside it, so two
// funcd instances with different state directories and subnets never share
// addresses. (libcni's own result cache stays in /var/lib/cni: go-cni does
// not let it move.)
//
// This package knows nothing of functions or containerd.
package cni

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	gocni "github.com/containerd/go-cni"

	"github.com/funcd/funcd/internal/atomicfile"
)

// NetworkName is the CNI network name funcd uses.
const NetworkName = "funcd"

// ifName is the interface created inside each replica's namespace: the
// bridge network is loaded first so go-cni names it eth0.
const ifName = "eth0"

// Config describes funcd's bridge network.
type Config struct {
	Bridge  string       // bridge device on the host, e.g. "funcd0"
	Subnet  netip.Prefix // e.g. 10.62.0.0/16
	BinDirs []string     // where the plugins live, e.g. /usr/lib/cni
	Dir     string       // where the conflist, IPAM and cache state go
}

// ErrSubnetFull means the subnet has no address left for another replica.
var ErrSubnetFull = errors.New("no free address for a new replica")

// Network attaches and detaches network namespaces.
type Network struct {
	cni     gocni.CNI
	conf    []byte   // the conflist cni was loaded from
	binDirs []string // for loading the one an attachment was made with
	bridge  string
	gateway netip.Addr
	subnet  netip.Prefix
}

// New writes the network configuration (if it changed), loads it and adds
// the subnet's masquerade rule (masquerade.go) unless it is there.
func New(ctx context.Context, cfg Config) (*Network, error) {
	if !cfg.Subnet.IsValid() || !cfg.Subnet.Addr().Is4() || cfg.Subnet.Bits() > 29 {
		return nil, fmt.Errorf("subnet %s: must be an IPv4 prefix of /29 or larger", cfg.Subnet)
	}
	if len(cfg.Bridge) == 0 || len(cfg.Bridge) > 15 {
		return nil, fmt.Errorf("bridge %q: name must be 1 to 15 characters", cfg.Bridge)
	}
	conf, err := conflist(cfg)
	if err != nil {
		return nil, err
	}
	c, err := writeAndLoad(cfg, NetworkName+".conflist", conf)
	if err != nil {
		return nil, err
	}
	if err := ensureMasquerade(ctx, cfg.Bridge, cfg.Subnet); err != nil {
		return nil, err
	}
	return &Network{cni: c, conf: conf, binDirs: cfg.BinDirs, bridge: cfg.Bridge, gateway: Gateway(cfg.Subnet), subnet: cfg.Subnet.Masked()}, nil
}

// writeAndLoad writes conf to cfg.Dir/file when it changed (an operator
// reads it there) and loads it, after the loopback network.
func writeAndLoad(cfg Config, file string, conf []byte) (gocni.CNI, error) {
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create CNI state dir: %w", err)
	}
	path := filepath.Join(cfg.Dir, file)
	if err := atomicfile.WriteIfChanged(path, conf, 0o644); err != nil {
		return nil, fmt.Errorf("CNI config: %w", err)
	}
	c, err := load(cfg.BinDirs, gocni.WithConfListFile(path))
	if err != nil {
		return nil, fmt.Errorf("load CNI config %s: %w", path, err)
	}
	return c, nil
}

// load loads the network conf gives after the loopback network.
func load(binDirs []string, conf gocni.Opt) (gocni.CNI, error) {
	c, err := gocni.New(gocni.WithPluginDir(binDirs), gocni.WithInterfacePrefix("eth"), gocni.WithMinNetworkCount(2))
	if err != nil {
		return nil, fmt.Errorf("init CNI: %w", err)
	}
	if err := c.Load(conf, gocni.WithLoNetwork); err != nil {
		return nil, err
	}
	return c, nil
}

// forDel returns the CNI to detach id with: cur, unless libcni recorded
// that id was attached with another configuration than conf (an older
// funcd's, whose bridge plugin masqueraded per replica), then that one, so
// that DEL undoes what that ADD did. A cache it cannot read leaves cur.
func forDel(cur gocni.CNI, conf []byte, binDirs []string, id string) gocni.CNI {
	old, err := addedWith(NetworkName, id)
	if err != nil || old == nil || bytes.Equal(old, conf) {
		return cur
	}
	c, err := load(binDirs, gocni.WithConfListBytes(old))
	if err != nil {
		return cur
	}
	return c
}

// Gateway is the host's address on the bridge: the first address of the
// subnet. Functions reach funcd there.
func Gateway(subnet netip.Prefix) netip.Addr {
	return subnet.Masked().Addr().Next()
}

// Gateway returns the host's address on the bridge.
func (n *Network) Gateway() netip.Addr { return n.gateway }

// Attach connects the network namespace at netnsPath, owned by id, to the
// bridge and returns the address it was given.
func (n *Network) Attach(ctx context.Context, id, netnsPath string) (netip.Addr, error) {
	res, err := n.cni.Setup(ctx, id, netnsPath)
	for try := 1; err != nil && racedOnIptables(err) && try <= 3 && ctx.Err() == nil; try++ {
		// Another process changed the same chains between the plugin's
		// look and its change; undo what this ADD did and do it again.
		_ = n.cni.Remove(ctx, id, netnsPath)
		time.Sleep(time.Duration(try) * 20 * time.Millisecond)
		res, err = n.cni.Setup(ctx, id, netnsPath)
	}
	if err != nil {
		return netip.Addr{}, attachError(id, n.subnet, pluginError(err))
	}
	iface, ok := res.Interfaces[ifName]
	if !ok {
		return netip.Addr{}, fmt.Errorf("CNI add %s: no %s in result", id, ifName)
	}
	for _, ipc := range iface.IPConfigs {
		if ip4 := ipc.IP.To4(); ip4 != nil {
			addr, _ := netip.AddrFromSlice(ip4)
			return addr, forgetNeighbour(n.bridge, addr) // the address may have been another replica's
		}
	}
	return netip.Addr{}, fmt.Errorf("CNI add %s: no IPv4 address in result", id)
}

// Detach releases id's address and removes its interface. netnsPath may be
// empty when the namespace is already gone; the address is released anyway.
func (n *Network) Detach(ctx context.Context, id, netnsPath string) error {
	if netnsPath != "" && !IsNetNS(netnsPath) {
		// Gone, or only its file left after a reboot: the plugins then
		// release the address and their state without entering it.
		netnsPath = ""
	}
	if err := forDel(n.cni, n.conf, n.binDirs, id).Remove(ctx, id, netnsPath); err != nil {
		return fmt.Errorf("CNI del %s: %w", id, err)
	}
	return nil
}

// racedOnIptables reports whether a plugin failed because another process
// created or removed an iptables chain at the same moment (the firewall
// plugin checks for CNI-ADMIN, then creates it): iptables exit status 4
// with "File exists" or "No such file or directory".
func racedOnIptables(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "iptables") && strings.Contains(msg, "exit status 4") &&
		(strings.Contains(msg, "File exists") || strings.Contains(msg, "No such file or directory"))
}

// attachError wraps a failed CNI ADD, recognising an exhausted subnet by
// the host-local plugin's message (its error carries no code for it).
func attachError(id string, subnet netip.Prefix, err error) error {
	if strings.Contains(err.Error(), "no IP addresses available") {
		return fmt.Errorf("%w: subnet %s has %d addresses for replicas, all in use; remove or scale down functions, or restart funcd with a larger --subnet", ErrSubnetFull, subnet, replicaAddrs(subnet))
	}
	return fmt.Errorf("CNI add %s: %w", id, err)
}

// replicaAddrs is how many addresses of subnet host-local hands out to
// replicas: all but the network address, the gateway (the host), the
// services' share and the broadcast.
func replicaAddrs(subnet netip.Prefix) int64 {
	first, last := functionRange(subnet)
	return int64(ipv4(last)-ipv4(first)) + 1
}

// pluginError is err from a plugin, which found the disk full when its
// text says so: plugins are other processes, their errors arrive as text,
// and the address store lives on the state directory's disk. errors.Is
// then finds syscall.ENOSPC (or EDQUOT) while the message stays the
// plugin's.
func pluginError(err error) error {
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT} {
		if strings.Contains(err.Error(), errno.Error()) {
			return errnoText{err, errno}
		}
	}
	return err
}

// errnoText is an error whose text names errno.
type errnoText struct {
	err   error
	errno syscall.Errno
}

func (e errnoText) Error() string   { return e.err.Error() }
func (e errnoText) Unwrap() []error { return []error{e.err, e.errno} }

func conflist(cfg Config) ([]byte, error) {
	subnet := cfg.Subnet.Masked()
	first, last := functionRange(subnet)
	return encodeConflist(bridgePlugins(cfg, first, last))
}

// bridgePlugins are the bridge (with host-local addresses from first to
// last) and firewall plugins every attachment goes through. Functions and
// services share the network name and host-local's store, so neither can
// take an address the other holds, even one from before the split.
func bridgePlugins(cfg Config, first, last netip.Addr) []map[string]any {
	subnet := cfg.Subnet.Masked()
	ipam := map[string]any{
		"type":    "host-local",
		"dataDir": filepath.Join(cfg.Dir, "ipam"),
		"ranges": [][]map[string]string{{{"subnet": subnet.String(), "gateway": Gateway(subnet).String(),
			"rangeStart": first.String(), "rangeEnd": last.String()}}},
		"routes": []map[string]string{{"dst": "0.0.0.0/0"}},
	}
	return []map[string]any{
		{
			"type":        "bridge",
			"bridge":      cfg.Bridge,
			"isGateway":   true,
			"ipMasq":      false, // one rule for the subnet instead: masquerade.go
			"hairpinMode": true,
			"ipam":        ipam,
		},
		{"type": "firewall", "backend": "iptables"},
	}
}

func encodeConflist(plugins []map[string]any) ([]byte, error) {
	list := map[string]any{
		"cniVersion": "0.4.0",
		"name":       NetworkName,
		"plugins":    plugins,
	}
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode CNI config: %w", err)
	}
	return append(b, '\n'), nil
}
