package netfiles

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseResolvConf(t *testing.T) {
	tests := []struct {
		in          string
		wantServers []string
		wantSearch  []string
	}{
		{"nameserver 127.0.0.53\noptions edns0\n", nil, nil},
		{"nameserver 10.0.0.2\nnameserver 127.0.0.1\nsearch a.example b\n", []string{"10.0.0.2"}, []string{"a.example", "b"}},
		{"# c\nnameserver 2001:db8::1\nnameserver bogus\n", []string{"2001:db8::1"}, nil},
	}
	for _, tt := range tests {
		servers, search := parseResolvConf([]byte(tt.in))
		if !slices.Equal(servers, tt.wantServers) || !slices.Equal(search, tt.wantSearch) {
			t.Errorf("parseResolvConf(%q) = %v, %v, want %v, %v", tt.in, servers, search, tt.wantServers, tt.wantSearch)
		}
	}
}

func TestHostResolversSkipsStub(t *testing.T) {
	dir := t.TempDir()
	stub := filepath.Join(dir, "stub")
	real := filepath.Join(dir, "real")
	os.WriteFile(stub, []byte("nameserver 127.0.0.53\n"), 0o644)
	os.WriteFile(real, []byte("nameserver 192.0.2.1\n"), 0o644)
	got, _ := hostResolvers([]string{filepath.Join(dir, "missing"), stub, real})
	if !slices.Equal(got, []string{"192.0.2.1"}) {
		t.Errorf("hostResolvers = %v, want [192.0.2.1]", got)
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	f, err := Write(dir, Options{Gateway: netip.MustParseAddr("10.62.0.1"), Nameservers: []string{"192.0.2.53"}})
	if err != nil {
		t.Fatalf("Write = %v", err)
	}
	rc, _ := os.ReadFile(f.ResolvConf)
	if !strings.Contains(string(rc), "nameserver 192.0.2.53\n") {
		t.Errorf("resolv.conf = %q, want the configured nameserver", rc)
	}
	h, _ := os.ReadFile(f.Hosts)
	if !strings.Contains(string(h), "10.62.0.1\tgateway\n") {
		t.Errorf("hosts = %q, want gateway entry", h)
	}
}

func TestUpdateHostsInPlace(t *testing.T) {
	dir := t.TempDir()
	gw := netip.MustParseAddr("10.9.0.1")
	f, err := Write(dir, Options{Gateway: gw, Nameservers: []string{"1.1.1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(f.Hosts)
	if err != nil {
		t.Fatal(err)
	}
	svc := []Host{{"db", netip.MustParseAddr("10.9.0.241")}, {"cache", netip.MustParseAddr("10.9.0.242")}}
	if err := UpdateHosts(f.Hosts, gw, svc); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(f.Hosts)
	if !os.SameFile(before, after) {
		t.Error("UpdateHosts replaced the file; bind mounts would keep the old one")
	}
	data, _ := os.ReadFile(f.Hosts)
	for _, want := range []string{"10.9.0.1\tgateway\n", "10.9.0.241\tdb\n", "10.9.0.242\tcache\n"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("hosts = %q, want a line %q", data, want)
		}
	}
	if err := UpdateHosts(f.Hosts, gw, svc[:1]); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(f.Hosts)
	if strings.Contains(string(data), "cache") || !strings.HasSuffix(string(data), "10.9.0.241\tdb\n") {
		t.Errorf("hosts after a service left = %q", data)
	}
}
