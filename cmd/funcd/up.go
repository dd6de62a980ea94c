package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/funcd/funcd/cni"
	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/basicauth"
	"github.com/funcd/funcd/internal/config"
	"github.com/funcd/funcd/internal/containerd"
	"github.com/funcd/funcd/internal/egress"
	"github.com/funcd/funcd/internal/gateway"
	"github.com/funcd/funcd/internal/instance"
	"github.com/funcd/funcd/internal/logs"
	"github.com/funcd/funcd/internal/metrics"
	"github.com/funcd/funcd/internal/netfiles"
	"github.com/funcd/funcd/internal/queue"
	"github.com/funcd/funcd/internal/secrets"
	"github.com/funcd/funcd/internal/trigger"
	"github.com/funcd/funcd/internal/ui"
	"github.com/funcd/funcd/provider"
	"github.com/funcd/funcd/proxy"
)

// runUp runs the daemon until ctx ends. Everything is wired here, in one
// place; shutdown runs in reverse order within a deadline.
func runUp(ctx context.Context, args []string, env cliEnv) error {
	cfg, err := config.ParseDaemon(args, env.getenv, env.Stderr)
	if err != nil {
		return err
	}
	log := newLogger(env, cfg.LogLevel)
	captureLogrus(log)
	tctx, stopTrim := context.WithCancel(ctx)
	trimDone := make(chan struct{})
	go func() { defer close(trimDone); trimMemory(tctx, cfg.GoMemoryLimit, log) }()
	defer func() { stopTrim(); <-trimDone }()
	// SIGHUP reloads the compose file (startServices); caught from here
	// on, so one sent while funcd starts does not end it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	// systemd's watchdog: alive while starting, then while the API answers
	// and the supervisor is not stuck (selfCheck, set once serving).
	var health atomic.Pointer[func(context.Context) error]
	if interval, err := daemon.SdWatchdogEnabled(false); err == nil && interval > 0 {
		wctx, stopWatchdog := context.WithCancel(context.Background())
		defer stopWatchdog()
		go watchdog(wctx, interval, &health, notify, log)
	}
	id, disown, err := own(cfg, log)
	if err != nil {
		return err
	}
	defer disown()
	creds, err := basicauth.NewStore(filepath.Join(cfg.StateDir, "secrets"), log.With("component", "auth"))
	if err != nil {
		return err
	}
	sessions := ui.NewSessions(creds)

	// One collector reads every task's output into its log file; tasks
	// started by an earlier funcd are read on from where their FIFOs are.
	collector := logs.NewCollector(cfg.LogMaxSize, log.With("component", "logs"))
	defer collector.Close()
	if err := collector.Adopt(filepath.Join(cfg.StateDir, "logs")); err != nil {
		return err
	}

	ctr, err := containerd.Connect(ctx, containerd.Options{
		Address: cfg.ContainerdAddress,
		Registries: containerd.Registries{
			Insecure:     cfg.InsecureRegistries,
			DockerConfig: filepath.Join(cfg.StateDir, "config.json"),
		},
		Logs: collector,
		Log:  log.With("component", "containerd"),
	})
	if err != nil {
		return err
	}
	defer ctr.Close()
	if v, err := ctr.Version(ctx); err == nil {
		log.Info("connected to containerd", "address", cfg.ContainerdAddress, "version", v)
	}

	network, err := cni.New(ctx, cni.Config{
		Bridge:  cfg.Bridge,
		Subnet:  cfg.Subnet,
		BinDirs: []string{cfg.CNIBinDir},
		Dir:     filepath.Join(cfg.StateDir, "cni"),
	})
	if err != nil {
		return err
	}
	files, err := netfiles.Write(filepath.Join(cfg.StateDir, "etc"), netfiles.Options{
		Gateway:     network.Gateway(),
		Nameservers: cfg.Nameservers,
		Log:         log,
	})
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg)

	secretStore := secrets.New(filepath.Join(cfg.StateDir, "secrets"))
	prov := provider.New(ctr, network, secretStore, provider.Config{
		StateDir:       cfg.StateDir,
		Instance:       id,
		ReadyTimeout:   cfg.ReadyTimeout,
		StopGrace:      cfg.StopGrace,
		MemoryBudget:   cfg.MemoryBudget,
		ScaleDownDelay: cfg.ScaleDownDelay,
		PidsLimit:      cfg.PidsLimit,
		MaxReplicas:    cfg.MaxReplicas,
		PullPolicy:     cfg.PullPolicy,
		Events:         m,
		Mounts: []provider.Mount{
			{Source: files.ResolvConf, Destination: "/etc/resolv.conf"},
			{Source: files.Hosts, Destination: "/etc/hosts"},
		},
	}, log.With("component", "provider"))
	reg.MustRegister(metrics.NewServiceCount(prov), metrics.NewCosts(prov))
	if err := prov.Restore(ctx); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := prov.Shutdown(sctx); err != nil {
			log.Error("shutdown", "err", err)
		}
	}()

	// Side services (docker-compose.yaml) come up in the background; an
	// invalid file stops funcd here, before it serves.
	svcs, stopServices, err := startServices(ctx, cfg, ctr, files, network.Gateway(), id, hup, log)
	if err != nil {
		return err
	}
	defer stopServices()

	built := thisBuild()
	release := api.VersionInfo{Release: built.Version, SHA: built.Commit}
	servedBy := "funcd/" + built.Version
	invoke := proxy.New(resolver{prov}, proxy.Config{Timeout: cfg.Timeout, ServedBy: servedBy, Metrics: m}, log.With("component", "proxy"))
	defer invoke.Close()

	q, err := startQueue(ctx, cfg, invoke, prov, reg, log)
	if err != nil {
		return err
	}
	defer func() {
		// Queued invocations still running get a moment to finish; the
		// rest run again after the next start.
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = q.Close(sctx)
	}()
	triggers, err := trigger.New(trigger.Config{Conn: q.Events(), Queue: q, Functions: prov, Registerer: reg,
		Log: log.With("component", "trigger")})
	if err != nil {
		return err
	}
	tctx, stopTriggers := context.WithCancel(context.Background())
	triggersDone := make(chan struct{})
	go func() {
		defer close(triggersDone)
		_ = triggers.Run(tctx)
	}()
	defer func() { // before the queue closes: events stop, then the queue
		stopTriggers()
		<-triggersDone
	}()

	gwCfg := gateway.Config{Auth: sessions.Require, Services: servicesOrNil(svcs), Version: release, Secrets: secretStore, SecretUsers: prov,
		Logs: logs.NewStore(filepath.Join(cfg.StateDir, "logs")), Namespaces: prov,
		Invocations: m, Usage: prov,
		Queue: q, ServedBy: servedBy, Validate: validateDeployment, Images: prov, MaxImageSize: cfg.MaxImageSize,
		Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)})}
	gw := gateway.New(prov, invoke, gwCfg, log.With("component", "gateway"))
	uiGW := gw // serves the UI and takes its sessions
	if cfg.UIListen != "" {
		// The UI has an origin of its own (ui.go): the main listener
		// takes Basic auth only and serves no UI.
		basic := gwCfg
		basic.Auth = creds.Require
		gw = gateway.New(prov, invoke, basic, log.With("component", "gateway"))
	}
	// The web UI: its hour of history is sampled from the metrics each
	// minute, by a goroutine that ends before the metrics' users do.
	history := ui.NewHistory(m)
	hctx, stopHistory := context.WithCancel(context.Background())
	historyDone := make(chan struct{})
	go func() { defer close(historyDone); _ = history.Run(hctx) }()
	defer func() { stopHistory(); <-historyDone }()
	web, err := ui.New(ui.Config{Sessions: sessions, Functions: uiGW, Totals: m, Failures: failures{prov}, History: history,
		Log: log.With("component", "ui")})
	if err != nil {
		return err
	}
	uiGW.MountUI(web)

	// The listening sockets outlive funcd in systemd's store (fdstore.go):
	// connections made while it restarts wait in the backlog.
	fds := openFDStore(env.getenv, log)
	if covers(cfg.Listen, network.Gateway()) {
		fds.discard("bridge") // --listen takes the bridge's address now
	}
	ln, err := fds.listen(ctx, "api", cfg.Listen, func(context.Context) (net.Listener, error) {
		return net.Listen("tcp", cfg.Listen)
	})
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           gw,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.Timeout + 5*time.Second,
		WriteTimeout:      cfg.Timeout + 5*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	stopUI, err := serveUI(cfg, uiGW, errc, log)
	if err != nil {
		return err
	}
	defer stopUI()
	// Connections the proxy took over for invocations come back here when
	// they carry anything else.
	go func() { _ = srv.Serve(invoke.Handoff()) }()
	// Functions call each other at http://gateway:8080.
	bridgeLn, err := fds.listen(ctx, "bridge", bridgeAddr(network.Gateway()), func(ctx context.Context) (net.Listener, error) {
		return bridgeListener(ctx, cfg.Listen, network.Gateway())
	})
	if err != nil {
		return err
	}
	fds.close() // what systemd kept and no longer applies
	if bridgeLn != nil {
		go func() { _ = srv.Serve(bridgeLn) }()
		log.Info("functions reach funcd at http://gateway:8080", "address", bridgeLn.Addr().String())
	}
	check := selfCheck(ln.Addr(), prov.Alive)
	health.Store(&check)

	// After a reboot every replica that was running is being recreated:
	// ready means they answer again, within a bound so that one broken
	// function cannot hold funcd's start forever.
	_ = notify("STATUS=waiting for the functions' replicas to answer")
	wait := cfg.ReadyTimeout + 30*time.Second
	wctx, cancel := context.WithTimeout(ctx, wait)
	short := prov.AwaitReplicas(wctx)
	cancel()
	if len(short) > 0 && ctx.Err() == nil {
		log.Warn("ready, but these functions still lack replicas", "functions", short, "waited", wait)
	}
	log.Info("funcd is up", "listen", ln.Addr().String(), "state_dir", cfg.StateDir, "version", built.Version, "commit", built.Commit)
	if err := notify(daemon.SdNotifyReady + "\nSTATUS=serving on " + ln.Addr().String()); err != nil {
		log.Warn("notify systemd", "err", err)
	}
	// Start-up (init, adoption) is over: hand back its garbage
	// (memory.go).
	debug.FreeOSMemory()

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down; functions keep running")
	_ = notify(daemon.SdNotifyStopping + "\nSTATUS=stopping; functions keep running")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http shutdown", "err", err)
	}
	return nil
}

