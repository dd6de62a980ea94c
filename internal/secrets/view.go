package secrets

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/funcd/funcd/internal/api"
)

// A view is what one replica mounts read-only at /var/openfaas/secrets:
//
//	ROOT/views/NS/ID/
//	├── ..2026_01_02_15_04_05.123456/   copies of the replica's secrets
//	├── ..data -> ..2026_01_02_15_04_05.123456
//	└── NAME -> ..data/NAME            one relative symlink per secret
//
// (the layout Kubernetes uses for projected volumes). The directory is
// mounted rather than each file because a bind mount of a file keeps the
// old inode when the file is replaced. Update writes a new timestamped
// directory, swaps ..data to it with one rename, then removes the old one,
// so a function reading NAME sees the old value or the new one, never a mix.
//
// Views live under ROOT (mode 0700), so the host's other users cannot reach
// them; inside, files are 0644 and directories 0755 so a function running
// as a non-root user can read its secrets, as with faasd.
const (
	dataLink   = "..data"
	viewFile   = 0o644
	viewDir    = 0o755
	dataPrefix = ".."
)

// viewPath validates ns and id and returns the view's directory.
func (s *Store) viewPath(ns, id string) (string, error) {
	if err := api.ValidateName(ns); err != nil {
		return "", fmt.Errorf("%w: namespace %v", ErrInvalid, err)
	}
	if err := ValidateName(id); err != nil {
		return "", fmt.Errorf("%w: view id: %v", ErrInvalid, err)
	}
	return filepath.Join(s.root, "views", ns, id), nil
}

// View builds (or rebuilds) view id in ns holding copies of the named
// secrets and returns its directory, to be mounted read-only at
// /var/openfaas/secrets. A missing secret is ErrNotFound and leaves no view.
func (s *Store) View(ns, id string, names []string) (_ string, err error) {
	dir, err := s.viewPath(ns, id)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	values := make(map[string][]byte, len(names))
	for _, name := range names {
		path, err := s.Path(ns, name)
		if err != nil {
			return "", err
		}
		if values[name], err = os.ReadFile(path); err != nil {
			return "", fmt.Errorf("read secret %s: %w", name, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("create secrets view %s: %w", id, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	if err := mkdirPrivate(filepath.Dir(dir)); err != nil {
		return "", fmt.Errorf("create secrets view %s: %w", id, err)
	}
	if err := os.Mkdir(dir, viewDir); err != nil {
		return "", fmt.Errorf("create secrets view %s: %w", id, err)
	}
	if err := os.Chmod(dir, viewDir); err != nil { // umask
		return "", fmt.Errorf("create secrets view %s: %w", id, err)
	}
	if err := swapData(dir, values); err != nil {
		return "", fmt.Errorf("create secrets view %s: %w", id, err)
	}
	for name := range values {
		if err := os.Symlink(filepath.Join(dataLink, name), filepath.Join(dir, name)); err != nil {
			return "", fmt.Errorf("create secrets view %s: %w", id, err)
		}
	}
	return dir, nil
}

// RemoveView removes view id in ns; a missing view is not an error.
func (s *Store) RemoveView(ns, id string) error {
	dir, err := s.viewPath(ns, id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove secrets view %s: %w", id, err)
	}
	return nil
}

// refreshViews gives every view in ns that holds secret name the new
// value. The caller holds s.mu.
func (s *Store) refreshViews(ns, name string, value []byte) error {
	views, err := os.ReadDir(filepath.Join(s.root, "views", ns))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, v := range views {
		if !v.IsDir() || ValidateName(v.Name()) != nil {
			continue
		}
		dir := filepath.Join(s.root, "views", ns, v.Name())
		if fi, err := os.Lstat(filepath.Join(dir, name)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			continue // this view does not hold the secret
		}
		if err := refreshView(dir, name, value); err != nil {
			errs = append(errs, fmt.Errorf("refresh secrets view %s: %w", v.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// refreshView swaps view dir's data to a copy of the current one with
// secret name replaced by value.
func refreshView(dir, name string, value []byte) error {
	cur := filepath.Join(dir, dataLink)
	entries, err := os.ReadDir(cur)
	if err != nil {
		return err
	}
	values := make(map[string][]byte, len(entries))
	for _, e := range entries {
		if values[e.Name()], err = os.ReadFile(filepath.Join(cur, e.Name())); err != nil {
			return err
		}
	}
	values[name] = value
	return swapData(dir, values)
}

// swapData writes values to a new timestamped directory in view dir, points
// ..data at it with one rename, and removes the directory it pointed to.
func swapData(dir string, values map[string][]byte) error {
	old, _ := os.Readlink(filepath.Join(dir, dataLink)) // none in a new view
	data, err := os.MkdirTemp(dir, dataPrefix+time.Now().UTC().Format("2006_01_02_15_04_05."))
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(data)
		}
	}()
	for name, v := range values {
		if err := writeSynced(filepath.Join(data, name), v); err != nil {
			return err
		}
	}
	if err := os.Chmod(data, viewDir); err != nil {
		return err
	}
	syncDir(data)
	tmp := filepath.Join(dir, dataLink+".tmp")
	_ = os.Remove(tmp) // left by a crash
	if err := os.Symlink(filepath.Base(data), tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, dataLink)); err != nil {
		os.Remove(tmp)
		return err
	}
	ok = true
	syncDir(dir)
	if old != "" && filepath.Base(old) == old && old != filepath.Base(data) {
		if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
			return err
		}
	}
	return nil
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, viewFile)
	if err != nil {
		return err
	}
	if err := f.Chmod(viewFile); err != nil { // umask
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort
		d.Close()
	}
}
