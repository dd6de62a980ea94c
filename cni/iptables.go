package cni

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
)

// The CNI bridge plugin (ipMasq) writes to the nat table, the firewall
// plugin to filter.
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

// Names reports whether the rule names bridge, or a source or destination
// inside subnet (a wider prefix that merely contains subnet, like
// 10.0.0.0/8, does not count).
func (r Rule) Names(bridge string, subnet netip.Prefix) bool {
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
			if p.Bits() >= subnet.Bits() && subnet.Contains(p.Addr()) {
				return true
			}
		case "-i", "--in-interface", "-o", "--out-interface":
			if val == bridge {
				return true
			}
		}
	}
	return false
}

// ParseIptablesSave returns a table's chains (in order) and rules from
// iptables-save's output.
func ParseIptablesSave(out string) (chains []string, rules []Rule) {
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

// JumpOnlyChains returns the largest set of CNI-* chains, among those
// candidate accepts, whose rules only jump to chains in the set: chains
// that hold nothing of anyone's any more.
func JumpOnlyChains(chains []string, rules []Rule, candidate func(chain string) bool) map[string]bool {
	set := map[string]bool{}
	for _, c := range chains {
		if strings.HasPrefix(c, "CNI-") && candidate(c) {
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

// iptablesSave returns a table's chains and rules.
func iptablesSave(ctx context.Context, table string) ([]string, []Rule, error) {
	out, err := exec.CommandContext(ctx, "iptables-save", "-t", table).Output()
	if err != nil {
		return nil, nil, fmt.Errorf("iptables-save -t %s: %w", table, err)
	}
	chains, rules := ParseIptablesSave(string(out))
	return chains, rules, nil
}

func iptables(ctx context.Context, table string, args ...string) error {
	out, err := exec.CommandContext(ctx, "iptables", append([]string{"-w", "-t", table}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables -t %s %s: %w: %s", table, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// RemoveHost removes what funcd's network leaves on the host once every
// replica is detached (`funcd purge`): iptables rules that name the bridge
// or an address in the subnet, the CNI-* chains they led to when nothing
// else does, the firewall plugin's CNI-FORWARD and CNI-ADMIN when they hold
// nothing but jumps among themselves (another CNI user's rules keep them),
// portmap's shared chains once no port is published (IdlePortmapChains),
// and the bridge device.
func RemoveHost(ctx context.Context, bridge string, subnet netip.Prefix) error {
	errs := []error{
		RemoveRules(ctx, func(r Rule) bool { return r.Names(bridge, subnet) }),
		RemoveJumpOnlyChains(ctx, func(_, c string) bool { return c == "CNI-FORWARD" || c == "CNI-ADMIN" }),
		removeIdlePortmap(ctx),
	}
	if _, err := net.InterfaceByName(bridge); err == nil {
		if out, err := exec.CommandContext(ctx, "ip", "link", "delete", bridge).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip link delete %s: %w: %s", bridge, err, strings.TrimSpace(string(out))))
		}
	}
	return errors.Join(errs...)
}

// RemoveRules deletes, in the tables the CNI plugins write to, the rules
// doomed picks, then the CNI-* chains those rules jumped to once nothing
// else refers to them (the bridge plugin's per-replica masquerade chains).
func RemoveRules(ctx context.Context, doomed func(Rule) bool) error {
	var errs []error
	for _, table := range iptablesTables {
		_, rules, err := iptablesSave(ctx, table)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		targets := map[string]bool{}
		for _, r := range rules {
			if !doomed(r) {
				continue
			}
			errs = append(errs, iptables(ctx, table, append([]string{"-D", r.Chain}, r.Args...)...))
			if t := r.Target(); strings.HasPrefix(t, "CNI-") {
				targets[t] = true
			}
		}
		errs = append(errs, removeUnreferenced(ctx, table, targets))
	}
	return errors.Join(errs...)
}

// The portmap plugin's chains in the nat table, shared by every container
// on the host that publishes a port (side services' and any other CNI
// user's): the per-container CNI-DN-* chains hang off portmapDNAT.
const (
	portmapDNAT    = "CNI-HOSTPORT-DNAT"
	portmapSetMark = "CNI-HOSTPORT-SETMARK"
	portmapMasq    = "CNI-HOSTPORT-MASQ"
)

// IdlePortmapChains returns portmap's shared chains among chains when no
// container publishes a port any more (portmapDNAT holds no rule), so that
// they can go; none while anyone's port is published. portmap makes them
// again at its next ADD.
func IdlePortmapChains(chains []string, rules []Rule) map[string]bool {
	for _, r := range rules {
		if r.Chain == portmapDNAT {
			return nil
		}
	}
	idle := map[string]bool{}
	for _, c := range chains {
		if c == portmapDNAT || c == portmapSetMark || c == portmapMasq {
			idle[c] = true
		}
	}
	return idle
}

// removeIdlePortmap deletes IdlePortmapChains of the nat table, with the
// jumps to them from PREROUTING, OUTPUT and POSTROUTING.
func removeIdlePortmap(ctx context.Context) error {
	chains, rules, err := iptablesSave(ctx, "nat")
	if err != nil {
		return err
	}
	idle := IdlePortmapChains(chains, rules)
	var errs []error
	for _, r := range rules {
		if !idle[r.Chain] && idle[r.Target()] {
			errs = append(errs, iptables(ctx, "nat", append([]string{"-D", r.Chain}, r.Args...)...))
		}
	}
	for c := range idle {
		errs = append(errs, iptables(ctx, "nat", "-F", c))
	}
	for c := range idle {
		errs = append(errs, iptables(ctx, "nat", "-X", c))
	}
	return errors.Join(errs...)
}

// RemoveJumpOnlyChains deletes, in the tables the CNI plugins write to, the
// CNI-* chains candidate accepts (given the table) that hold only jumps
// among themselves, with the jumps to them from elsewhere.
func RemoveJumpOnlyChains(ctx context.Context, candidate func(table, chain string) bool) error {
	var errs []error
	for _, table := range iptablesTables {
		errs = append(errs, removeChains(ctx, table, func(c string) bool { return candidate(table, c) }))
	}
	return errors.Join(errs...)
}

// removeUnreferenced flushes and deletes the candidate chains no rule
// jumps to any more: the bridge plugin's per-replica masquerade chains.
func removeUnreferenced(ctx context.Context, table string, candidates map[string]bool) error {
	if len(candidates) == 0 {
		return nil
	}
	chains, rules, err := iptablesSave(ctx, table)
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

// removeChains deletes the chains candidate accepts that hold only jumps
// among themselves, with the jumps to them from elsewhere.
func removeChains(ctx context.Context, table string, candidate func(string) bool) error {
	chains, rules, err := iptablesSave(ctx, table)
	if err != nil {
		return err
	}
	doomed := JumpOnlyChains(chains, rules, candidate)
	var errs []error
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
	return errors.Join(errs...)
}
