package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/funcd/funcd"
	"github.com/funcd/funcd/internal/atomicfile"
	"github.com/funcd/funcd/internal/config"
	"github.com/funcd/funcd/systemd"
)

// cliInstall writes funcd's systemd unit, the shipped side services
// (docker-compose.yaml, prometheus.yml) into the state directory unless
// the owner edited them and, when there is none yet, its settings file.
// install.sh runs it; it starts nothing and leaves systemctl to the
// caller, so that it also works where systemd is not running (a container
// being prepared, a test).
func cliInstall(ctx context.Context, env cliEnv, args []string) error {
	flags := cliFlagSet("install", "[flags]", "Writes funcd's systemd unit, exactly as built into this binary, a settings\nfile with every FUNCD_* variable commented out (only when it does not exist:\nyour settings survive upgrades), and STATE/docker-compose.yaml and prometheus.yml\n(when absent or as funcd wrote them: your edits survive upgrades).\nThen: systemctl daemon-reload && systemctl enable --now funcd")
	unitDir := flags.String("unit-dir", "/etc/systemd/system", "directory the unit "+systemd.UnitName+" is written to")
	defaults := flags.String("defaults", "/etc/default/funcd", "settings file (EnvironmentFile= of the unit)")
	stateDir := flags.String("state-dir", "", "state directory for docker-compose.yaml and prometheus.yml\n(default: FUNCD_STATE_DIR of the settings file, else "+config.DefaultStateDir+")")
	printUnit := flags.Bool("print-unit", false, "print the unit to stdout and write nothing")
	pos, err := cliParse(flags, env, args)
	if err != nil {
		return err
	}
	if err := cliWantArgs(flags, pos, 0, 0, ""); err != nil {
		return err
	}
	if *printUnit {
		_, err := env.Stdout.Write(systemd.Unit)
		return err
	}
	unit := filepath.Join(*unitDir, systemd.UnitName)
	if err := os.MkdirAll(*unitDir, 0o755); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	if err := atomicfile.WriteIfChanged(unit, systemd.Unit, 0o644); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	fmt.Fprintf(env.Stdout, "wrote %s\n", unit)

	if *stateDir == "" {
		if *stateDir, err = stateDirFrom(*defaults); err != nil {
			return fmt.Errorf("install: %w", err)
		}
	}
	if err := installShipped(env.Stdout, *stateDir, funcd.Shipped); err != nil {
		return fmt.Errorf("install: %w", err)
	}

	switch _, err := os.Stat(*defaults); {
	case err == nil:
		fmt.Fprintf(env.Stdout, "kept %s (your settings)\n", *defaults)
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("install: %w", err)
	}
	var b bytes.Buffer
	if err := config.WriteEnvironmentFile(&b); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(*defaults), 0o755); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	if err := atomicfile.Write(*defaults, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	fmt.Fprintf(env.Stdout, "wrote %s\n", *defaults)
	return nil
}
