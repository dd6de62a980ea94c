package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/atomicfile"
)

// Namespaces: the default one always exists; others are created through
// the API, kept as STATE/namespaces/NAME.json, and map one to one onto
// containerd namespaces. Functions, secrets and logs live per namespace.

func (p *Provider) namespaceDir() string { return filepath.Join(p.cfg.StateDir, "namespaces") }

// loadNamespaces reads the created namespaces.
func (p *Provider) loadNamespaces() error {
	p.namespaces = map[string]api.FunctionNamespace{}
	entries, err := os.ReadDir(p.namespaceDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load namespaces: %w", err)
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.HasPrefix(name, ".") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(p.namespaceDir(), e.Name()))
		if err != nil {
			return fmt.Errorf("load namespaces: %w", err)
		}
		var n api.FunctionNamespace
		if err := json.Unmarshal(data, &n); err != nil {
			return fmt.Errorf("load namespace %s: %w", name, err)
		}
		p.namespaces[n.Name] = n
	}
	return nil
}

// Namespaces returns every namespace: the default first, then the others
// by name.
func (p *Provider) Namespaces() []string {
	p.mu.RLock()
	seen := map[string]bool{api.DefaultNamespace: true}
	for ns := range p.namespaces {
		seen[ns] = true
	}
	for k := range p.fns {
		seen[k.ns] = true // functions restored from an older state
	}
	p.mu.RUnlock()
	delete(seen, api.DefaultNamespace)
	out := []string{api.DefaultNamespace}
	for ns := range seen {
		out = append(out, ns)
	}
	slices.Sort(out[1:])
	return out
}

// namespaceExists reports whether functions may be deployed in ns.
func (p *Provider) namespaceExists(ns string) bool {
	if ns == api.DefaultNamespace {
		return true
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	_, ok := p.namespaces[ns]
	return ok
}

// Namespace returns one namespace.
func (p *Provider) Namespace(name string) (api.FunctionNamespace, error) {
	if name == api.DefaultNamespace {
		return api.FunctionNamespace{Name: name, Labels: map[string]string{"openfaas": "1"}}, nil
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	n, ok := p.namespaces[name]
	if !ok {
		return n, fmt.Errorf("namespace %s %w", name, ErrNotFound)
	}
	return n, nil
}

// CreateNamespace creates a namespace.
func (p *Provider) CreateNamespace(ctx context.Context, n api.FunctionNamespace) error {
	if err := api.ValidateName(n.Name); err != nil {
		return fmt.Errorf("%w: namespace name: %v", ErrInvalid, err)
	}
	if n.Name == api.ServicesNamespace {
		return fmt.Errorf("%w: namespace name %s is reserved for funcd's side services", ErrInvalid, n.Name)
	}
	unlock := p.locks.lock(namespaceKey(n.Name))
	defer unlock()
	if p.namespaceExists(n.Name) {
		return fmt.Errorf("namespace %s %w", n.Name, ErrExists)
	}
	return p.saveNamespace(n)
}

// UpdateNamespace replaces a namespace's labels and annotations.
func (p *Provider) UpdateNamespace(ctx context.Context, n api.FunctionNamespace) error {
	unlock := p.locks.lock(namespaceKey(n.Name))
	defer unlock()
	if n.Name == api.DefaultNamespace {
		return fmt.Errorf("%w: the default namespace %s cannot be changed", ErrInvalid, n.Name)
	}
	if !p.namespaceExists(n.Name) {
		return fmt.Errorf("namespace %s %w", n.Name, ErrNotFound)
	}
	return p.saveNamespace(n)
}

// DeleteNamespace removes an empty namespace.
func (p *Provider) DeleteNamespace(ctx context.Context, name string) error {
	unlock := p.locks.lock(namespaceKey(name))
	defer unlock()
	if name == api.DefaultNamespace {
		return fmt.Errorf("%w: the default namespace %s cannot be deleted", ErrInvalid, name)
	}
	if !p.namespaceExists(name) {
		return fmt.Errorf("namespace %s %w", name, ErrNotFound)
	}
	if fns := p.List(name); len(fns) > 0 {
		names := make([]string, len(fns))
		for i, f := range fns {
			names[i] = f.Name
		}
		return fmt.Errorf("namespace %s still holds functions (%s): %w", name, strings.Join(names, ", "), ErrExists)
	}
	// Secrets are data the operator put there: removing the namespace
	// must not silently orphan or revive them.
	if secrets, err := p.secrets.List(name); err != nil {
		return fmt.Errorf("delete namespace %s: %w", name, err)
	} else if len(secrets) > 0 {
		return fmt.Errorf("namespace %s still holds secrets (%s): %w", name, strings.Join(secrets, ", "), ErrExists)
	}
	if err := os.Remove(filepath.Join(p.namespaceDir(), name+".json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete namespace %s: %w", name, err)
	}
	p.mu.Lock()
	delete(p.namespaces, name)
	p.mu.Unlock()
	return nil
}

func (p *Provider) saveNamespace(n api.FunctionNamespace) error {
	if err := os.MkdirAll(p.namespaceDir(), 0o700); err != nil {
		return fmt.Errorf("save namespace %s: %w", n.Name, err)
	}
	data, err := json.MarshalIndent(n, "", "  ")
	if err != nil {
		return fmt.Errorf("save namespace %s: %w", n.Name, err)
	}
	if err := atomicfile.Write(filepath.Join(p.namespaceDir(), n.Name+".json"), data, 0o600); err != nil {
		return fmt.Errorf("save namespace %s: %w", n.Name, err)
	}
	p.mu.Lock()
	p.namespaces[n.Name] = n
	p.mu.Unlock()
	return nil
}

// namespaceKey is the operation-lock key of a namespace: an empty function
// name cannot clash with a function's.
func namespaceKey(ns string) key { return key{ns: ns} }
