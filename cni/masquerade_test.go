package cni

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The subnet's masquerade rule must be one RemoveHost (`funcd purge`)
// removes: it names the bridge and the subnet, as iptables-save prints it.
func TestMasqueradeRuleNamesNetwork(t *testing.T) {
	subnet := netip.MustParsePrefix("10.9.0.0/16")
	args := masqueradeRule("fd0", subnet)
	_, rules := ParseIptablesSave("*nat\n-A POSTROUTING " + strings.Join(quoteComment(args), " ") + "\nCOMMIT\n")
	if len(rules) != 1 {
		t.Fatalf("parsed %d rules, want 1", len(rules))
	}
	r := rules[0]
	if !r.Names("fd0", subnet) || r.Target() != "MASQUERADE" || r.Chain != "POSTROUTING" {
		t.Errorf("rule %+v: Names(fd0, %s) = %v, Target() = %q, want true and MASQUERADE in POSTROUTING", r, subnet, r.Names("fd0", subnet), r.Target())
	}
	if r.Names("fd1", netip.MustParsePrefix("10.8.0.0/16")) {
		t.Errorf("rule %+v names another network", r)
	}
}

// quoteComment quotes the comment as iptables-save does.
func quoteComment(args []string) []string {
	out := append([]string(nil), args...)
	for i := range out {
		if i > 0 && out[i-1] == "--comment" {
			out[i] = `"` + out[i] + `"`
		}
	}
	return out
}

func TestAddedWith(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, file string
		want       string
		wantErr    bool
	}{
		{"recorded", `{"kind":"cniCacheV1","config":"eyJhIjoxfQ=="}`, `{"a":1}`, false},
		{"no record", "", "", false},
		{"corrupt", `{"config":`, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			if tc.file != "" {
				if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := readCached(path)
			if string(got) != tc.want || (err != nil) != tc.wantErr {
				t.Errorf("readCached(%s) = %q, %v; want %q, error %v", tc.name, got, err, tc.want, tc.wantErr)
			}
		})
	}
}
