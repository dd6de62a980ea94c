package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/funcd/funcd"
)

// TestInstallShipped checks the three cases of an upgrade: a fresh state
// directory gets the files, a file exactly as an older funcd wrote it is
// replaced by the new version, and a file the owner edited is kept.
func TestInstallShipped(t *testing.T) {
	state := t.TempDir()
	v1 := []funcd.File{{Name: "docker-compose.yaml", Data: []byte("services: {} # v1\n")}, {Name: "prometheus.yml", Data: []byte("# v1\n")}}
	v2 := []funcd.File{{Name: "docker-compose.yaml", Data: []byte("services: {} # v2\n")}, {Name: "prometheus.yml", Data: []byte("# v2\n")}}
	read := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(state, name))
		return string(b)
	}

	var out bytes.Buffer
	if err := installShipped(&out, state, v1); err != nil {
		t.Fatal(err)
	}
	if got := read("docker-compose.yaml"); got != "services: {} # v1\n" {
		t.Errorf("fresh install wrote %q, want v1", got)
	}
	if !strings.Contains(out.String(), "wrote "+filepath.Join(state, "prometheus.yml")) {
		t.Errorf("output %q does not name the files written", out.String())
	}

	// Running the same version again changes nothing.
	out.Reset()
	if err := installShipped(&out, state, v1); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "kept "+filepath.Join(state, "docker-compose.yaml")+" (current)") {
		t.Errorf("reinstall output %q, want kept (current)", out.String())
	}

	// The owner edits prometheus.yml; the upgrade to v2 replaces the
	// untouched compose file and keeps the edit.
	mine := "# mine\n"
	os.WriteFile(filepath.Join(state, "prometheus.yml"), []byte(mine), 0o644)
	out.Reset()
	if err := installShipped(&out, state, v2); err != nil {
		t.Fatal(err)
	}
	if got := read("docker-compose.yaml"); got != "services: {} # v2\n" {
		t.Errorf("upgrade left docker-compose.yaml %q, want v2", got)
	}
	if got := read("prometheus.yml"); got != mine {
		t.Errorf("upgrade replaced the edited prometheus.yml with %q", got)
	}
	if got := read(".shipped/prometheus.yml"); got != "# v2\n" {
		t.Errorf(".shipped/prometheus.yml = %q, want v2 for the owner to compare", got)
	}
	if !strings.Contains(out.String(), "kept "+filepath.Join(state, "prometheus.yml")+" (edited") {
		t.Errorf("upgrade output %q does not say the edited file was kept", out.String())
	}

	// A later upgrade still recognises v1 and v2 as funcd's own.
	os.WriteFile(filepath.Join(state, "docker-compose.yaml"), []byte("services: {} # v1\n"), 0o644)
	v3 := []funcd.File{{Name: "docker-compose.yaml", Data: []byte("services: {} # v3\n")}}
	if err := installShipped(&out, state, v3); err != nil {
		t.Fatal(err)
	}
	if got := read("docker-compose.yaml"); got != "services: {} # v3\n" {
		t.Errorf("a v1 file was not upgraded to v3: %q", got)
	}
}

// TestInstallFindsStateDir checks funcd install writes the shipped files
// where funcd up will look: FUNCD_STATE_DIR of the settings file.
func TestInstallFindsStateDir(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "srv state")
	defaults := filepath.Join(dir, "funcd.env")
	os.WriteFile(defaults, []byte("#FUNCD_STATE_DIR=/var/lib/funcd\nFUNCD_STATE_DIR=/elsewhere\nFUNCD_STATE_DIR=\""+state+"\"\n"), 0o644)
	if _, _, err := runCLI(t, map[string]string{}, "", "install", "--unit-dir", filepath.Join(dir, "units"), "--defaults", defaults); err != nil {
		t.Fatalf("install: %v", err)
	}
	for _, f := range funcd.Shipped {
		if got, err := os.ReadFile(filepath.Join(state, f.Name)); err != nil || !bytes.Equal(got, f.Data) {
			t.Errorf("%s in the state dir = %.40q, %v; want the shipped file", f.Name, got, err)
		}
	}
	for _, tt := range []struct{ content, want string }{
		{"", "/var/lib/funcd"},
		{"# FUNCD_STATE_DIR=/x\n", "/var/lib/funcd"},
		{"  FUNCD_STATE_DIR='/srv/f'\n", "/srv/f"},
	} {
		os.WriteFile(defaults, []byte(tt.content), 0o644)
		if got, err := stateDirFrom(defaults); err != nil || got != tt.want {
			t.Errorf("stateDirFrom(%q) = %q, %v; want %q", tt.content, got, err, tt.want)
		}
	}
	if got, err := stateDirFrom(filepath.Join(dir, "missing")); err != nil || got != "/var/lib/funcd" {
		t.Errorf("stateDirFrom(missing file) = %q, %v; want the default", got, err)
	}
}
