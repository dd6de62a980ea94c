package provider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/funcd/funcd/internal/cgroups"
	"github.com/funcd/funcd/internal/containerd"
	"github.com/funcd/funcd/internal/logs"
)

// Labels funcd puts on the containers it creates. The spec itself lives in
// funcd's state directory; these only tie a container to it.
const (
	labelFunction = "io.funcd.function" // function name
	labelRevision = "io.funcd.revision" // spec revision the container was made from
	labelIP       = "io.funcd.ip"       // address from the CNI result
	labelInstance = "io.funcd.instance" // identity of the funcd that made it (Config.Instance)
)

// defaultFunctionPort is where every OpenFaaS function listens.
const defaultFunctionPort = 8080

// replica is one container and task of a function.
type replica struct {
	id        string
	fn        string // function name
	ns        string
	revision  uint64
	host      string // "ip:8080", what the proxy dials
	netns     string // pinned network namespace
	readyPath string // from annotation com.openfaas.ready.http.path

	inflight atomic.Int64
	ready    atomic.Bool

	pid atomic.Uint32

	frozen  atomic.Bool     // idle, its group frozen (freeze.go); not ready meanwhile
	freezer cgroups.Freezer // its group's freezer, found when it was frozen

	cost replicaCost // what its current task uses; its function's costMu guards it

	remade int // times its vanished container was made again; its supervisor's own

	cancel context.CancelFunc // ends supervision
	done   chan struct{}      // closed when supervision has ended
}

// Host returns the address the proxy forwards to.
func (r *replica) Host() string { return r.host }

// Release marks one forwarded request as finished.
func (r *replica) Release() { r.inflight.Add(-1) }

// newReplicaID names a new replica of function name: the name and a random
// suffix. The ID is also the container's ID (containerd allows 76
// characters; a 63-character name gives 74), its network namespace's file
// name, its CNI container ID and its log file's name; only the hostname
// needs less (see hostname).
func newReplicaID(name string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return name + "-" + hex.EncodeToString(b)
}

// maxHostname is the longest hostname a replica gets: a DNS label (Linux
// itself refuses more than 64 bytes).
const maxHostname = 63

// hostname is the hostname of replica id: the ID itself, or, when the
// function's name is longer than 52 characters, the name cut short so that
// the ID's random suffix still fits, as Kubernetes cuts a pod's hostname.
func hostname(id string) string {
	i := strings.LastIndexByte(id, '-')
	if len(id) <= maxHostname || i < 0 || len(id)-i >= maxHostname {
		return id[:min(len(id), maxHostname)]
	}
	suffix := id[i:]
	return strings.TrimRight(id[:maxHostname-len(suffix)], "-") + suffix
}

// ErrStart wraps every reason a replica failed to start or become ready:
// the image has no usable command, the process exits, it never listens.
var ErrStart = errors.New("function did not start")

// boot runs a new task in replica r's container and waits until it is
// ready. It returns the task's exit channel for supervision. On failure the
// task is stopped; the container and network are left to the caller.
func (p *Provider) boot(ctx context.Context, r *replica) (<-chan containerd.Exit, error) {
	task, err := p.rt.NewTask(ctx, r.ns, r.id, p.logPath(r))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	r.pid.Store(task.PID)
	// Wait before Start, as containerd asks, so a fast exit is not missed.
	wctx, cancelWait := context.WithCancel(context.WithoutCancel(ctx))
	exited, err := p.rt.Wait(wctx, r.ns, r.id)
	if err == nil {
		if err = p.rt.StartTask(ctx, r.ns, r.id); err != nil {
			err = fmt.Errorf("%w: %w", ErrStart, err)
		}
	}
	if err == nil {
		err = p.probe(ctx, r, exited)
	}
	if err != nil {
		cancelWait()
		p.stopTask(r, 0)
		return nil, err
	}
	r.frozen.Store(false) // a task found running or a new one: not frozen
	r.ready.Store(true)
	return relay(exited, cancelWait), nil
}

