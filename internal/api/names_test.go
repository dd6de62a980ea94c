package api

import (
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	valid := []string{"a", "fn", "my-fn-2", "0", strings.Repeat("a", 63)}
	invalid := []string{"", "-a", "a-", "A", "a_b", "a.b", "a/b", "..", "a b", strings.Repeat("a", 64), "é"}
	for _, s := range valid {
		if err := ValidateName(s); err != nil {
			t.Errorf("ValidateName(%q) = %v, want nil", s, err)
		}
	}
	for _, s := range invalid {
		if err := ValidateName(s); err == nil {
			t.Errorf("ValidateName(%q) = nil, want an error", s)
		}
	}
}

func TestSplitName(t *testing.T) {
	tests := map[string][2]string{
		"fn":     {"fn", DefaultNamespace},
		"fn.dev": {"fn", "dev"},
		"a.b.c":  {"a.b", "c"},
		"fn.":    {"fn", ""},
	}
	for in, want := range tests {
		if name, ns := SplitName(in); name != want[0] || ns != want[1] {
			t.Errorf("SplitName(%q) = %q, %q; want %q, %q", in, name, ns, want[0], want[1])
		}
	}
}

// FuzzValidateName checks that every accepted name is safe as a path
// element and a containerd identifier.
func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"a", "../x", "a/b", "A", "-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateName(s) != nil {
			return
		}
		if len(s) == 0 || len(s) > 63 || strings.ContainsAny(s, "/.\\ \x00") || s[0] == '-' || s[len(s)-1] == '-' || strings.ToLower(s) != s {
			t.Errorf("ValidateName accepted %q", s)
		}
	})
}
