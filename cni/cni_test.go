package cni

import (
	"encoding/json"
	"errors"
	"net/netip"
	"path/filepath"
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
	if c.Name != NetworkName || br.Type != "bridge" || br.Bridge != "fd0" || !br.IsGateway || !br.IPMasq {
		t.Errorf("bridge plugin = %+v", br)
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
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) = nil error, want one", cfg)
		}
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