// adopt takes over a task that is already running (funcd restarted): it
// waits for its exit and checks it is ready, without restarting it.
func (p *Provider) adopt(ctx context.Context, r *replica) (<-chan containerd.Exit, error) {
	wctx, cancelWait := context.WithCancel(context.WithoutCancel(ctx))
	exited, err := p.rt.Wait(wctx, r.ns, r.id)
	if err == nil {
		// A healthy running replica answers at once; one that does not
		// is restarted rather than holding up funcd's start.
		pctx, cancel := context.WithTimeout(ctx, adoptTimeout)
		err = p.probe(pctx, r, exited)
		cancel()
	}
	if err != nil {
		cancelWait()
		return nil, err
	}
	r.frozen.Store(false) // a task found running or a new one: not frozen
	r.ready.Store(true)
	return relay(exited, cancelWait), nil
}

// adoptTimeout bounds the readiness check of a task found running at start.
const adoptTimeout = 2 * time.Second

// relay hands the exit on, releasing the waiter once it has been read.
func relay(exited <-chan containerd.Exit, cancel context.CancelFunc) <-chan containerd.Exit {
	out := make(chan containerd.Exit, 1)
	go func() {
		defer cancel()
		defer close(out)
		if e, ok := <-exited; ok {
			out <- e
		}
	}()
	return out
}

// stopTask stops r's task, logging failures: callers are either failing
// with a better error already or tearing down.
func (p *Provider) stopTask(r *replica, grace time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), grace+30*time.Second)
	defer cancel()
	if err := p.rt.StopTask(ctx, r.ns, r.id, grace); err != nil {
		p.log.Error("stop task", "replica", r.id, "err", err)
	}
}

// probe waits until the replica accepts TCP connections on :8080 and, when
// readyPath is set, answers it with 2xx; or until the task exits, the ready
// timeout passes or ctx ends.
func (p *Provider) probe(ctx context.Context, r *replica, exited <-chan containerd.Exit) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.ReadyTimeout)
	defer cancel()
	delay, started := time.Millisecond, time.Now()
	var last error
	for {
		err := p.probeOnce(ctx, r.host, r.readyPath)
		if err == nil {
			return nil
		}
		if last == nil || ctx.Err() == nil && !isTimeout(err) {
			last = err // keep the last real answer, not one cut short by the deadline
		}
		select {
		case e := <-exited:
			return fmt.Errorf("%w: process exited with code %d before it was ready%s", ErrStart, e.Code, p.logTail(r))
		case <-ctx.Done():
			return fmt.Errorf("%w: not ready in time: %v%s", ErrStart, last, p.logTail(r))
		case <-time.After(delay):
		}
		if time.Since(started) > fastProbing {
			delay = min(delay*2, 50*time.Millisecond)
		}
	}
}

// isTimeout reports whether err is a timeout rather than an answer.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// fastProbing is how long readiness is polled every millisecond: most
// functions listen within it, and each millisecond counts in a cold start.
const fastProbing = 30 * time.Millisecond

func (p *Provider) probeOnce(ctx context.Context, host, readyPath string) error {
	d := net.Dialer{Timeout: 250 * time.Millisecond}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return fmt.Errorf("connect %s: %w", host, err)
	}
	conn.Close()
	if readyPath == "" {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, "http://"+host+readyPath, nil)
	if err != nil {
		return fmt.Errorf("ready path %q: %w", readyPath, err)
	}
	resp, err := p.probeClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", readyPath, err)
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s answered %d", readyPath, resp.StatusCode)
	}
	return nil
}

// logPath is where r's stdout and stderr are recorded (see internal/logs).
func (p *Provider) logPath(r *replica) string {
	return logs.Path(filepath.Join(p.cfg.StateDir, "logs"), r.ns, r.fn, r.id)
}

// removeLogs deletes r's log files, and its function's log directory once
// it is empty: logs go with their replica.
func (p *Provider) removeLogs(r *replica) {
	path := p.logPath(r)
	if err := logs.Remove(path); err != nil {
		p.log.Error("remove log", "replica", r.id, "err", err)
	}
	_ = os.Remove(filepath.Dir(path)) // fails while other replicas log there
}

// logTail returns the last line the replica wrote, as a hint for errors.
func (p *Provider) logTail(r *replica) string {
	f, err := os.Open(p.logPath(r))
	if err != nil {
		return ""
	}
	defer f.Close()
	data := make([]byte, 4096)
	if fi, err := f.Stat(); err == nil && fi.Size() > int64(len(data)) {
		_, _ = f.Seek(fi.Size()-int64(len(data)), io.SeekStart)
	}
	n, _ := io.ReadFull(f, data)
	s := logs.LastText(data[:n])
	if s == "" {
		return ""
	}
	return fmt.Sprintf(" (last output: %q)", s)
}
