package stack

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/funcd/funcd/internal/api"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const fullStack = `version: 1.0
provider:
  name: openfaas
  gateway: ${GW:-http://127.0.0.1:8080}
configuration:
  templates:
    - name: golang-middleware
functions:
  zeta:
    lang: golang-middleware
    handler: ./zeta
    image: ghcr.io/acme/zeta:${TAG}
    build_args:
      GO111MODULE: on
  alpha:
    image: ghcr.io/acme/alpha:0.1
    namespace: staging
    fprocess: "cat"
    readonly_root_filesystem: true
    environment:
      A: inline
      B: inline
      PORT: 8080
      DEBUG: true
    environment_file:
      - env1.yml
      - sub/env2.yml
    secrets: [api-key]
    constraints: ["node.platform.os == linux"]
    labels:
      com.openfaas.scale.min: 2
    annotations:
      topic: orders
    limits:
      memory: 128Mi
    requests:
      cpu: 100m
`

func TestParseMapping(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	writeFile(t, dir, "env1.yml", "environment:\n  B: file1\n  C: file1\n")
	writeFile(t, dir, "sub/env2.yml", "environment:\n  C: file2\n")

	s, err := Parse([]byte(fullStack), dir, env(map[string]string{"TAG": "v2"}))
	if err != nil {
		t.Fatalf("Parse() = %v", err)
	}
	if s.Gateway != "http://127.0.0.1:8080" {
		t.Errorf("Gateway = %q, want the ${GW:-...} default", s.Gateway)
	}
	if len(s.Functions) != 2 || s.Functions[0].Name != "alpha" || s.Functions[1].Name != "zeta" {
		t.Fatalf("Functions = %+v, want alpha then zeta", s.Functions)
	}
	got := s.Functions[0].Deployment()
	want := api.FunctionDeployment{
		Service:                "alpha",
		Image:                  "ghcr.io/acme/alpha:0.1",
		Namespace:              "staging",
		EnvProcess:             "cat",
		EnvVars:                map[string]string{"A": "inline", "B": "file1", "C": "file2", "PORT": "8080", "DEBUG": "true"},
		Constraints:            []string{"node.platform.os == linux"},
		Secrets:                []string{"api-key"},
		Labels:                 map[string]string{"com.openfaas.scale.min": "2"},
		Annotations:            map[string]string{"topic": "orders"},
		Limits:                 &api.FunctionResources{Memory: "128Mi"},
		Requests:               &api.FunctionResources{CPU: "100m"},
		ReadOnlyRootFilesystem: true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Deployment() =\n%+v\nwant\n%+v", got, want)
	}

	zeta := s.Functions[1].Deployment()
	b, _ := json.Marshal(zeta)
	if wantJSON := `{"service":"zeta","image":"ghcr.io/acme/zeta:v2"}`; string(b) != wantJSON {
		t.Errorf("Deployment() JSON = %s, want %s (no limits, requests or build keys)", b, wantJSON)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, stack, want string
	}{
		{"wrong provider", "provider: {name: faas}\nfunctions: {a: {image: x}}", `provider.name is "faas"`},
		{"no provider", "functions: {a: {image: x}}", `provider.name is ""`},
		{"bad version", "version: 2.0\nprovider: {name: openfaas}", `version "2.0"`},
		{"no image", "provider: {name: openfaas}\nfunctions: {a: {fprocess: cat}}", "function a: image is required"},
		{"missing env file", "provider: {name: openfaas}\nfunctions: {a: {image: x, environment_file: [nope.yml]}}", "nope.yml"},
		{"unterminated", "provider: {name: openfaas}\nfunctions:\n  a:\n    image: ${X\n", "unterminated"},
		{"bad var", "provider: {name: openfaas}\nfunctions: {a: {image: ${1X}}}", "bad substitution"},
		{"bad yaml", "provider: [", "parse stack"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.stack), t.TempDir(), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) = %v, want error containing %q", tt.stack, err, tt.want)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	vars := env(map[string]string{"SET": "v", "EMPTY": ""})
	tests := []struct{ in, want string }{
		{"${SET}", "v"},
		{"a${SET}b${SET}c", "avbvc"},
		{"${UNSET}", ""},
		{"${UNSET:-def}", "def"},
		{"${EMPTY:-def}", "def"},
		{"${EMPTY-def}", ""},
		{"${UNSET-def}", "def"},
		{"${SET:-def}", "v"},
		{"${UNSET:-http://x:8080/a-b}", "http://x:8080/a-b"},
		{"$SET and $ alone", "$SET and $ alone"},
	}
	for _, tt := range tests {
		if got, err := expand(tt.in, vars); err != nil || got != tt.want {
			t.Errorf("expand(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestLoadRelativeEnvFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "env.yml", "environment:\n  K: from-file\n")
	writeFile(t, dir, "stack.yml", "provider: {name: openfaas}\nfunctions:\n  f:\n    image: x\n    environment_file: [env.yml]\n")
	s, err := Load(filepath.Join(dir, "stack.yml"), nil)
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	if got := s.Functions[0].Environment["K"]; got != "from-file" {
		t.Errorf("Environment[K] = %q, want %q", got, "from-file")
	}
	if _, err := Load(filepath.Join(dir, "missing.yml"), nil); err == nil {
		t.Errorf("Load(missing) = nil error, want error")
	}
}

func TestParseSent(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "env.yml", "environment:\n  SECRET: from-the-host\n")
	t.Setenv("IMAGE_TAG", "from-funcd-env")
	s, err := ParseSent([]byte("provider: {name: openfaas}\nfunctions:\n  a:\n    image: fn:${IMAGE_TAG:-dev}\n"))
	if err != nil {
		t.Fatalf("ParseSent = %v", err)
	}
	if got := s.Functions[0].Image; got != "fn:dev" {
		t.Errorf("ParseSent image = %q, want fn:dev (no variable of funcd's set)", got)
	}
	for _, ef := range []string{filepath.Join(dir, "env.yml"), "env.yml"} {
		_, err := ParseSent([]byte("provider: {name: openfaas}\nfunctions: {a: {image: x, environment_file: [" + ef + "]}}"))
		if err == nil || !strings.Contains(err.Error(), "environment_file is not read") {
			t.Errorf("ParseSent with environment_file %s = %v, want it refused", ef, err)
		}
	}
	_, err = ParseSent([]byte("provider: {name: openfaas}\nfunctions:\n  a:\n    image: [\n"))
	if err == nil || !strings.Contains(err.Error(), "line") {
		t.Errorf("ParseSent of bad YAML = %v, want the line named", err)
	}
}

func FuzzParseSent(f *testing.F) {
	f.Add([]byte(fullStack))
	f.Add([]byte("provider: {name: openfaas}\nfunctions: {a: {image: x, environment_file: [/etc/passwd]}}"))
	f.Add([]byte("provider: {name: openfaas}\nfunctions:\n  a:\n    image: ${X:-y}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSent(data)
		if err != nil {
			return
		}
		for _, fn := range s.Functions {
			if fn.Image == "" {
				t.Errorf("ParseSent(%q) accepted function %s without an image", data, fn.Name)
			}
			_ = fn.Deployment()
		}
	})
}
