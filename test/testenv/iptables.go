package testenv

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/funcd/funcd/cni"
)

// chainsFile lists, in the run directory, "table chain" per line for the
// iptables chains that existed before the run.
const chainsFile = "chains-before"

// iptablesTables are the tables the CNI bridge (ipMasq) and firewall
// plugins write to.
var iptablesTables = []string{"nat", "filter"}

// Rule is one "-A CHAIN ARGS..." line of iptables-save.
type Rule = cni.Rule

// RuleMatches reports whether r names one of the bridges, or a source or
// destination inside one of the subnets.
func RuleMatches(r Rule, nets []Network) bool {
	for _, n := range nets {
		if r.Names(n.Bridge, n.Subnet) {
			return true
		}
	}
	return false
}

// IptablesSave returns a table's chains (in order) and rules.
func IptablesSave(ctx context.Context, table string) (chains []string, rules []Rule, err error) {
	out, err := Run(ctx, "iptables-save", "-t", table)
	if err != nil {
		return nil, nil, err
	}
	chains, rules = cni.ParseIptablesSave(out)
	return chains, rules, nil
}

// removeIptablesRules deletes the rules that match nets, then the CNI-*
// chains those rules jumped to once nothing else refers to them.
func removeIptablesRules(ctx context.Context, nets []Network) error {
	return cni.RemoveRules(ctx, func(r Rule) bool { return RuleMatches(r, nets) })
}

// saveChains records the chains that exist before the run.
func saveChains(ctx context.Context, path string) error {
	var b strings.Builder
	for _, table := range iptablesTables {
		chains, _, err := IptablesSave(ctx, table)
		if err != nil {
			return fmt.Errorf("record iptables chains: %w", err)
		}
		for _, c := range chains {
			fmt.Fprintf(&b, "%s %s\n", table, c)
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("record iptables chains: %w", err)
	}
	return nil
}

// removeNewCNIChains deletes CNI-* chains that did not exist before the run
// (the firewall plugin's CNI-FORWARD and CNI-ADMIN, which CNI DEL leaves
// behind) when they hold nothing but jumps among themselves, so the chains
// of a live installation with functions on it stay.
func removeNewCNIChains(ctx context.Context, beforePath string) error {
	b, err := os.ReadFile(beforePath)
	if err != nil {
		return nil // the run died before it recorded anything
	}
	before := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		before[line] = true
	}
	return cni.RemoveJumpOnlyChains(ctx, func(table, c string) bool { return !before[table+" "+c] })
}
