// Package provider owns the desired state of functions and makes containerd
// match it: deploy, update (zero-downtime), remove, scale, list and status;
// supervision of replicas (a task that exits is restarted with back-off);
// adoption of running tasks after funcd restarts; and the endpoint table of
// ready replicas that the proxy reads on every invocation.
//
// It talks to containerd and CNI through the small interfaces declared
// here, and must not import the proxy, the gateway or anything HTTP-facing
// beyond its readiness probe.
package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/funcd/funcd/cni"
	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/cgroups"
	"github.com/funcd/funcd/internal/containerd"
)

// Errors the gateway maps to HTTP statuses.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrInvalid  = errors.New("invalid")
	// ErrUnavailable: containerd cannot be reached (it is stopped or
	// restarting). The operation changed nothing and may be retried.
	ErrUnavailable = containerd.ErrUnavailable
	// ErrNoAddress: the bridge's subnet has no address left for another
	// replica (Network.Attach wraps it; the message names the subnet).
	ErrNoAddress = cni.ErrSubnetFull
	// ErrInUse: what is to be removed (an image) is used by functions; the
	// message names them.
	ErrInUse = errors.New("in use")
)

// Runtime is what the provider needs from containerd. Its errors wrap
// containerd.ErrUnavailable when containerd cannot be reached.
type Runtime interface {
	// Ping checks that containerd answers.
	Ping(ctx context.Context) error
	EnsureImage(ctx context.Context, ns, ref string, policy api.PullPolicy) (string, error)
	Import(ctx context.Context, ns string, archive io.Reader) ([]containerd.Image, error)
	Images(ctx context.Context, ns string) ([]containerd.Image, error)
	RemoveImage(ctx context.Context, ns, ref string) error
	Create(ctx context.Context, ns string, s containerd.ContainerSpec) error
	NewTask(ctx context.Context, ns, id, logPath string) (containerd.Task, error)
	StartTask(ctx context.Context, ns, id string) error
	Wait(ctx context.Context, ns, id string) (<-chan containerd.Exit, error)
	StopTask(ctx context.Context, ns, id string, grace time.Duration) error
	Delete(ctx context.Context, ns, id string) error
	List(ctx context.Context, ns string, match map[string]string) ([]containerd.Info, error)
}

// Network is what the provider needs from CNI. Attach fails wrapping
// ErrNoAddress when the subnet is full.
type Network interface {
	Attach(ctx context.Context, id, netns string) (netip.Addr, error)
	Detach(ctx context.Context, id, netns string) error
	NewNetNS(path string) error
	RemoveNetNS(path string) error
	IsNetNS(path string) bool
}

// Secrets checks secret names and builds the per-replica directories
// mounted into functions at /var/openfaas/secrets.
type Secrets interface {
	// Path returns the file holding secret name in namespace ns, or an
	// error wrapping ErrNotFound.
	Path(ns, name string) (string, error)
	// View builds view id (a replica ID) holding copies of the named
	// secrets, kept current when a secret is updated, and returns its
	// directory.
	View(ns, id string, names []string) (string, error)
	// RemoveView removes view id; a missing view is not an error.
	RemoveView(ns, id string) error
	// List returns the names of the secrets in namespace ns.
	List(ns string) ([]string, error)
}

// Config tunes the provider.
type Config struct {
	StateDir       string         // functions/, logs/, netns/ and etc/ live here
	Instance       string         // this funcd's identity: labels its containers; Restore claims only those
	ReadyTimeout   time.Duration  // how long a new replica may take to become ready
	StopGrace      time.Duration  // drain, then SIGTERM, then SIGKILL after this
	Mounts         []Mount        // files every function gets (resolv.conf, hosts)
	FunctionPort   uint16         // where functions listen; 8080 when zero
	ScaleTick      time.Duration  // how often the scaler looks at load; 1s when zero
	ScaleDownDelay time.Duration  // how long load must stay low before scaling down
	MemoryBudget   int64          // bytes the memory limits of all replicas may add up to; 0 for no budget
	PidsLimit      int64          // processes per replica; 0 for no limit
	MaxReplicas    uint64         // most replicas of one function (labels, scaling, autoscaling); 0 for no cap
	PullPolicy     api.PullPolicy // when deploys ask a registry; com.funcd.pull-policy overrides it
	Events         Events         // told of cold starts, scaling and restarts; may be nil
	Cgroups        cgroups.Reader // where replicas' usage is read (see usage.go)
}

// Events receives notable moments in functions' lives, for metrics. fn is
// "NAME.NS". Calls must be quick and must not call back into the provider.
type Events interface {
	// ColdStart: a request found no ready replica of fn and waited d for one.
	ColdStart(fn string, d time.Duration)
	// ScaleEvent: fn's replica count changed; direction is "up" or "down".
	ScaleEvent(fn, direction string)
	// Restart: the supervisor restarted a replica of fn after it exited.
	Restart(fn string)
}

// Mount is a read-only bind mount of a host file into every function.
type Mount struct {
	Source, Destination string
}

// Provider runs functions.
type Provider struct {
	rt      Runtime
	net     Network
	secrets Secrets
	cfg     Config
	log     *slog.Logger
	store   store

	probeClient *http.Client

	ctx    context.Context // lives until Shutdown; supervisors hang off it
	cancel context.CancelFunc
	wg     sync.WaitGroup // supervisors

	locks keyedMutex // serialises control operations per function

	// images is held for reading by deploys and updates from getting
	// their image until it is recorded, and for writing by RemoveImage.
	images sync.RWMutex

	budgetMu sync.Mutex
	reserved map[key]int64 // memory claimed by operations under way

	mu         sync.RWMutex
	fns        map[key]*function
	namespaces map[string]api.FunctionNamespace // created ones; the default always exists
}

