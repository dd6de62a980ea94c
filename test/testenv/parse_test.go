package testenv

import (
	"net/netip"
	"reflect"
	"testing"
)

// These tests need no root: they check the parsing the cleanup relies on.

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

func TestRuleMatches(t *testing.T) {
	nets := []Network{{"fdt12-1", netip.MustParsePrefix("10.199.3.0/24")}}
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
		_, rules := parseIptablesSave(tt.rule)
		if len(rules) != 1 {
			t.Fatalf("parseIptablesSave(%q) gave %d rules", tt.rule, len(rules))
		}
		if got := rules[0].Matches(nets); got != tt.want {
			t.Errorf("Matches(%q) = %v, want %v", tt.rule, got, tt.want)
		}
	}
}

func TestNewJumpOnlyChains(t *testing.T) {
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
	chains, rules := parseIptablesSave(save)
	before := map[string]bool{"filter FORWARD": true, "filter CNI-OLD": true}
	got := newJumpOnlyChains("filter", chains, rules, before)
	want := map[string]bool{"CNI-FORWARD": true, "CNI-ADMIN": true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("newJumpOnlyChains = %v, want %v", got, want)
	}
}

func TestUnescapeMountPath(t *testing.T) {
	if got := unescapeMountPath(`/var/tmp/a\040b\134c`); got != `/var/tmp/a b\c` {
		t.Errorf("unescapeMountPath = %q, want %q", got, `/var/tmp/a b\c`)
	}
}
