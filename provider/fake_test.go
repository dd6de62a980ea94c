package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/cgroups"
	"github.com/funcd/funcd/internal/containerd"
)

// fakeRuntime runs "tasks" as HTTP servers on 127.0.0.N:port, where N comes
// from fakeNet. A container whose env holds MODE=exit exits at once when
// started; READY=false makes /ready answer 503. While down is set, every
// call fails with containerd.ErrUnavailable and tasks keep running, as
// they do under their shims while containerd restarts.
type fakeRuntime struct {
	port    int
	down    atomic.Bool
	noTasks atomic.Bool // NewTask fails, as when a function's image cannot run

	mu         sync.Mutex
	containers map[string]*fakeContainer
	pid        uint32
	newTasks   int
	policies   []api.PullPolicy             // of each EnsureImage call
	images     map[string]map[string]string // ns → image name → digest
}

type fakeContainer struct {
	ns   string
	spec containerd.ContainerSpec
	task *fakeTask
}

type fakeTask struct {
	pid     uint32
	srv     *http.Server
	exit    chan containerd.Exit
	once    sync.Once
	running bool
}

func (t *fakeTask) end(code uint32) {
	t.once.Do(func() {
		if t.srv != nil {
			t.srv.Close()
		}
		t.exit <- containerd.Exit{Code: code, At: time.Now()}
		close(t.exit)
	})
}

func newFakeRuntime(t *testing.T) *fakeRuntime {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	rt := &fakeRuntime{port: port, containers: map[string]*fakeContainer{}}
	t.Cleanup(func() {
		rt.mu.Lock()
		defer rt.mu.Unlock()
		for _, c := range rt.containers {
			if c.task != nil {
				c.task.end(137)
			}
		}
	})
	return rt
}

// errDown is what every call answers while the fake containerd is down.
var errDown = fmt.Errorf("fake: %w", containerd.ErrUnavailable)

func (rt *fakeRuntime) Ping(ctx context.Context) error {
	if rt.down.Load() {
		return errDown
	}
	return nil
}

func (rt *fakeRuntime) EnsureImage(ctx context.Context, ns, ref string, policy api.PullPolicy) (string, error) {
	if rt.down.Load() {
		return "", errDown
	}
	rt.mu.Lock()
	rt.policies = append(rt.policies, policy)
	rt.mu.Unlock()
	if strings.Contains(ref, "missing") {
		return "", fmt.Errorf("%w %s: not found", containerd.ErrPull, ref)
	}
	if strings.Contains(ref, "absent") && policy == api.PullNever {
		return "", fmt.Errorf("%w: %s: load it with funcd image import", containerd.ErrNoImage, ref)
	}
	if strings.Contains(ref, "/") {
		return ref, nil
	}
	return "docker.io/library/" + ref, nil
}

