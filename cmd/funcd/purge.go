package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/funcd/funcd/cni"
	"github.com/funcd/funcd/internal/config"
	"github.com/funcd/funcd/internal/containerd"
	"github.com/funcd/funcd/internal/instance"
	"github.com/funcd/funcd/internal/secrets"
	"github.com/funcd/funcd/internal/services"
	"github.com/funcd/funcd/provider"
)

const purgeUsage = `Usage: funcd purge [flags of funcd up]

Removes everything one funcd instance made, for good: every function's
tasks, containers and snapshots, their network namespaces and addresses,
the iptables rules and the bridge of its network, and its state directory
(functions, secrets, logs, queued invocations). funcd must be stopped first
(systemctl stop funcd). It takes funcd up's flags and FUNCD_* variables, so
it finds the same state directory, containerd and network; install.sh
--purge runs it with /etc/default/funcd.
`

// runPurge undoes an installation's runtime state (install.sh --purge).
func runPurge(ctx context.Context, args []string, env cliEnv) error {
	if slices.ContainsFunc(args, func(a string) bool { return a == "-h" || a == "-help" || a == "--help" }) {
		fmt.Fprint(env.Stdout, purgeUsage)
		return nil
	}
	cfg, err := config.ParseDaemon(args, env.getenv, env.Stderr)
	if err != nil {
		return err
	}
	log := newLogger(env, cfg.LogLevel)
	if _, err := os.Stat(cfg.StateDir); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(env.Stdout, "no state directory %s: removing only the network %s (%s)\n", cfg.StateDir, cfg.Bridge, cfg.Subnet)
		return purgeNetwork(ctx, cfg, env)
	}
	lock, err := instance.LockStateDir(cfg.StateDir)
	if err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	defer lock.Close()
	id, err := instance.ID(cfg.StateDir)
	if err != nil {
		return err
	}
	stateDir, err := filepath.Abs(cfg.StateDir)
	if err != nil {
		return err
	}
	// Refuses when a live funcd on another state directory uses this
	// bridge or subnet: its network is not ours to remove.
	held, err := instance.Take(instance.HostDir, instance.Claim{ID: id, StateDir: stateDir, PID: os.Getpid(), Bridge: cfg.Bridge, Subnet: cfg.Subnet})
	if err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	defer held.Release()

	ctr, err := containerd.Connect(ctx, containerd.Options{Address: cfg.ContainerdAddress, Log: log.With("component", "containerd")})
	if err != nil {
		return err
	}
	defer ctr.Close()
	network, err := cni.New(ctx, cni.Config{Bridge: cfg.Bridge, Subnet: cfg.Subnet, BinDirs: []string{cfg.CNIBinDir}, Dir: filepath.Join(cfg.StateDir, "cni")})
	if err != nil {
		return err
	}
	prov := provider.New(ctr, network, secrets.New(filepath.Join(cfg.StateDir, "secrets")), provider.Config{
		StateDir: cfg.StateDir, Instance: id, StopGrace: cfg.StopGrace,
	}, log.With("component", "provider"))
	n, nss, err := prov.Purge(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "removed %d replicas (tasks, containers, snapshots, addresses, network namespaces) in %s\n", n, strings.Join(nss, ", "))
	if svcNet, err := cni.NewServices(ctx, cni.Config{Bridge: cfg.Bridge, Subnet: cfg.Subnet, BinDirs: []string{cfg.CNIBinDir}, Dir: filepath.Join(cfg.StateDir, "cni")}); err == nil {
		r := services.New(ctr, svcNet, services.Config{StateDir: cfg.StateDir, Instance: id, StopGrace: cfg.StopGrace, Log: log.With("component", "services")})
		n, err := r.Purge(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "removed %d side services (tasks, containers, addresses, published ports) in %s\n", n, services.Namespace)
		nss = append(nss, services.Namespace)
	}
	if err := purgeImages(ctx, ctr, nss, env); err != nil {
		return err
	}
	if err := purgeNetwork(ctx, cfg, env); err != nil {
		return err
	}
	if err := os.RemoveAll(cfg.StateDir); err != nil {
		return fmt.Errorf("purge: remove the state directory: %w", err)
	}
	fmt.Fprintf(env.Stdout, "removed %s\n", cfg.StateDir)
	return nil
}

// purgeImages removes the images (pulled or imported) of the namespaces
// the instance used, unless containers that are not its own are left in a
// namespace: their images are someone else's too.
func purgeImages(ctx context.Context, ctr *containerd.Client, nss []string, env cliEnv) error {
	for _, ns := range nss {
		left, err := ctr.List(ctx, ns, nil)
		if err != nil {
			return fmt.Errorf("purge: %w", err)
		}
		if len(left) > 0 {
			fmt.Fprintf(env.Stdout, "kept the images in namespace %s: %d containers of another funcd or tool use it\n", ns, len(left))
			continue
		}
		imgs, err := ctr.Images(ctx, ns)
		if err != nil {
			return fmt.Errorf("purge: %w", err)
		}
		for _, img := range imgs {
			if err := ctr.RemoveImage(ctx, ns, img.Name); err != nil && !errors.Is(err, containerd.ErrNotFound) {
				return fmt.Errorf("purge: %w", err)
			}
		}
		if len(imgs) > 0 {
			fmt.Fprintf(env.Stdout, "removed %d images in namespace %s\n", len(imgs), ns)
		}
	}
	return nil
}

func purgeNetwork(ctx context.Context, cfg config.Daemon, env cliEnv) error {
	if err := cni.RemoveHost(ctx, cfg.Bridge, cfg.Subnet); err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	fmt.Fprintf(env.Stdout, "removed the bridge %s and the iptables rules of %s\n", cfg.Bridge, cfg.Subnet)
	return nil
}
