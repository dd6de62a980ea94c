// Package stack reads OpenFaaS stack files (stack.yml) and turns each
// function into the deploy request the gateway expects, following
// shared/reference/openfaas-api.md §5.6. Build-time keys (lang, handler,
// build_args, ...) are ignored: funcd deploys images, it does not build them.
//
// It imports only the standard library, internal/api and gopkg.in/yaml.v3;
// it must not read the environment itself (callers pass a lookup function)
// or talk to a gateway.
package stack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/funcd/funcd/internal/api"
)

// ProviderName is the only accepted provider.name.
const ProviderName = "openfaas"

// Stack is a parsed stack file.
type Stack struct {
	Gateway   string     // provider.gateway; may be empty
	Functions []Function // sorted by name
}

// Function is one entry of the functions map, with environment files
// already merged into Environment.
type Function struct {
	Name                   string
	Image                  string
	Namespace              string
	FProcess               string
	Environment            map[string]string
	Secrets                []string
	Constraints            []string
	Labels                 map[string]string
	Annotations            map[string]string
	Limits                 api.FunctionResources
	Requests               api.FunctionResources
	ReadOnlyRootFilesystem bool
}

// file mirrors the YAML; unknown keys are ignored.
type file struct {
	Version  string `yaml:"version"`
	Provider struct {
		Name    string `yaml:"name"`
		Gateway string `yaml:"gateway"`
	} `yaml:"provider"`
	Functions map[string]fileFunction `yaml:"functions"`
}

type fileFunction struct {
	Image                  string            `yaml:"image"`
	Namespace              string            `yaml:"namespace"`
	FProcess               string            `yaml:"fprocess"`
	Environment            map[string]string `yaml:"environment"`
	EnvironmentFile        []string          `yaml:"environment_file"`
	Secrets                []string          `yaml:"secrets"`
	Constraints            []string          `yaml:"constraints"`
	Labels                 map[string]string `yaml:"labels"`
	Annotations            map[string]string `yaml:"annotations"`
	Limits                 resources         `yaml:"limits"`
	Requests               resources         `yaml:"requests"`
	ReadOnlyRootFilesystem bool              `yaml:"readonly_root_filesystem"`
}

type resources struct {
	Memory string `yaml:"memory"`
	CPU    string `yaml:"cpu"`
}

// Load reads and parses the stack file at path; environment files are
// resolved relative to its directory. lookup resolves ${VAR} references
// (os.LookupEnv in the CLI); nil means no variable is set.
func Load(path string, lookup func(string) (string, bool)) (*Stack, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load stack: %w", err)
	}
	s, err := Parse(data, filepath.Dir(path), lookup)
	if err != nil {
		return nil, fmt.Errorf("load stack %s: %w", path, err)
	}
	return s, nil
}

// Parse parses a stack file. ${VAR} and ${VAR:-default} are expanded with
// lookup before parsing (nil lookup: nothing is set); environment_file
// entries are read relative to dir.
func Parse(data []byte, dir string, lookup func(string) (string, bool)) (*Stack, error) {
	return parse(data, dir, lookup, true)
}

// ParseSent parses a stack file sent over the network (the web UI's
// upload): as Parse with no variable set, so ${VAR:-default} takes its
// default, and with environment_file refused, since it would read files
// of the host funcd runs on.
func ParseSent(data []byte) (*Stack, error) {
	return parse(data, "", nil, false)
}

func parse(data []byte, dir string, lookup func(string) (string, bool), files bool) (*Stack, error) {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	text, err := expand(string(data), lookup)
	if err != nil {
		return nil, fmt.Errorf("parse stack: %w", err)
	}
	var f file
	if err := decode([]byte(text), &f); err != nil {
		return nil, fmt.Errorf("parse stack: %w", err)
	}
	if f.Version != "" && f.Version != "1.0" {
		return nil, fmt.Errorf("parse stack: version %q is not supported, want 1.0", f.Version)
	}
	if f.Provider.Name != ProviderName {
		return nil, fmt.Errorf("parse stack: provider.name is %q, want %q", f.Provider.Name, ProviderName)
	}
	s := &Stack{Gateway: f.Provider.Gateway}
	for _, name := range slices.Sorted(maps.Keys(f.Functions)) {
		if ff := f.Functions[name]; !files && len(ff.EnvironmentFile) > 0 {
			return nil, fmt.Errorf("parse stack: function %s: environment_file is not read from a stack sent over the network: put its variables under environment", name)
		}
		fn, err := newFunction(name, f.Functions[name], dir)
		if err != nil {
			return nil, fmt.Errorf("parse stack: function %s: %w", name, err)
		}
		s.Functions = append(s.Functions, fn)
	}
	return s, nil
}

// newFunction validates one entry and merges its environment: inline
// environment first, then each environment_file in order, later winning.
func newFunction(name string, ff fileFunction, dir string) (Function, error) {
	if ff.Image == "" {
		return Function{}, errors.New("image is required")
	}
	env := maps.Clone(ff.Environment)
	for _, ef := range ff.EnvironmentFile {
		fileEnv, err := readEnvironmentFile(ef, dir)
		if err != nil {
			return Function{}, err
		}
		if env == nil {
			env = map[string]string{}
		}
		maps.Copy(env, fileEnv)
	}
	return Function{
		Name:                   name,
		Image:                  ff.Image,
		Namespace:              ff.Namespace,
		FProcess:               ff.FProcess,
		Environment:            env,
		Secrets:                ff.Secrets,
		Constraints:            ff.Constraints,
		Labels:                 ff.Labels,
		Annotations:            ff.Annotations,
		Limits:                 api.FunctionResources(ff.Limits),
		Requests:               api.FunctionResources(ff.Requests),
		ReadOnlyRootFilesystem: ff.ReadOnlyRootFilesystem,
	}, nil
}

// readEnvironmentFile reads a YAML file with a top-level environment map.
func readEnvironmentFile(name, dir string) (map[string]string, error) {
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read environment_file: %w", err)
	}
	var ef struct {
		Environment map[string]string `yaml:"environment"`
	}
	if err := decode(data, &ef); err != nil {
		return nil, fmt.Errorf("parse environment_file %s: %w", path, err)
	}
	return ef.Environment, nil
}

// decode unmarshals one YAML document; an empty document is not an error.
func decode(data []byte, v any) error {
	err := yaml.NewDecoder(bytes.NewReader(data)).Decode(v)
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// Deployment is the deploy request for f. Limits and requests are sent
// only when they set memory or cpu.
func (f Function) Deployment() api.FunctionDeployment {
	return api.FunctionDeployment{
		Service:                f.Name,
		Image:                  f.Image,
		Namespace:              f.Namespace,
		EnvProcess:             f.FProcess,
		EnvVars:                maps.Clone(f.Environment),
		Constraints:            slices.Clone(f.Constraints),
		Secrets:                slices.Clone(f.Secrets),
		Labels:                 maps.Clone(f.Labels),
		Annotations:            maps.Clone(f.Annotations),
		Limits:                 nonEmpty(f.Limits),
		Requests:               nonEmpty(f.Requests),
		ReadOnlyRootFilesystem: f.ReadOnlyRootFilesystem,
	}
}

func nonEmpty(r api.FunctionResources) *api.FunctionResources {
	if r == (api.FunctionResources{}) {
		return nil
	}
	return &r
}
