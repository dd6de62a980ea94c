// Package services runs the side services of a docker-compose.yaml
// (internal/compose) as containerd containers in their own containerd
// namespace (api.ServicesNamespace), which no function namespace may take.
// Each service is supervised like a function's replica (restart policy with
// back-off, healthcheck, depends_on), attached to funcd's bridge from the
// services' share of the subnet with its ports published, named in the
// hosts file functions and services share, and adopted when funcd starts
// again: a running container made from the same Service value keeps its
// process.
//
// It must not import the provider, proxy or gateway.
package services

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/funcd/funcd/cni"
	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/compose"
	"github.com/funcd/funcd/internal/containerd"
	"github.com/funcd/funcd/internal/netfiles"
)

// Namespace is the containerd namespace every service lives in.
const Namespace = api.ServicesNamespace

// ErrNotFound is returned (wrapped) for a service the file does not name.
var ErrNotFound = errors.New("no such service")

// Runtime is what the runner needs of containerd.
type Runtime interface {
	EnsureImage(ctx context.Context, ns, ref string, policy api.PullPolicy) (string, error)
	Create(ctx context.Context, ns string, s containerd.ContainerSpec) error
	NewTask(ctx context.Context, ns, id, logPath string) (containerd.Task, error)
	StartTask(ctx context.Context, ns, id string) error
	Wait(ctx context.Context, ns, id string) (<-chan containerd.Exit, error)
	StopTask(ctx context.Context, ns, id string, grace time.Duration) error
	Delete(ctx context.Context, ns, id string) error
	List(ctx context.Context, ns string, match map[string]string) ([]containerd.Info, error)
	Exec(ctx context.Context, ns, id string, args []string) (uint32, error)
	// CopyUp fills dst with what container id's image holds at path.
	CopyUp(ctx context.Context, ns, id, path, dst string) error
}

// Network attaches services to the bridge (cni.ServicesNetwork).
type Network interface {
	Attach(ctx context.Context, id, netnsPath string, want netip.Addr, ports []cni.Port) (netip.Addr, error)
	Detach(ctx context.Context, id, netnsPath string, ports []cni.Port) error
}

// Config says where a runner keeps its state and what every service gets.
type Config struct {
	StateDir  string        // funcd's: services' records, netns, volumes and logs go under it
	Instance  string        // this funcd's identity (labels its containers)
	Gateway   netip.Addr    // the host on the bridge, "gateway" in the hosts file
	Hosts     string        // the hosts file to keep the services' names in
	Mounts    []BindMount   // read-only files every service gets (resolv.conf, hosts)
	StopGrace time.Duration // SIGTERM to SIGKILL
	Log       *slog.Logger
}

// BindMount is a host file mounted read-only into every service.
type BindMount struct{ Source, Destination string }

// Runner runs the services of one compose file at a time.
type Runner struct {
	rt  Runtime
	net Network
	cfg Config
	log *slog.Logger

	ctx    context.Context // ends supervision (Shutdown); containers keep running
	cancel context.CancelFunc
	wg     sync.WaitGroup

	apply sync.Mutex // one Apply or Restart at a time

	mu       sync.Mutex
	svcs     map[string]*service
	lastAddr map[string]netip.Addr // of removed services' containers: a recreated one asks for it again
	changed  chan struct{}         // closed and replaced whenever a service's state changes
}

