package e2e

import (
	"context"
	"net/netip"

	"github.com/funcd/funcd/test/testenv"
)

// network and iptRule give the e2e tests testenv's iptables view in the
// harness's own names.
type network struct {
	bridge string
	subnet netip.Prefix
}

// iptRule is one "-A CHAIN ARGS..." line of iptables-save.
type iptRule struct {
	chain string
	args  []string
}

// matches reports whether the rule names one of the bridges or an address
// in one of the subnets (testenv.RuleMatches).
func (r iptRule) matches(nets []network) bool {
	tn := make([]testenv.Network, len(nets))
	for i, n := range nets {
		tn[i] = testenv.Network{Bridge: n.bridge, Subnet: n.subnet}
	}
	return testenv.RuleMatches(testenv.Rule{Chain: r.chain, Args: r.args}, tn)
}

// iptablesSave returns a table's chains (in order) and rules.
func iptablesSave(ctx context.Context, table string) ([]string, []iptRule, error) {
	chains, rules, err := testenv.IptablesSave(ctx, table)
	out := make([]iptRule, len(rules))
	for i, r := range rules {
		out[i] = iptRule{chain: r.Chain, args: r.Args}
	}
	return chains, out, err
}
