package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
)

// chainsFile lists, in the run directory, "table chain" per line for the
// iptables chains that existed before the run.
const chainsFile = "chains-before"

// iptablesTables are the tables the CNI bridge (ipMasq) and firewall
// plugins write to.
var iptablesTables = []string{"nat", "filter"}

// Rule is one "-A CHAIN ARGS..." line of iptables-save.
type Rule struct {
	Chain string
	Args  []string
}

// Target returns the chain or verdict the rule jumps or goes to.
func (r Rule) Target() string {
	for i, a := range r.Args {
		if (a == "-j" || a == "-g" || a == "--jump" || a == "--goto") && i+1 < len(r.Args) {
			return r.Args[i+1]
		}
	}
	return ""
}

// Matches reports whether the rule names one of the bridges, or a source
// or destination inside one of the subnets (a wider prefix that merely
// contains a subnet, like 10.0.0.0/8, does not count).
func (r Rule) Matches(nets []Network) bool {
	for i := 0; i+1 < len(r.Args); i++ {
		val := r.Args[i+1]
		switch r.Args[i] {
		case "-s", "--source", "-d", "--destination":
			p, err := netip.ParsePrefix(val)
			if err != nil {
				a, err2 := netip.ParseAddr(val)
				if err2 != nil {
					continue
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			for _, n := range nets {
				if p.Bits() >= n.Subnet.Bits() && n.Subnet.Contains(p.Addr()) {
					return true
				}
			}
		case "-i", "--in-interface", "-o", "--out-interface":
			for _, n := range nets {
				if val == n.Bridge {
					return true
				}
			}
		}
	}
	return false
}

// parseIptablesSave returns a table's chains (in order) and rules.
func parseIptablesSave(out string) (chains []string, rules []Rule) {
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, ":"):
			if name, _, ok := strings.Cut(line[1:], " "); ok {
				chains = append(chains, name)
			}
		case strings.HasPrefix(line, "-A "):
			f := splitRule(line)
			if len(f) >= 2 {
				rules = append(rules, Rule{Chain: f[1], Args: f[2:]})
			}
		}
	}
	return chains, rules
}

// splitRule splits an iptables-save line into arguments, honouring double
// quotes and backslash escapes inside them (--comment "a \"b\"").
func splitRule(line string) []string {
	var out []string
	var cur strings.Builder
	inQuote, escaped, have := false, false, false
	for _, r := range line {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\' && inQuote:
			escaped = true
		case r == '"':
			inQuote, have = !inQuote, true
		case r == ' ' && !inQuote:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

// IptablesSave returns a table's chains (in order) and rules.
func IptablesSave(ctx context.Context, table string) (chains []string, rules []Rule, err error) {
	out, err := Run(ctx, "iptables-save", "-t", table)
	if err != nil {
		return nil, nil, err
	}
	chains, rules = parseIptablesSave(out)
	return chains, rules, nil
}

func iptables(ctx context.Context, table string, args ...string) error {
	_, err := Run(ctx, append([]string{"iptables", "-w", "-t", table}, args...)...)
	return err
}

// removeIptablesRules deletes the rules that match nets, then the CNI-*
// chains those rules jumped to once nothing else refers to them (the
// bridge plugin's per-container masquerade chains).
func removeIptablesRules(ctx context.Context, nets []Network) error {
	var errs []error
	for _, table := range iptablesTables {
		_, rules, err := IptablesSave(ctx, table)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		targets := map[string]bool{}
		for _, r := range rules {
			if !r.Matches(nets) {
				continue
			}
			if err := iptables(ctx, table, append([]string{"-D", r.Chain}, r.Args...)...); err != nil {
				errs = append(errs, err)
			}
			if t := r.Target(); strings.HasPrefix(t, "CNI-") {
				targets[t] = true
			}
		}
		if len(targets) > 0 {
			errs = append(errs, deleteUnreferencedChains(ctx, table, targets))
		}
	}
	return errors.Join(errs...)
}

// deleteUnreferencedChains flushes and deletes the candidate chains no rule
// jumps to any more.
func deleteUnreferencedChains(ctx context.Context, table string, candidates map[string]bool) error {
	chains, rules, err := IptablesSave(ctx, table)
	if err != nil {
		return err
	}
	referenced := map[string]bool{}
	for _, r := range rules {
		if !candidates[r.Chain] {
			referenced[r.Target()] = true
		}
	}
	var errs []error
	for _, c := range chains {
		if candidates[c] && !referenced[c] {
			errs = append(errs, iptables(ctx, table, "-F", c), iptables(ctx, table, "-X", c))
		}
	}
	return errors.Join(errs...)
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
	var errs []error
	for _, table := range iptablesTables {
		chains, rules, err := IptablesSave(ctx, table)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		doomed := newJumpOnlyChains(table, chains, rules, before)
		if len(doomed) == 0 {
			continue
		}
		for _, r := range rules {
			if !doomed[r.Chain] && doomed[r.Target()] {
				errs = append(errs, iptables(ctx, table, append([]string{"-D", r.Chain}, r.Args...)...))
			}
		}
		for c := range doomed {
			errs = append(errs, iptables(ctx, table, "-F", c))
		}
		for c := range doomed {
			errs = append(errs, iptables(ctx, table, "-X", c))
		}
	}
	return errors.Join(errs...)
}

// newJumpOnlyChains returns the largest set of new CNI-* chains whose rules
// only jump to chains in the set.
func newJumpOnlyChains(table string, chains []string, rules []Rule, before map[string]bool) map[string]bool {
	set := map[string]bool{}
	for _, c := range chains {
		if strings.HasPrefix(c, "CNI-") && !before[table+" "+c] {
			set[c] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for _, r := range rules {
			if set[r.Chain] && !set[r.Target()] {
				delete(set, r.Chain)
				changed = true
			}
		}
	}
	return set
}
