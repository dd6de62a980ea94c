package api

import (
	"fmt"
	"strings"
)

// MaxNameLength is the DNS-1123 label limit.
const MaxNameLength = 63

// ValidateName reports whether s is a DNS-1123 label: 1 to 63 lower-case
// letters, digits or '-', starting and ending with a letter or digit. Both
// function names and namespaces obey it, which also keeps them safe to use
// as path elements and containerd identifiers.
func ValidateName(s string) error {
	if s == "" {
		return fmt.Errorf("is required")
	}
	if len(s) > MaxNameLength {
		return fmt.Errorf("(%.20s...) is longer than %d characters", s, MaxNameLength)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if alnum || c == '-' && i > 0 && i < len(s)-1 {
			continue
		}
		return fmt.Errorf("(%s) is invalid, must be a valid DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit", s)
	}
	return nil
}

// SplitName splits "NAME.NAMESPACE" on the last dot, the way every OpenFaaS
// component does. A name without a dot is in the default namespace.
func SplitName(s string) (name, namespace string) {
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, DefaultNamespace
}
