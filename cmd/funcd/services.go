package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"

	"github.com/funcd/funcd/cni"
	"github.com/funcd/funcd/internal/compose"
	"github.com/funcd/funcd/internal/config"
	"github.com/funcd/funcd/internal/containerd"
	"github.com/funcd/funcd/internal/gateway"
	"github.com/funcd/funcd/internal/netfiles"
	"github.com/funcd/funcd/internal/services"
)

// startServices loads the compose file (an invalid one stops funcd up),
// adopts or starts its side services, and reloads the file at each signal
// on hup (SIGHUP) until ctx ends. stop ends the reloads and the
// supervision; the services keep running, as functions do.
func startServices(ctx context.Context, cfg config.Daemon, ctr *containerd.Client, files netfiles.Files, gateway netip.Addr, id string, hup <-chan os.Signal, log *slog.Logger) (*services.Runner, func(), error) {
	log = log.With("component", "services")
	warned := map[compose.Warning]bool{}
	project, err := loadCompose(ctx, cfg.Compose, warned, log)
	if err != nil {
		return nil, nil, err
	}
	netCfg := cni.Config{Bridge: cfg.Bridge, Subnet: cfg.Subnet, BinDirs: []string{cfg.CNIBinDir}, Dir: filepath.Join(cfg.StateDir, "cni")}
	network, err := cni.NewServices(ctx, netCfg)
	if err != nil {
		if project != nil && len(project.Services) > 0 {
			return nil, nil, err
		}
		log.Debug("no side services possible", "err", err)
		return nil, func() {}, nil
	}
	r := services.New(ctr, network, services.Config{
		StateDir:  cfg.StateDir,
		Instance:  id,
		Gateway:   gateway,
		Hosts:     files.Hosts,
		Mounts:    []services.BindMount{{Source: files.ResolvConf, Destination: "/etc/resolv.conf"}, {Source: files.Hosts, Destination: "/etc/hosts"}},
		StopGrace: cfg.StopGrace,
		Log:       log,
	})
	if err := r.Start(ctx, project); err != nil {
		return nil, nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-rctx.Done():
				return
			case <-hup:
			}
			reload(rctx, cfg.Compose, r, warned, log)
		}
	}()
	return r, func() {
		cancel()
		<-done
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := r.Shutdown(sctx); err != nil {
			log.Error("shutdown", "err", err)
		}
	}, nil
}

// reload applies the compose file again (SIGHUP, systemctl reload): an
// invalid file is logged and changes nothing.
func reload(ctx context.Context, path string, r *services.Runner, warned map[compose.Warning]bool, log *slog.Logger) {
	_ = notify(fmt.Sprintf("%s\nMONOTONIC_USEC=%d\nSTATUS=reloading %s", daemon.SdNotifyReloading, monotonicUsec(), path))
	defer func() { _ = notify(daemon.SdNotifyReady + "\nSTATUS=serving") }()
	log.Info("reloading the compose file", "file", path)
	project, err := loadCompose(ctx, path, warned, log)
	if err != nil {
		log.Error("compose file not reloaded; the side services stay as they are", "err", err)
		return
	}
	r.Apply(ctx, project)
}

// loadCompose reads the compose file, logging each warning once for
// funcd's life (warned remembers them across reloads); no file is no
// services.
func loadCompose(ctx context.Context, path string, warned map[compose.Warning]bool, log *slog.Logger) (*compose.Project, error) {
	if path == "" {
		return nil, nil
	}
	p, err := compose.Load(ctx, path, os.Environ())
	if err != nil {
		return nil, err
	}
	for _, w := range p.Warnings {
		if warned[w] {
			continue
		}
		warned[w] = true
		log.Warn("compose key not supported; ignored", "key", w.Key, "service", w.Service, "file", p.File, "line", w.Line)
	}
	return p, nil
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, which systemd wants
// with RELOADING=1.
func monotonicUsec() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano() / 1000
}

// servicesOrNil keeps a nil runner a nil interface: no routes then.
func servicesOrNil(r *services.Runner) gateway.Services {
	if r == nil {
		return nil
	}
	return r
}
