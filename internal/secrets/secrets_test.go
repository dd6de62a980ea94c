package secrets

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	valid := []string{"a", "db-pass", "api.key", "x1", strings.Repeat("a", 253)}
	invalid := []string{"", "../x", "a/b", "..", ".a", "a.", "-a", "A", "a..b", "a b", strings.Repeat("a", 254), "a\x00"}
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

func TestPath(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "namespaces")
	os.MkdirAll(filepath.Join(dir, "openfaas-fn"), 0o700)
	os.WriteFile(filepath.Join(dir, "openfaas-fn", "db"), []byte("x"), 0o600)
	os.WriteFile(filepath.Join(dir, "outside"), []byte("x"), 0o600)
	s := New(root)
	if p, err := s.Path("openfaas-fn", "db"); err != nil || p != filepath.Join(dir, "openfaas-fn", "db") {
		t.Errorf("Path(db) = %q, %v", p, err)
	}
	if _, err := s.Path("openfaas-fn", "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Path(nope) = %v, want ErrNotFound", err)
	}
	for _, name := range []string{"../outside", "..", ""} {
		if p, err := s.Path("openfaas-fn", name); err == nil {
			t.Errorf("Path(%q) = %q, want a refusal", name, p)
		}
	}
	if p, err := s.Path("..", "outside"); err == nil {
		t.Errorf("Path(ns ..) = %q, want a refusal", p)
	}
}

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"a", "../x", "a/b", "a..b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if ValidateName(name) != nil {
			return
		}
		if strings.ContainsAny(name, "/\x00") || strings.Contains(name, "..") || filepath.Clean(name) != name || filepath.IsAbs(name) {
			t.Errorf("ValidateName accepted %q, which can escape the secrets directory", name)
		}
	})
}
