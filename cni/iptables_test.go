package cni

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestSplitRule(t *testing.T) {
	tests := []struct {
		line string
		want []string
	}{
		{`-A POSTROUTING -s 10.199.3.2/32 -j CNI-abc`, []string{"-A", "POSTROUTING", "-s", "10.199.3.2/32", "-j", "CNI-abc"}},
		{`-A POSTROUTING -s 10.199.3.2/32 -m comment --comment "name: \"funcd\" id: \"x y\"" -j CNI-abc`,
			[]string{"-A", "POSTROUTING", "-s", "10.199.3.2/32", "-m", "comment", "--comment", `name: "funcd" id: "x y"`, "-j", "CNI-abc"}},
		{`-A X --comment ""`, []string{"-A", "X", "--comment", ""}},
	}
	for _, tt := range tests {
		if got := splitRule(tt.line); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitRule(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
}

func TestRuleNames(t *testing.T) {
	bridge, subnet := "fdt12-1", netip.MustParsePrefix("10.199.3.0/24")
	tests := []struct {
		rule string
		want bool
	}{
		{`-A POSTROUTING -s 10.199.3.2/32 -j CNI-abc`, true},
		{`-A CNI-abc -d 10.199.3.0/24 -j ACCEPT`, true},
		{`-A CNI-FORWARD -d 10.199.3.7 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`, true},
		{`-A FORWARD -o fdt12-1 -j ACCEPT`, true},
		{`-A FORWARD -i fdt12-10 -j ACCEPT`, false},
		{`-A POSTROUTING -s 10.199.30.2/32 -j CNI-abc`, false},
		{`-A POSTROUTING -s 10.0.0.0/8 -j MASQUERADE`, false},
		{`-A CNI-abc ! -d 224.0.0.0/4 -j MASQUERADE`, false},
		{`-A POSTROUTING -s 10.62.0.5/32 -m comment --comment "10.199.3.2" -j CNI-def`, false},
	}
	for _, tt := range tests {
		_, rules := ParseIptablesSave(tt.rule)
		if len(rules) != 1 {
			t.Fatalf("ParseIptablesSave(%q) gave %d rules", tt.rule, len(rules))
		}
		if got := rules[0].Names(bridge, subnet); got != tt.want {
			t.Errorf("Names(%q) = %v, want %v", tt.rule, got, tt.want)
		}
	}
}

func TestJumpOnlyChains(t *testing.T) {
	save := `*filter
:FORWARD ACCEPT [0:0]
:CNI-FORWARD - [0:0]
:CNI-ADMIN - [0:0]
:CNI-OLD - [0:0]
:CNI-LIVE - [0:0]
-A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD
-A CNI-FORWARD -m comment --comment "CNI firewall plugin admin overrides" -j CNI-ADMIN
-A CNI-LIVE -d 10.62.0.5/32 -j ACCEPT
COMMIT`
	chains, rules := ParseIptablesSave(save)
	got := JumpOnlyChains(chains, rules, func(c string) bool { return c != "CNI-OLD" })
	want := map[string]bool{"CNI-FORWARD": true, "CNI-ADMIN": true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("JumpOnlyChains = %v, want %v", got, want)
	}
}

func TestRacedOnIptables(t *testing.T) {
	for msg, want := range map[string]bool{
		`plugin type="firewall" failed (add): running [/usr/sbin/iptables -t filter -N CNI-ADMIN --wait]: exit status 4: iptables v1.8.9 (nf_tables):  CHAIN_USER_ADD failed (File exists): chain CNI-ADMIN`:         true,
		`plugin type="firewall" failed (add): running [/usr/sbin/iptables -t filter -A CNI-FORWARD -j CNI-ADMIN --wait]: exit status 4: iptables v1.8.9 (nf_tables): RULE_APPEND failed (No such file or directory)`: true,
		`plugin type="bridge" failed (add): failed to allocate for range 0: no IP addresses available in range set`:                                                                                                  false,
		`plugin type="firewall" failed (add): running [/usr/sbin/iptables -t filter -N CNI-ADMIN --wait]: exit status 1: permission denied`:                                                                          false,
	} {
		if got := racedOnIptables(errors.New(msg)); got != want {
			t.Errorf("racedOnIptables(%q) = %v, want %v", msg, got, want)
		}
	}
}

// TestIdlePortmapChains: portmap's shared chains go only when no
// container publishes a port (CNI-HOSTPORT-DNAT is empty).
func TestIdlePortmapChains(t *testing.T) {
	const idle = `*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:CNI-HOSTPORT-DNAT - [0:0]
:CNI-HOSTPORT-MASQ - [0:0]
:CNI-HOSTPORT-SETMARK - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ
-A CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE
-A CNI-HOSTPORT-SETMARK -m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark 0x2000/0x2000
COMMIT
`
	chains, rules := ParseIptablesSave(idle)
	got := IdlePortmapChains(chains, rules)
	if len(got) != 3 || !got["CNI-HOSTPORT-DNAT"] || !got["CNI-HOSTPORT-MASQ"] || !got["CNI-HOSTPORT-SETMARK"] {
		t.Errorf("IdlePortmapChains(no published port) = %v, want the three shared chains", got)
	}

	busy := strings.Replace(idle, "COMMIT", `:CNI-DN-0a1b2c - [0:0]
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \"other\" id: \"x\"" -m multiport --dports 5432 -j CNI-DN-0a1b2c
-A CNI-DN-0a1b2c -p tcp -s 10.88.0.0/16 --dport 5432 -j CNI-HOSTPORT-SETMARK
COMMIT`, 1)
	chains, rules = ParseIptablesSave(busy)
	if got := IdlePortmapChains(chains, rules); len(got) != 0 {
		t.Errorf("IdlePortmapChains(another user's published port) = %v, want none", got)
	}
}
