// Package secrets keeps function secrets as files of mode 0600 in
// directories of mode 0700, one directory per namespace, and resolves a
// secret name to the file that is bind-mounted read-only into functions at
// /var/openfaas/secrets/NAME.
//
// Every name is validated before it touches the filesystem, so no name can
// reach outside the secrets directory. It imports only the standard library
// and internal/api.
package secrets

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/funcd/funcd/internal/api"
)

// ErrNotFound means the secret does not exist.
var ErrNotFound = errors.New("secret not found")

// Store is a directory of secrets.
type Store struct {
	dir string
}

// New returns a store rooted at dir.
func New(dir string) *Store { return &Store{dir: dir} }

// Path returns the file holding secret name in namespace ns.
func (s *Store) Path(ns, name string) (string, error) {
	if err := api.ValidateName(ns); err != nil {
		return "", fmt.Errorf("namespace %v", err)
	}
	if err := ValidateName(name); err != nil {
		return "", err
	}
	path := filepath.Join(s.dir, ns, name)
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("secret %s in %s: %w", name, ns, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("secret %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("secret %s in %s: %w", name, ns, ErrNotFound)
	}
	return path, nil
}

// ValidateName checks a secret name: a DNS-1123 subdomain (lower-case
// letters, digits, '-' and '.', at most 253 characters, starting and ending
// with a letter or digit), which faas-cli enforces too. It rules out "/",
// "..", and the empty name.
func ValidateName(name string) error {
	if name == "" {
		return errors.New("secret name is required")
	}
	if len(name) > 253 {
		return fmt.Errorf("secret name is longer than 253 characters")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		edge := i == 0 || i == len(name)-1
		if alnum || !edge && (c == '-' || c == '.') {
			continue
		}
		return fmt.Errorf("secret name %q is invalid: use lower-case letters, digits, '-' and '.', starting and ending with a letter or digit", name)
	}
	for i := 1; i < len(name); i++ {
		if name[i] == '.' && name[i-1] == '.' {
			return fmt.Errorf("secret name %q is invalid: it contains '..'", name)
		}
	}
	return nil
}
