// Package secrets keeps function secrets as files of mode 0600 in
// directories of mode 0700, one directory per namespace
// (ROOT/namespaces/NS/NAME), and builds the per-replica "views" that are
// mounted read-only into functions at /var/openfaas/secrets (see view.go).
//
// Every name is validated before it touches the filesystem, so no name can
// reach outside the secrets directory. It imports only the standard library
// and internal/api and internal/atomicfile.
package secrets

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/atomicfile"
)

// Errors callers translate (the gateway to 404, 409 and 400).
var (
	ErrNotFound = errors.New("secret not found")
	ErrExists   = errors.New("secret already exists")
	ErrInvalid  = errors.New("invalid secret")
)

// Store is a directory of secrets and of the views built from them.
type Store struct {
	root string

	// mu serialises writes and view changes, so a view never copies a
	// secret while it is being replaced and an update reaches every view.
	mu sync.Mutex
}

// New returns a store rooted at root: secrets live in root/namespaces, views
// in root/views.
func New(root string) *Store { return &Store{root: root} }

// secretPath validates ns and name and returns where the secret lives.
func (s *Store) secretPath(ns, name string) (string, error) {
	if err := api.ValidateName(ns); err != nil {
		return "", fmt.Errorf("%w: namespace %v", ErrInvalid, err)
	}
	if err := ValidateName(name); err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return filepath.Join(s.root, "namespaces", ns, name), nil
}

// Path returns the file holding secret name in namespace ns.
func (s *Store) Path(ns, name string) (string, error) {
	path, err := s.secretPath(ns, name)
	if err != nil {
		return "", err
	}
	if err := isSecret(path); err != nil {
		return "", fmt.Errorf("secret %s in %s: %w", name, ns, err)
	}
	return path, nil
}

// isSecret reports nil when path is a regular file, ErrNotFound when there
// is nothing, and an error when something else (a symlink planted in the
// store, a directory) is there: it is never followed nor replaced.
func isSecret(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return ErrNotFound
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", path)
	}
	return nil
}

// List returns the names of the secrets in ns, sorted; none when the
// namespace has no directory yet.
func (s *Store) List(ns string) ([]string, error) {
	if err := api.ValidateName(ns); err != nil {
		return nil, fmt.Errorf("%w: namespace %v", ErrInvalid, err)
	}
	entries, err := os.ReadDir(filepath.Join(s.root, "namespaces", ns))
	if errors.Is(err, os.ErrNotExist) {
		return []string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list secrets in %s: %w", ns, err)
	}
	names := []string{}
	for _, e := range entries {
		// Temporary files of atomic writes start with '.', which no valid
		// name does.
		if e.Type().IsRegular() && ValidateName(e.Name()) == nil {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

// Create stores a new secret; ErrExists if it is already there.
func (s *Store) Create(ns, name string, value []byte) error {
	path, err := s.secretPath(ns, name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch err := isSecret(path); {
	case err == nil:
		return fmt.Errorf("secret %s in %s: %w; update it with PUT", name, ns, ErrExists)
	case !errors.Is(err, ErrNotFound):
		return fmt.Errorf("create secret %s: %w", name, err)
	}
	if err := mkdirPrivate(filepath.Dir(path)); err != nil {
		return fmt.Errorf("create secret %s: %w", name, err)
	}
	if err := atomicfile.Write(path, value, 0o600); err != nil {
		return fmt.Errorf("create secret %s: %w", name, err)
	}
	return nil
}

// Update replaces a secret's value and refreshes every view that holds it,
// so running functions read the new value; ErrNotFound if it is missing.
func (s *Store) Update(ns, name string, value []byte) error {
	path, err := s.secretPath(ns, name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := isSecret(path); err != nil {
		return fmt.Errorf("secret %s in %s: %w", name, ns, err)
	}
	if err := atomicfile.Write(path, value, 0o600); err != nil {
		return fmt.Errorf("update secret %s: %w", name, err)
	}
	if err := s.refreshViews(ns, name, value); err != nil {
		return fmt.Errorf("update secret %s: %w", name, err)
	}
	return nil
}

// Remove deletes a secret; ErrNotFound if it is missing. Views that hold a
// copy keep it until they are removed.
func (s *Store) Remove(ns, name string) error {
	path, err := s.secretPath(ns, name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := isSecret(path); err != nil {
		return fmt.Errorf("secret %s in %s: %w", name, ns, err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove secret %s: %w", name, err)
	}
	return nil
}

// mkdirPrivate creates dir and its parents with mode 0700, and makes sure
// dir itself has that mode.
func mkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
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