// New returns a runner; Start adopts and starts the services.
func New(rt Runtime, net Network, cfg Config) *Runner {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.StopGrace == 0 {
		cfg.StopGrace = 10 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Runner{rt: rt, net: net, cfg: cfg, log: cfg.Log, ctx: ctx, cancel: cancel,
		svcs: map[string]*service{}, lastAddr: map[string]netip.Addr{}, changed: make(chan struct{})}
}

// Start adopts this instance's running containers whose Service value is
// unchanged, removes the others, and starts the services of p that are
// missing (p may be nil: no compose file). It returns once containerd has
// been asked; services come up in the background.
func (r *Runner) Start(ctx context.Context, p *compose.Project) error {
	r.apply.Lock()
	defer r.apply.Unlock()
	want := desired(p)
	infos, err := r.rt.List(ctx, Namespace, map[string]string{labelInstance: r.cfg.Instance})
	if err != nil {
		return fmt.Errorf("services: %w", err)
	}
	seen := map[string]bool{}
	for _, info := range infos {
		seen[info.ID] = true
		name := info.Labels[labelService]
		spec, ok := want[name]
		r.mu.Lock()
		_, taken := r.svcs[name]
		r.mu.Unlock()
		if ok && !taken && info.Labels[labelHash] == hash(spec) && info.Status == "running" {
			rec, _ := r.loadRecord(info.ID)
			s := r.newService(spec, info.ID)
			s.addr, s.pid, s.state = rec.addr(), info.PID, stateRunning
			if spec.Health != nil {
				s.health = healthStarting
			}
			r.mu.Lock()
			r.svcs[name] = s
			r.mu.Unlock()
			r.log.Info("adopted side service", "service", name, "pid", info.PID, "address", s.addr)
			r.run(s, true)
			continue
		}
		if rec, err := r.loadRecord(info.ID); err == nil && rec.addr().IsValid() {
			r.mu.Lock()
			r.lastAddr[name] = rec.addr()
			r.mu.Unlock()
		}
		r.remove(ctx, info.ID)
	}
	r.removeOrphanRecords(ctx, seen)
	r.updateHosts()
	r.applyLocked(ctx, want)
	return nil
}

// Apply makes the running services match p: changed services are
// recreated, removed ones stopped and removed, unchanged ones untouched.
func (r *Runner) Apply(ctx context.Context, p *compose.Project) {
	r.apply.Lock()
	defer r.apply.Unlock()
	r.applyLocked(ctx, desired(p))
}

func (r *Runner) applyLocked(ctx context.Context, want map[string]compose.Service) {
	r.mu.Lock()
	current := maps.Clone(r.svcs)
	r.mu.Unlock()
	for name, s := range current {
		spec, ok := want[name]
		if ok && s.hash == hash(spec) {
			continue
		}
		if ok {
			r.log.Info("side service changed; recreating it", "service", name)
		} else {
			r.log.Info("side service no longer in the compose file; removing it", "service", name)
		}
		r.stop(ctx, s)
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		r.mu.Lock()
		_, running := r.svcs[name]
		r.mu.Unlock()
		if running {
			continue
		}
		s := r.newService(want[name], containerID(name, r.cfg.Instance, hash(want[name])))
		r.mu.Lock()
		r.svcs[name] = s
		r.mu.Unlock()
		r.run(s, false)
	}
	r.updateHosts()
}

// Shutdown ends supervision and waits for it; the services keep running,
// to be adopted by the next start.
func (r *Runner) Shutdown(ctx context.Context) error {
	r.cancel()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("services: shutdown: %w", ctx.Err())
	}
}

// Restart asks service name's supervision to stop its task and start it
// again (also when its restart policy had left it stopped).
func (r *Runner) Restart(name string) error {
	r.mu.Lock()
	s, ok := r.svcs[name]
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("service %s: %w", name, ErrNotFound)
	}
	select {
	case s.restart <- struct{}{}:
	default: // one is pending already
	}
	return nil
}

// Status is what List reports of a service.
type Status = api.ServiceStatus

// List returns every service's status, by name.
func (r *Runner) List() []Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Status, 0, len(r.svcs))
	for _, name := range slices.Sorted(maps.Keys(r.svcs)) {
		out = append(out, r.svcs[name].status())
	}
	return out
}

// Has reports whether the file names service name.
func (r *Runner) Has(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.svcs[name]
	return ok
}

// UsingImage returns the services whose image is ref (both normalised,
// so "prom/prometheus:v3" and "docker.io/prom/prometheus:v3" match).
func (r *Runner) UsingImage(ref string) []string {
	want, err := containerd.NormalizeRef(ref)
	if err != nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, name := range slices.Sorted(maps.Keys(r.svcs)) {
		if img, err := containerd.NormalizeRef(r.svcs[name].spec.Image); err == nil && img == want {
			out = append(out, name)
		}
	}
	return out
}

// notify wakes everything waiting for a service's state (dependents).
// Callers hold r.mu.
func (r *Runner) notify() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// updateHosts writes every service's address into the shared hosts file.
func (r *Runner) updateHosts() {
	if r.cfg.Hosts == "" {
		return
	}
	r.mu.Lock()
	var hosts []netfiles.Host
	for _, name := range slices.Sorted(maps.Keys(r.svcs)) {
		if a := r.svcs[name].addr; a.IsValid() {
			hosts = append(hosts, netfiles.Host{Name: name, Addr: a})
		}
	}
	r.mu.Unlock()
	if err := netfiles.UpdateHosts(r.cfg.Hosts, r.cfg.Gateway, hosts); err != nil {
		r.log.Error("write the services' names into the hosts file", "err", err)
	}
}

func desired(p *compose.Project) map[string]compose.Service {
	want := map[string]compose.Service{}
	if p != nil {
		for _, s := range p.Services {
			want[s.Name] = s
		}
	}
	return want
}

func (r *Runner) serviceDir() string { return filepath.Join(r.cfg.StateDir, "services") }

func (r *Runner) ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("services: %w", err)
	}
	return nil
}

// Purge removes every service container this instance made, with its
// address, published ports, network namespace, logs and record, and
// returns how many containers it removed. Volumes stay. It starts nothing:
// call it instead of Start (`funcd purge`).
func (r *Runner) Purge(ctx context.Context) (int, error) {
	infos, err := r.rt.List(ctx, Namespace, map[string]string{labelInstance: r.cfg.Instance})
	if err != nil {
		return 0, fmt.Errorf("purge services: %w", err)
	}
	var wg sync.WaitGroup
	for _, info := range infos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.remove(ctx, info.ID)
		}()
	}
	wg.Wait()
	r.removeOrphanRecords(ctx, nil)
	return len(infos), nil
}
