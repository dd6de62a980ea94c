package provider

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/atomicfile"
)

// record is the desired state of one function, as persisted: what was
// deployed, how many replicas are wanted, and which revision of the spec
// the running replicas must carry.
type record struct {
	Spec      api.FunctionDeployment `json:"spec"`
	Image     string                 `json:"image"` // Spec.Image as containerd stores it
	Replicas  uint64                 `json:"replicas"`
	Revision  uint64                 `json:"revision"`
	CreatedAt time.Time              `json:"createdAt"`
}

// store keeps one JSON file per function under dir/NAMESPACE/NAME.json,
// each written atomically.
type store struct {
	dir string
}

func (s store) path(ns, name string) string {
	return filepath.Join(s.dir, ns, name+".json")
}

func (s store) save(r record) error {
	if err := os.MkdirAll(filepath.Join(s.dir, r.Spec.Namespace), 0o700); err != nil {
		return fmt.Errorf("save %s: %w", r.Spec.Service, err)
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("save %s: %w", r.Spec.Service, err)
	}
	return atomicfile.Write(s.path(r.Spec.Namespace, r.Spec.Service), data, 0o600)
}

func (s store) remove(ns, name string) error {
	if err := os.Remove(s.path(ns, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove state of %s.%s: %w", name, ns, err)
	}
	return nil
}

// load reads every record. A file that cannot be parsed is reported, not
// skipped silently, because it is a function the operator deployed.
func (s store) load() ([]record, error) {
	nsDirs, err := os.ReadDir(s.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load state: %w", err)
	}
	var recs []record
	for _, nsDir := range nsDirs {
		if !nsDir.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(s.dir, nsDir.Name()))
		if err != nil {
			return nil, fmt.Errorf("load state: %w", err)
		}
		for _, f := range files {
			if f.IsDir() || !strings.HasSuffix(f.Name(), ".json") || strings.HasPrefix(f.Name(), ".") {
				continue
			}
			path := filepath.Join(s.dir, nsDir.Name(), f.Name())
			data, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("load state: %w", err)
			}
			var r record
			if err := json.Unmarshal(data, &r); err != nil {
				return nil, fmt.Errorf("load state %s: %w", path, err)
			}
			recs = append(recs, r)
		}
	}
	return recs, nil
}
