package cni

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestConflist(t *testing.T) {
	dir := t.TempDir()
	b, err := conflist(Config{Bridge: "fd0", Subnet: netip.MustParsePrefix("10.9.0.0/16"), Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Name    string
		Plugins []struct {
			Type, Bridge string
			IsGateway    bool
			IPMasq       bool
			IPAM         struct {
				Type, DataDir string
				Ranges        [][]struct{ Subnet, Gateway string }
			}
		}
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("conflist is not JSON: %v", err)
	}
	br := c.Plugins[0]
	if c.Name != NetworkName || br.Type != "bridge" || br.Bridge != "fd0" || !br.IsGateway || br.IPMasq {
		t.Errorf("bridge plugin = %+v, want no ipMasq (one rule for the subnet instead)", br)
	}
	if br.IPAM.DataDir != filepath.Join(dir, "ipam") || br.IPAM.Ranges[0][0].Subnet != "10.9.0.0/16" || br.IPAM.Ranges[0][0].Gateway != "10.9.0.1" {
		t.Errorf("ipam = %+v, want its store under the state dir and the first address as gateway", br.IPAM)
	}
	if c.Plugins[1].Type != "firewall" {
		t.Errorf("second plugin = %q, want firewall", c.Plugins[1].Type)
	}
}

func TestNewRejects(t *testing.T) {
	for _, cfg := range []Config{
		{Bridge: "fd0", Subnet: netip.MustParsePrefix("10.9.0.0/30")},
		{Bridge: "fd0", Subnet: netip.MustParsePrefix("fd00::/64")},
		{Bridge: "a-name-longer-than-15", Subnet: netip.MustParsePrefix("10.9.0.0/16")},
		{Bridge: "", Subnet: netip.MustParsePrefix("10.9.0.0/16")},
	} {
		cfg.Dir = t.TempDir()
		if _, err := New(context.Background(), cfg); err == nil {
			t.Errorf("New(%+v) = nil error, want one", cfg)
		}
	}
}

func TestAttachError(t *testing.T) {
	subnet := netip.MustParsePrefix("10.9.0.0/29")
	full := attachError("fn-1", subnet, errors.New("plugin type=\"bridge\" failed (add): failed to allocate for range 0: no IP addresses available in range set: 10.9.0.1-10.9.0.6"))
	want := "subnet 10.9.0.0/29 has 5 addresses for replicas, all in use"
	if !errors.Is(full, ErrSubnetFull) || !strings.Contains(full.Error(), want) || !strings.Contains(full.Error(), "--subnet") {
		t.Errorf("attachError(exhausted) = %v, want ErrSubnetFull saying %q and naming --subnet", full, want)
	}
	other := attachError("fn-1", subnet, errors.New("plugin type=\"bridge\" failed (add): permission denied"))
	if errors.Is(other, ErrSubnetFull) || !strings.Contains(other.Error(), "fn-1") {
		t.Errorf("attachError(other) = %v, want a plain CNI error naming the replica", other)
	}
}

func TestReplicaAddrs(t *testing.T) {
	for subnet, want := range map[string]int64{"10.9.0.0/29": 5, "10.9.0.0/24": 238, "10.62.0.0/16": 61438, "0.0.0.0/0": 1<<32 - 1<<28 - 2} {
		if got := replicaAddrs(netip.MustParsePrefix(subnet)); got != want {
			t.Errorf("replicaAddrs(%s) = %d, want %d", subnet, got, want)
		}
	}
}

func TestHostConflict(t *testing.T) {
	host := []hostAddrs{
		{"lo", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8")}},
		{"eth0", []netip.Prefix{netip.MustParsePrefix("10.0.3.15/8"), netip.MustParsePrefix("fe80::1/64")}},
		{"wg0", []netip.Prefix{netip.MustParsePrefix("10.62.7.1/24")}},
		{"funcd0", []netip.Prefix{netip.MustParsePrefix("10.80.0.1/16")}},
	}
	tests := []struct {
		bridge, subnet string
		want           string // "" for no conflict
	}{
		{"funcd0", "10.80.0.0/16", ""},       // our own bridge from the last run
		{"funcd0", "10.81.0.0/16", ""},       // inside eth0's /8, but no address in it
		{"funcd1", "10.80.0.0/16", "funcd0"}, // another bridge's
		{"funcd0", "10.62.0.0/16", "wg0"},    // a VPN's address
		{"funcd0", "10.0.0.0/16", "eth0"},    // the LAN address itself
		{"funcd0", "127.0.0.0/29", "lo"},
	}
	for _, tt := range tests {
		err := hostConflict(tt.bridge, netip.MustParsePrefix(tt.subnet), host)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), "interface "+tt.want)) {
			t.Errorf("hostConflict(%s, %s) = %v, want conflict naming %q", tt.bridge, tt.subnet, err, tt.want)
		}
	}
	// The real host: every Linux box has lo at 127.0.0.1.
	if err := CheckHost("funcd0", netip.MustParsePrefix("127.0.0.0/8")); err == nil || !strings.Contains(err.Error(), "interface lo") {
		t.Errorf("CheckHost(127.0.0.0/8) = %v, want a conflict naming lo", err)
	}
}

func TestPluginError(t *testing.T) {
	for _, tt := range []struct {
		text string
		want error // nil: neither errno
	}{
		{`plugin type="bridge" failed (add): failed to allocate for range 0: write /var/lib/funcd/cni/ipam/funcd/10.62.0.3: no space left on device`, syscall.ENOSPC},
		{`plugin type="bridge" failed (add): write x: disk quota exceeded`, syscall.EDQUOT},
		{`plugin type="bridge" failed (add): no IP addresses available in range set`, nil},
	} {
		err := pluginError(errors.New(tt.text))
		if err.Error() != tt.text {
			t.Errorf("pluginError(%q) says %q, want the plugin's text", tt.text, err)
		}
		for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT} {
			if got, want := errors.Is(err, errno), errno == tt.want; got != want {
				t.Errorf("errors.Is(pluginError(%q), %v) = %v, want %v", tt.text, errno, got, want)
			}
		}
	}
}

func TestRanges(t *testing.T) {
	for _, tt := range []struct {
		subnet            string
		fnFirst, fnLast   string
		svcFirst, svcLast string // "" when services get none
	}{
		{"10.62.0.0/16", "10.62.0.2", "10.62.239.255", "10.62.240.0", "10.62.255.254"},
		{"10.9.0.0/24", "10.9.0.2", "10.9.0.239", "10.9.0.240", "10.9.0.254"},
		{"10.9.0.0/26", "10.9.0.2", "10.9.0.59", "10.9.0.60", "10.9.0.62"},
		{"10.9.0.0/27", "10.9.0.2", "10.9.0.30", "", ""},
		{"10.9.0.0/29", "10.9.0.2", "10.9.0.6", "", ""},
	} {
		p := netip.MustParsePrefix(tt.subnet)
		first, last := functionRange(p)
		if first.String() != tt.fnFirst || last.String() != tt.fnLast {
			t.Errorf("functionRange(%s) = %s-%s, want %s-%s", p, first, last, tt.fnFirst, tt.fnLast)
		}
		sf, sl, ok := servicesRange(p)
		if ok != (tt.svcFirst != "") || ok && (sf.String() != tt.svcFirst || sl.String() != tt.svcLast) {
			t.Errorf("servicesRange(%s) = %s-%s %v, want %q-%q", p, sf, sl, ok, tt.svcFirst, tt.svcLast)
		}
	}
}