// own makes the state directory this process's own (private, locked for
// its life, with an identity) and claims the bridge and subnet on the host,
// refusing when another live funcd, or a host interface, already uses
// them. disown gives all of it up.
func own(cfg config.Daemon, log *slog.Logger) (id string, disown func(), err error) {
	private := func(dir string) error {
		was, err := instance.PrivateDir(dir)
		if err != nil {
			return fmt.Errorf("state dir: %w", err)
		}
		if was != 0 {
			log.Warn("others could read this directory; narrowed it to mode 0700", "dir", dir, "mode", fmt.Sprintf("%#o", was))
		}
		return nil
	}
	if err := private(cfg.StateDir); err != nil {
		return "", nil, err
	}
	lock, err := instance.LockStateDir(cfg.StateDir)
	if err != nil {
		return "", nil, err
	}
	defer func() {
		if err != nil {
			lock.Close()
		}
	}()
	if err := private(filepath.Join(cfg.StateDir, "secrets")); err != nil {
		return "", nil, err
	}
	if id, err = instance.ID(cfg.StateDir); err != nil {
		return "", nil, err
	}
	stateDir, err := filepath.Abs(cfg.StateDir)
	if err != nil {
		return "", nil, fmt.Errorf("state dir: %w", err)
	}
	held, err := instance.Take(instance.HostDir, instance.Claim{
		ID: id, StateDir: stateDir, PID: os.Getpid(), Bridge: cfg.Bridge, Subnet: cfg.Subnet,
	})
	if err != nil {
		return "", nil, err
	}
	if err = cni.CheckHost(cfg.Bridge, cfg.Subnet); err != nil {
		held.Release()
		return "", nil, err
	}
	return id, func() {
		if err := held.Release(); err != nil {
			log.Warn("release the claim on bridge and subnet", "err", err)
		}
		lock.Close()
	}, nil
}

