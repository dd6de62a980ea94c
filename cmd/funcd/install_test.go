package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstallWritesUnitAndKeepsSettings checks that `funcd install` writes
// the repository's unit byte for byte, writes the settings file once, and
// keeps the owner's settings (and repairs an edited unit) when run again,
// as install.sh does on an upgrade.
func TestInstallWritesUnitAndKeepsSettings(t *testing.T) {
	repoUnit, err := os.ReadFile("../../systemd/funcd.service")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	unitDir, defaults := filepath.Join(dir, "units"), filepath.Join(dir, "default", "funcd")
	args := []string{"install", "--unit-dir", unitDir, "--defaults", defaults, "--state-dir", filepath.Join(dir, "state")}

	out, _, err := runCLI(t, map[string]string{}, "", args...)
	if err != nil {
		t.Fatalf("install: %v", err)
	}
	unit := filepath.Join(unitDir, "funcd.service")
	if got, _ := os.ReadFile(unit); !bytes.Equal(got, repoUnit) {
		t.Errorf("installed unit differs from systemd/funcd.service:\n%s", got)
	}
	settings, err := os.ReadFile(defaults)
	if err != nil || !strings.Contains(string(settings), "#FUNCD_LISTEN=:8080\n") {
		t.Fatalf("settings file = %q, %v; want every FUNCD_* commented out", settings, err)
	}
	if !strings.Contains(out, "wrote "+unit) || !strings.Contains(out, "wrote "+defaults) {
		t.Errorf("output %q does not name both files", out)
	}

	// The owner changes a setting and someone edits the unit; an upgrade
	// keeps the first and restores the second.
	mine := []byte("FUNCD_LISTEN=127.0.0.1:9090\n")
	os.WriteFile(defaults, mine, 0o644)
	os.WriteFile(unit, []byte("[Service]\nExecStart=/bin/false\n"), 0o644)
	out, _, err = runCLI(t, map[string]string{}, "", args...)
	if err != nil {
		t.Fatalf("install again: %v", err)
	}
	if got, _ := os.ReadFile(defaults); !bytes.Equal(got, mine) {
		t.Errorf("settings after reinstall = %q, want %q kept", got, mine)
	}
	if got, _ := os.ReadFile(unit); !bytes.Equal(got, repoUnit) {
		t.Errorf("unit after reinstall was not restored")
	}
	if !strings.Contains(out, "kept "+defaults) {
		t.Errorf("output %q does not say the settings were kept", out)
	}

	out, _, err = runCLI(t, map[string]string{}, "", "install", "--print-unit")
	if err != nil || out != string(repoUnit) {
		t.Errorf("install --print-unit = %q, %v; want the unit", out, err)
	}
	if _, _, err := runCLI(t, map[string]string{}, "", "install", "extra"); err == nil {
		t.Error("install with an argument succeeded")
	}
}

// TestUnitVerifies runs systemd-analyze verify on the shipped unit. The
// binary path is pointed at one that exists here; inside the systemd test
// (test/systemd_test.go) the installed unit is verified as it is.
func TestUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	unit, err := os.ReadFile("../../systemd/funcd.service")
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "funcd.service")
	os.WriteFile(path, bytes.ReplaceAll(unit, []byte("/usr/local/bin/funcd"), []byte(self)), 0o644)
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, want := range []string{"Type=notify", "WatchdogSec=", "Restart=always", "EnvironmentFile=-/etc/default/funcd", "LimitNOFILE=", "FileDescriptorStoreMax=", "After=containerd.service network-online.target"} {
		if !bytes.Contains(unit, []byte(want)) {
			t.Errorf("unit lacks %s", want)
		}
	}
}