// Import reads one image name per line; a line "bad" makes the archive
// bad.
func (rt *fakeRuntime) Import(ctx context.Context, ns string, archive io.Reader) ([]containerd.Image, error) {
	if rt.down.Load() {
		return nil, errDown
	}
	b, err := io.ReadAll(archive)
	if err != nil {
		return nil, err
	}
	var out []containerd.Image
	for _, name := range strings.Fields(string(b)) {
		if name == "bad" {
			return nil, fmt.Errorf("%w: unrecognized image format", containerd.ErrBadArchive)
		}
		out = append(out, containerd.Image{Name: name, Digest: "sha256:" + name, Size: int64(len(name))})
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.images == nil {
		rt.images = map[string]map[string]string{}
	}
	if rt.images[ns] == nil {
		rt.images[ns] = map[string]string{}
	}
	for _, img := range out {
		rt.images[ns][img.Name] = img.Digest
	}
	return out, nil
}

func (rt *fakeRuntime) Images(ctx context.Context, ns string) ([]containerd.Image, error) {
	if rt.down.Load() {
		return nil, errDown
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var out []containerd.Image
	for name, dgst := range rt.images[ns] {
		out = append(out, containerd.Image{Name: name, Digest: dgst, Size: int64(len(name))})
	}
	slices.SortFunc(out, func(a, b containerd.Image) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (rt *fakeRuntime) RemoveImage(ctx context.Context, ns, ref string) error {
	if rt.down.Load() {
		return errDown
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if _, ok := rt.images[ns][ref]; !ok {
		return fmt.Errorf("image %s: %w", ref, containerd.ErrNotFound)
	}
	delete(rt.images[ns], ref)
	return nil
}

func (rt *fakeRuntime) Create(ctx context.Context, ns string, s containerd.ContainerSpec) error {
	if rt.down.Load() {
		return errDown
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if _, ok := rt.containers[s.ID]; ok {
		return errors.New("exists")
	}
	rt.containers[s.ID] = &fakeContainer{ns: ns, spec: s}
	return nil
}

func (rt *fakeRuntime) NewTask(ctx context.Context, ns, id, logPath string) (containerd.Task, error) {
	if rt.down.Load() {
		return containerd.Task{}, errDown
	}
	if rt.noTasks.Load() {
		return containerd.Task{}, errors.New("fake: exec format error")
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	c, ok := rt.containers[id]
	if !ok {
		return containerd.Task{}, fmt.Errorf("new task %s: %w", id, containerd.ErrNotFound)
	}
	if c.task != nil {
		c.task.end(137)
	}
	rt.pid++
	rt.newTasks++
	c.task = &fakeTask{pid: rt.pid, exit: make(chan containerd.Exit, 1)}
	return containerd.Task{PID: rt.pid}, nil
}

func (rt *fakeRuntime) StartTask(ctx context.Context, ns, id string) error {
	if rt.down.Load() {
		return errDown
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	c := rt.containers[id]
	if c == nil || c.task == nil {
		return containerd.ErrNotFound
	}
	env := strings.Join(c.spec.Env, "\n")
	if strings.Contains(env, "MODE=exit") {
		go c.task.end(1)
		return nil
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("%s:%d", c.spec.Labels[labelIP], rt.port))
	if err != nil {
		return err
	}
	notReady := strings.Contains(env, "READY=false")
	c.task.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ready" && notReady {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, id)
	})}
	c.task.running = true
	go c.task.srv.Serve(ln)
	return nil
}

func (rt *fakeRuntime) Wait(ctx context.Context, ns, id string) (<-chan containerd.Exit, error) {
	if rt.down.Load() {
		return nil, errDown
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	c := rt.containers[id]
	if c == nil || c.task == nil {
		return nil, containerd.ErrNotFound
	}
	return c.task.exit, nil
}

func (rt *fakeRuntime) StopTask(ctx context.Context, ns, id string, grace time.Duration) error {
	if rt.down.Load() {
		return errDown
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if c := rt.containers[id]; c != nil && c.task != nil {
		c.task.end(0)
		c.task = nil
	}
	return nil
}

// Delete kills the task and removes the container in one step, as
// containerd never lets a task be created in between.
func (rt *fakeRuntime) Delete(ctx context.Context, ns, id string) error {
	if rt.down.Load() {
		return errDown
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if c := rt.containers[id]; c != nil && c.task != nil {
		c.task.end(0)
	}
	delete(rt.containers, id)
	return nil
}

func (rt *fakeRuntime) List(ctx context.Context, ns string, match map[string]string) ([]containerd.Info, error) {
	if rt.down.Load() {
		return nil, errDown
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var out []containerd.Info
	for id, c := range rt.containers {
		if c.ns != ns || !matches(c.spec.Labels, match) {
			continue
		}
		info := containerd.Info{ID: id, Labels: c.spec.Labels}
		if c.task != nil {
			info.PID = c.task.pid
			info.Status = "created"
			if c.task.running {
				info.Status = "running"
			}
		}
		out = append(out, info)
	}
	return out, nil
}

// matches reports whether labels has every key of match, with its value
// unless that is "", as containerd's filter does.
func matches(labels, match map[string]string) bool {
	for k, v := range match {
		got, ok := labels[k]
		if !ok || v != "" && got != v {
			return false
		}
	}
	return true
}

// crash makes id's task exit as if the process died.
func (rt *fakeRuntime) crash(id string) {
	rt.mu.Lock()
	c := rt.containers[id]
	rt.mu.Unlock()
	c.task.end(2)
}

func (rt *fakeRuntime) ids() []string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var ids []string
	for id := range rt.containers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (rt *fakeRuntime) pidOf(id string) uint32 {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if c := rt.containers[id]; c != nil && c.task != nil {
		return c.task.pid
	}
	return 0
}

// fakeNet hands out 127.0.0.N addresses and remembers which are in use.
type fakeNet struct {
	mu     sync.Mutex
	next   byte
	max    int // addresses it has; 0 for no limit
	addrs  map[string]netip.Addr
	netnss map[string]bool
}

func newFakeNet() *fakeNet {
	return &fakeNet{next: 2, addrs: map[string]netip.Addr{}, netnss: map[string]bool{}}
}

func (n *fakeNet) Attach(ctx context.Context, id, netns string) (netip.Addr, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.netnss[netns] {
		return netip.Addr{}, fmt.Errorf("attach %s: no netns %s", id, netns)
	}
	if n.max > 0 && len(n.addrs) >= n.max {
		return netip.Addr{}, fmt.Errorf("%w: subnet 127.0.0.0/29 has %d addresses for replicas, all in use", ErrNoAddress, n.max)
	}
	a := netip.AddrFrom4([4]byte{127, 0, 0, n.next})
	n.next++
	n.addrs[id] = a
	return a, nil
}

func (n *fakeNet) Detach(ctx context.Context, id, netns string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.addrs, id)
	return nil
}

// NewNetNS pins nothing, but leaves a file at path as the real one does.
func (n *fakeNet) NewNetNS(path string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		return err
	}
	n.netnss[path] = true
	return nil
}

func (n *fakeNet) RemoveNetNS(path string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.netnss, path)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (n *fakeNet) IsNetNS(path string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.netnss[path]
}

func (n *fakeNet) inUse() (addrs, netnss int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.addrs), len(n.netnss)
}

type fakeSecrets map[string]string

func (s fakeSecrets) Path(ns, name string) (string, error) {
	if p, ok := s[name]; ok {
		return p, nil
	}
	return "", fmt.Errorf("secret %s: %w", name, ErrNotFound)
}

func (s fakeSecrets) View(ns, id string, names []string) (string, error) {
	for _, name := range names {
		if _, err := s.Path(ns, name); err != nil {
			return "", err
		}
	}
	return "/dev/null", nil
}

func (s fakeSecrets) RemoveView(ns, id string) error { return nil }

// List: the fake's secrets live in the default namespace, plus "keep" in
// "guarded" for the namespace tests.
func (s fakeSecrets) List(ns string) ([]string, error) {
	switch ns {
	case "openfaas-fn":
		var names []string
		for n := range s {
			names = append(names, n)
		}
		return names, nil
	case "guarded":
		return []string{"keep"}, nil
	}
	return nil, nil
}

type harness struct {
	t   *testing.T
	rt  *fakeRuntime
	net *fakeNet
	dir string
	p   *Provider
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, rt: newFakeRuntime(t), net: newFakeNet(), dir: t.TempDir()}
	h.p = h.start()
	return h
}

// start makes a provider on h's state; a second call is a funcd restart.
func (h *harness) start() *Provider { return h.startWith(func(*Config) {}) }

// startWith is start with the configuration adjusted by mod.
func (h *harness) startWith(mod func(*Config)) *Provider {
	cfg := Config{
		StateDir:     h.dir,
		Instance:     testInstance,
		ReadyTimeout: 2 * time.Second,
		StopGrace:    time.Second,
		FunctionPort: uint16(h.rt.port),
		MaxReplicas:  50,
		Cgroups:      cgroups.Reader{Root: filepath.Join(h.dir, "host")}, // see usage_test.go
	}
	mod(&cfg)
	p := New(h.rt, h.net, fakeSecrets{"db-pass": "/dev/null"}, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := p.Restore(context.Background()); err != nil {
		h.t.Fatalf("Restore = %v", err)
	}
	h.t.Cleanup(func() { p.Shutdown(context.Background()) })
	return p
}

// invoke resolves name and GETs / from the replica it picked.
func (h *harness) invoke(p *Provider, name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	b, err := p.Resolve(ctx, name, "openfaas-fn")
	if err != nil {
		return "", err
	}
	defer b.Release()
	resp, err := http.Get("http://" + b.Host() + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testInstance is the identity of the harness's provider.
const testInstance = "0123456789abcdef0123456789abcdef"

// containerSpecFor is a container as a funcd from before instance
// identities made it: no io.funcd.instance label.
func containerSpecFor(id, fn, rev string) containerd.ContainerSpec {
	return containerd.ContainerSpec{ID: id, Labels: map[string]string{labelFunction: fn, labelRevision: rev, labelIP: "127.0.0.250"}}
}