// startQueue starts the embedded NATS server and the queue of
// asynchronous invocations.
func startQueue(ctx context.Context, cfg config.Daemon, invoke http.Handler, prov *provider.Provider, reg prometheus.Registerer, log *slog.Logger) (*queue.Queue, error) {
	var password string
	if cfg.NATSListen != "" || cfg.MQTTListen != "" {
		var err error
		if password, err = basicauth.EnsurePassword(filepath.Join(cfg.StateDir, "secrets", "nats-password")); err != nil {
			return nil, err
		}
	}
	q, err := queue.New(ctx, queue.Config{
		StoreDir:   filepath.Join(cfg.StateDir, "queue"),
		NATSListen: cfg.NATSListen,
		MQTTListen: cfg.MQTTListen,
		Password:   password,
		Workers:    cfg.QueueWorkers,
		MaxBody:    cfg.QueueMaxBody,
		MaxBytes:   cfg.QueueMaxBytes,
		Policy: queue.Policy{
			Attempts: cfg.QueueRetryAttempts,
			Codes:    cfg.QueueRetryCodes,
			MinWait:  cfg.QueueRetryMinWait,
			MaxWait:  cfg.QueueRetryMaxWait,
		},
		Timeout:    cfg.QueueTimeout,
		SyncAlways: cfg.QueueFsync,
		Invoker:    invoke,
		Functions:  functionLookup{prov},
		Callbacks:  egress.New(cfg.Subnet, cfg.CallbackAllow),
		Registerer: reg,
		Log:        log.With("component", "queue"),
	})
	if err != nil {
		return nil, err
	}
	if cfg.NATSListen != "" {
		log.Info("NATS clients may connect", "address", cfg.NATSListen, "user", queue.User)
	}
	if cfg.MQTTListen != "" {
		log.Info("MQTT clients may connect", "address", cfg.MQTTListen, "user", queue.User)
	}
	return q, nil
}

