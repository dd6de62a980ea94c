// Package egress decides where funcd may connect on someone else's
// behalf. A caller of /async-function names a callback URL and funcd,
// running as root on the host's network, POSTs the function's answer to
// it; without a rule any unauthenticated caller (or any function, through
// gateway:8080) could make funcd reach services that listen only on the
// host itself. So a callback may not go to loopback, link-local,
// unspecified or multicast addresses, the functions' bridge network, or
// any address of this host, unless the operator allows a range.
//
// The rule is checked when a callback is accepted (to answer 400 at once)
// and again on every connection (Dialer), since a name may resolve
// elsewhere by then.
//
// It imports only the standard library.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// ErrForbidden is wrapped by every refusal.
var ErrForbidden = errors.New("not an allowed destination")

// Policy is the rule. Its zero value refuses only the fixed ranges.
type Policy struct {
	bridge netip.Prefix
	allow  []netip.Prefix
	// hostAddrs lists this host's addresses with their interfaces; read
	// at every check, since interfaces come and go.
	hostAddrs func() (map[netip.Addr]string, error)
	resolver  *net.Resolver
}

// New returns the policy for a host whose functions live on bridge,
// opened for the ranges in allow (--callback-allow).
func New(bridge netip.Prefix, allow []netip.Prefix) *Policy {
	return &Policy{bridge: bridge.Masked(), allow: allow, hostAddrs: interfaceAddrs, resolver: net.DefaultResolver}
}

// Check returns nil when addr may be reached, else an error wrapping
// ErrForbidden that names the rule and the flag that opens it.
func (p *Policy) Check(addr netip.Addr) error {
	addr = addr.Unmap()
	for _, a := range p.allow {
		if a.Contains(addr) {
			return nil
		}
	}
	var rule string
	switch {
	case addr.IsLoopback():
		rule = "a loopback address"
	case addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast():
		rule = "a link-local address"
	case addr.IsUnspecified():
		rule = "the unspecified address"
	case addr.IsMulticast():
		rule = "a multicast address"
	case p.bridge.IsValid() && p.bridge.Contains(addr):
		rule = fmt.Sprintf("on the functions' network %s", p.bridge)
	}
	if rule == "" && p.hostAddrs != nil {
		addrs, err := p.hostAddrs()
		if err != nil {
			return fmt.Errorf("%w: %s: cannot list this host's addresses: %v", ErrForbidden, addr, err)
		}
		if iface, ok := addrs[addr]; ok {
			rule = "an address of this host (" + iface + ")"
		}
	}
	if rule == "" {
		return nil
	}
	return fmt.Errorf("%w: %s is %s; --callback-allow %s opens it", ErrForbidden, addr, rule, netip.PrefixFrom(addr, addr.BitLen()))
}

// CheckURL checks an absolute http(s) URL: its host, or every address its
// name resolves to now. A name that does not resolve passes: it may
// resolve later, and Dialer checks it then.
func (p *Policy) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: %q is not an absolute http(s) URL", ErrForbidden, raw)
	}
	host := u.Hostname()
	if addr, err := netip.ParseAddr(host); err == nil {
		return p.Check(addr)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	addrs, err := p.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if err := p.Check(a); err != nil {
			return fmt.Errorf("%s: %w", host, err)
		}
	}
	return nil
}

// Dialer returns a dialer that refuses, before connecting, every address
// the policy forbids: the check that holds whatever DNS answered.
func (p *Policy) Dialer() *net.Dialer {
	return &net.Dialer{
		Timeout: 10 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s: %v", ErrForbidden, address, err)
			}
			return p.Check(ap.Addr())
		},
	}
}

// interfaceAddrs maps every address of the host's interfaces to the
// interface's name.
func interfaceAddrs() (map[netip.Addr]string, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	out := map[netip.Addr]string{}
	for _, ifc := range ifaces {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue // gone meanwhile
		}
		for _, a := range addrs {
			if pfx, err := netip.ParsePrefix(a.String()); err == nil {
				out[pfx.Addr().Unmap()] = ifc.Name
			}
		}
	}
	return out, nil
}
