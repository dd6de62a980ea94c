package cni

import (
	"net"
	"net/netip"
	"slices"
	"testing"
)

// TestHostAddressesMatchNet checks the one-dump listing against the
// standard library's per-interface one on this host.
func TestHostAddressesMatchNet(t *testing.T) {
	host, err := hostAddresses()
	if err != nil {
		t.Fatal(err)
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	if len(host) != len(ifaces) {
		t.Fatalf("hostAddresses found %d interfaces, net.Interfaces %d", len(host), len(ifaces))
	}
	found := 0
	for i, ifc := range ifaces {
		addrs, err := ifc.Addrs()
		if err != nil {
			t.Fatal(err)
		}
		var want []netip.Prefix
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				want = append(want, p)
			}
		}
		got := host[i].addrs
		slices.SortFunc(got, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
		slices.SortFunc(want, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
		if host[i].name != ifc.Name || !slices.Equal(got, want) {
			t.Errorf("interface %s: hostAddresses gave %s %v, net gave %v", ifc.Name, host[i].name, got, want)
		}
		found += len(got)
	}
	if found == 0 {
		t.Error("no addresses found at all (lo has 127.0.0.1)")
	}
}