// validateDeployment checks what the queue and the triggers read from a
// function, beyond what the provider checks.
func validateDeployment(d api.FunctionDeployment) error {
	return errors.Join(queue.Validate(d.Labels, d.Annotations), trigger.Validate(d.Annotations))
}

// functionLookup adapts the provider to the queue's interface.
type functionLookup struct{ p *provider.Provider }

func (f functionLookup) Function(name, ns string) (labels, annotations map[string]string, ok bool) {
	st, err := f.p.Status(name, ns)
	if err != nil {
		return nil, nil, false
	}
	return st.Labels, st.Annotations, true
}

// failures adapts the provider to the web UI's interface.
type failures struct{ p *provider.Provider }

func (f failures) LastFailure(name, ns string) (ui.Failure, bool) {
	last, ok := f.p.LastFailure(name, ns)
	return ui.Failure(last), ok
}

// resolver adapts the provider to the proxy's interface.
type resolver struct{ p *provider.Provider }

func (r resolver) Pick(name, ns string) (proxy.Backend, error) {
	return backend(r.p.Pick(name, ns))
}

func (r resolver) Resolve(ctx context.Context, name, ns string) (proxy.Backend, error) {
	return backend(r.p.Resolve(ctx, name, ns))
}

func backend(b provider.Backend, err error) (proxy.Backend, error) {
	if errors.Is(err, provider.ErrNotFound) {
		return nil, fmt.Errorf("%w: %v", proxy.ErrNotFound, err)
	}
	if err != nil || b == nil {
		return nil, err // a nil provider.Backend must not become a non-nil interface
	}
	return b, nil
}

func newLogger(env cliEnv, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	if f, ok := env.Stderr.(*os.File); ok && toJournal(env.getenv, f) {
		return slog.New(newJournalHandler(env.Stderr, l))
	}
	return slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: l}))
}
