package cni

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
)

// Replicas reach addresses outside the subnet through one masquerade rule
// for the whole subnet, which funcd adds when it loads its network and
// RemoveHost (`funcd purge`) removes: the bridge plugin's ipMasq would add a
// chain and three rules per replica, and every iptables call (each ADD and
// DEL) then costs more the more replicas there are.

// masqueradeRule is the rule's arguments in the nat table's POSTROUTING:
// traffic from the subnet that leaves by another interface than the bridge
// (replica to replica, and hairpin through the host, stay unmasqueraded, as
// with the bridge plugin). It names both the bridge and the subnet, so
// RemoveHost's Rule.Names finds it.
func masqueradeRule(bridge string, subnet netip.Prefix) []string {
	return []string{"-s", subnet.Masked().String(), "!", "-o", bridge,
		"-m", "comment", "--comment", "funcd " + bridge + " masquerade",
		"-j", "MASQUERADE"}
}

// ensureMasquerade adds the subnet's masquerade rule unless it is there.
func ensureMasquerade(ctx context.Context, bridge string, subnet netip.Prefix) error {
	rule := append([]string{"POSTROUTING"}, masqueradeRule(bridge, subnet)...)
	if iptables(ctx, "nat", append([]string{"-C"}, rule...)...) == nil {
		return nil
	}
	if err := iptables(ctx, "nat", append([]string{"-A"}, rule...)...); err != nil {
		return fmt.Errorf("masquerade %s: %w", subnet, err)
	}
	return nil
}

// cacheDir is libcni's result cache, where it keeps, per attachment, the
// network configuration the ADD ran with (go-cni does not let it move).
const cacheDir = "/var/lib/cni"

// addedWith returns the network configuration list libcni recorded when id
// was attached to network (nil when it has no record: DEL then runs with
// today's configuration).
func addedWith(network, id string) ([]byte, error) {
	return readCached(filepath.Join(cacheDir, "results", network+"-"+id+"-"+ifName))
}

// readCached returns the configuration in one of libcni's cache files.
func readCached(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("CNI cache: %w", err)
	}
	var cached struct {
		Config []byte `json:"config"`
	}
	if err := json.Unmarshal(b, &cached); err != nil {
		return nil, fmt.Errorf("CNI cache %s: %w", path, err)
	}
	return cached.Config, nil
}