type key struct{ ns, name string }

func (k key) String() string { return k.name + "." + k.ns }

// function is a deployed function: its desired state and its replicas.
type function struct {
	eps     *endpoints
	waking  atomic.Bool // a scale from zero is under way
	thawing atomic.Bool // a thaw of frozen replicas is under way

	mu       sync.Mutex // guards rec, replicas and parked
	rec      record
	replicas []*replica
	parked   []*replica // at zero: container, snapshot, netns and address kept, no task

	costMu sync.Mutex // guards cost and its replicas' cost (usage.go)
	cost   functionCost

	failure atomic.Pointer[Failure] // the last failure of a replica (failure.go)
}

func (f *function) snapshot() (record, []*replica) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rec, append([]*replica(nil), f.replicas...)
}

// publish puts f's ready replicas in the endpoint table.
func (f *function) publish() {
	f.mu.Lock()
	var ready []*replica
	for _, r := range f.replicas {
		if r.ready.Load() {
			ready = append(ready, r)
		}
	}
	f.mu.Unlock()
	f.eps.set(ready)
}

// New returns a provider. Call Restore before serving.
func New(rt Runtime, net Network, secrets Secrets, cfg Config, log *slog.Logger) *Provider {
	if cfg.FunctionPort == 0 {
		cfg.FunctionPort = defaultFunctionPort
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Provider{
		rt:          rt,
		net:         net,
		secrets:     secrets,
		cfg:         cfg,
		log:         log,
		store:       store{dir: filepath.Join(cfg.StateDir, "functions")},
		probeClient: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
		ctx:         ctx,
		cancel:      cancel,
		fns:         map[key]*function{},
	}
}

// Shutdown stops supervising. Functions keep running: their tasks belong to
// containerd, and the next start adopts them.
func (p *Provider) Shutdown(ctx context.Context) error {
	p.cancel()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("provider shutdown: %w", ctx.Err())
	}
}

func (p *Provider) netnsPath(id string) string {
	return filepath.Join(p.cfg.StateDir, "netns", id)
}

// inNamespace returns the functions in namespace ns.
func (p *Provider) inNamespace(ns string) []*function {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var fns []*function
	for k, f := range p.fns {
		if k.ns == ns {
			fns = append(fns, f)
		}
	}
	return fns
}

func (p *Provider) get(k key) *function {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.fns[k]
}

// List returns the status of every function in namespace ns, sorted by name.
func (p *Provider) List(ns string) []api.FunctionStatus {
	fns := p.inNamespace(ns)
	out := make([]api.FunctionStatus, 0, len(fns))
	for _, f := range fns {
		out = append(out, f.status())
	}
	sortStatuses(out)
	return out
}

// Status returns one function's status.
func (p *Provider) Status(name, ns string) (api.FunctionStatus, error) {
	f := p.get(key{ns, name})
	if f == nil {
		return api.FunctionStatus{}, fmt.Errorf("function %s.%s: %w", name, ns, ErrNotFound)
	}
	return f.status(), nil
}

func (f *function) status() api.FunctionStatus {
	rec, _ := f.snapshot()
	st := rec.Spec.Status()
	st.Replicas = rec.Replicas
	// A frozen replica answers within milliseconds of a request: it counts
	// as available (see freeze.go).
	st.AvailableReplicas = uint64(f.eps.count() + f.frozenCount())
	st.CreatedAt = rec.CreatedAt
	return st
}

// Backend is a replica chosen for one request. Release must be called when
// the request is done.
type Backend interface {
	Host() string
	Release()
}

// Pick returns the ready replica of name.ns with the fewest requests in
// flight, or nil when none is ready. It never waits: it is the invocation
// hot path.
func (p *Provider) Pick(name, ns string) (Backend, error) {
	f := p.get(key{ns, name})
	if f == nil {
		return nil, fmt.Errorf("function %s.%s: %w", name, ns, ErrNotFound)
	}
	if r := f.eps.pick(); r != nil {
		return r, nil
	}
	return nil, nil
}

// Resolve picks a ready replica of name.ns with the fewest requests in
// flight, waiting until ctx ends if none is ready yet (a replica restarting
// or starting). Unknown functions answer ErrNotFound at once.
func (p *Provider) Resolve(ctx context.Context, name, ns string) (Backend, error) {
	f := p.get(key{ns, name})
	if f == nil {
		return nil, fmt.Errorf("function %s.%s: %w", name, ns, ErrNotFound)
	}
	if r := f.eps.pick(); r != nil {
		return r, nil
	}
	rec, _ := f.snapshot()
	cold := rec.Replicas == 0
	if cold {
		p.wake(key{ns, name}, f)
	}
	start := time.Now()
	// Each time it finds none ready, including after a freeze that was
	// under way when it came (see freeze.go).
	thaw := func() {
		if f.hasFrozen() {
			p.thaw(key{ns, name}, f)
		}
	}
	r, err := f.eps.wait(ctx, thaw)
	if err != nil {
		return nil, fmt.Errorf("no ready replica of %s.%s: %w", name, ns, err)
	}
	if cold && p.cfg.Events != nil {
		p.cfg.Events.ColdStart(name+"."+ns, time.Since(start))
	}
	return r, nil
}
