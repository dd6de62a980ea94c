package egress

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func testPolicy(allow ...string) *Policy {
	p := New(netip.MustParsePrefix("10.62.0.0/16"), nil)
	for _, a := range allow {
		p.allow = append(p.allow, netip.MustParsePrefix(a))
	}
	p.hostAddrs = func() (map[netip.Addr]string, error) {
		return map[netip.Addr]string{
			netip.MustParseAddr("192.168.1.5"):  "eth0",
			netip.MustParseAddr("2001:db8::5"):  "eth0",
			netip.MustParseAddr("10.62.0.1"):    "funcd0",
			netip.MustParseAddr("203.0.113.10"): "wan0",
		}, nil
	}
	return p
}

func TestCheck(t *testing.T) {
	tests := []struct {
		addr  string
		allow []string
		rule  string // "" when allowed
	}{
		{addr: "127.0.0.1", rule: "loopback"},
		{addr: "127.8.9.10", rule: "loopback"},
		{addr: "::1", rule: "loopback"},
		{addr: "::ffff:127.0.0.1", rule: "loopback"},
		{addr: "169.254.169.254", rule: "link-local"},
		{addr: "fe80::1", rule: "link-local"},
		{addr: "0.0.0.0", rule: "unspecified"},
		{addr: "::", rule: "unspecified"},
		{addr: "224.0.0.251", rule: "link-local"},
		{addr: "239.1.2.3", rule: "multicast"},
		{addr: "10.62.0.1", rule: "functions' network 10.62.0.0/16"},
		{addr: "10.62.3.7", rule: "functions' network"},
		{addr: "192.168.1.5", rule: "address of this host (eth0)"},
		{addr: "2001:db8::5", rule: "address of this host"},
		{addr: "203.0.113.10", rule: "address of this host (wan0)"},
		{addr: "192.168.1.6"},   // another machine on the LAN
		{addr: "10.63.0.1"},     // outside the bridge
		{addr: "93.184.216.34"}, // the internet
		{addr: "2001:db8::6"},   // another IPv6 host
		{addr: "127.0.0.1", allow: []string{"127.0.0.0/8"}},
		{addr: "10.62.0.9", allow: []string{"10.62.0.9/32"}},
		{addr: "10.62.0.8", allow: []string{"10.62.0.9/32"}, rule: "functions' network"},
		{addr: "192.168.1.5", allow: []string{"192.168.1.0/24"}},
	}
	for _, tt := range tests {
		t.Run(tt.addr+strings.Join(tt.allow, ","), func(t *testing.T) {
			err := testPolicy(tt.allow...).Check(netip.MustParseAddr(tt.addr))
			if tt.rule == "" {
				if err != nil {
					t.Errorf("Check(%s) = %v, want allowed", tt.addr, err)
				}
				return
			}
			if !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), tt.rule) || !strings.Contains(err.Error(), "--callback-allow") {
				t.Errorf("Check(%s) = %v, want ErrForbidden naming %q and the flag", tt.addr, err, tt.rule)
			}
		})
	}
}

func TestCheckURL(t *testing.T) {
	p := testPolicy()
	for raw, allowed := range map[string]bool{
		"http://127.0.0.1:9000/cb":            false,
		"http://localhost/cb":                 false, // /etc/hosts
		"https://[::1]/":                      false,
		"http://[::ffff:7f00:1]/":             false,
		"http://169.254.169.254/latest/meta":  false,
		"http://10.62.0.1:8080/function/x":    false,
		"http://192.168.1.6:9000/cb":          true,
		"http://no-such-name.invalid:9000/cb": true, // checked again when connecting
		"ftp://192.168.1.6/":                  false,
		"/relative":                           false,
		"http://":                             false,
	} {
		err := p.CheckURL(context.Background(), raw)
		if allowed && err != nil {
			t.Errorf("CheckURL(%q) = %v, want allowed", raw, err)
		}
		if !allowed && !errors.Is(err, ErrForbidden) {
			t.Errorf("CheckURL(%q) = %v, want ErrForbidden", raw, err)
		}
	}
}

// TestDialer: whatever a name resolved to when the URL was accepted, the
// connection itself is refused to forbidden addresses.
func TestDialer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	get := func(p *Policy) error {
		c := &http.Client{Transport: &http.Transport{DialContext: p.Dialer().DialContext}}
		resp, err := c.Get(srv.URL)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(testPolicy()); !errors.Is(err, ErrForbidden) {
		t.Errorf("GET %s = %v, want ErrForbidden", srv.URL, err)
	}
	if err := get(testPolicy("127.0.0.1/32")); err != nil {
		t.Errorf("GET %s with 127.0.0.1/32 allowed = %v", srv.URL, err)
	}
}
