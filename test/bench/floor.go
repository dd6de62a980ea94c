package main

import (
	"bufio"
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
	"time"

	ctd "github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/contrib/seccomp"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/oci"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/funcd/funcd/cni"
	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/containerd"
	"github.com/funcd/funcd/test/testenv"
)

// The floor's own network and containerd namespace, apart from the bench
// funcd's (fdbench0, 10.198.250.0/24, openfaas-fn).
const (
	floorBridge = "fdfloor0"
	floorNS     = "funcd-floor"
)

var floorSubnet = netip.MustParsePrefix("10.198.251.0/24")

// floor starts the bench image the way funcd does, with nothing of funcd
// in the way: pinned netns + CNI ADD, NewContainer (the same spec options
// funcd uses), NewTask with no I/O, Start, then the first 200 of /ok.
type floor struct {
	c     *ctd.Client
	net   *cni.Network
	image ctd.Image
	dir   string // holds the netns files and the CNI state, in the run directory
	n     int
}

// floorRun is one floor cold start: the total and its phases.
type floorRun struct {
	total, network, container, task, start, ready time.Duration
}

// newFloor pulls the image into the floor's namespace and sets up its
// network (recorded first, so that the Env removes it whatever happens).
func newFloor(ctx context.Context, env *testenv.Env, ref string) (*floor, error) {
	if _, err := os.Stat(filepath.Join("/sys/class/net", floorBridge)); err == nil {
		return nil, fmt.Errorf("bridge %s exists: is another benchmark running?", floorBridge)
	}
	if overlaps, err := testenv.OverlapsHost(floorSubnet); err != nil || overlaps {
		return nil, fmt.Errorf("subnet %s is in use on this host (%v)", floorSubnet, err)
	}
	if err := env.RecordNetwork(testenv.Network{Bridge: floorBridge, Subnet: floorSubnet}); err != nil {
		return nil, err
	}
	fl := &floor{c: env.Containerd.Client, dir: filepath.Join(env.Dir, "floor")}
	var err error
	fl.net, err = cni.New(ctx, cni.Config{Bridge: floorBridge, Subnet: floorSubnet, BinDirs: []string{testenv.CNIBinDir()}, Dir: filepath.Join(fl.dir, "cni")})
	if err != nil {
		return nil, err
	}
	w, err := containerd.Connect(ctx, containerd.Options{Address: env.Containerd.Socket, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, err
	}
	defer w.Close()
	name, err := w.EnsureImage(ctx, floorNS, ref, api.PullDefault)
	if err != nil {
		return nil, err
	}
	if fl.image, err = fl.c.GetImage(namespaces.WithNamespace(ctx, floorNS), name); err != nil {
		return nil, fmt.Errorf("floor image %s: %w", name, err)
	}
	return fl, nil
}

// once runs one timed cold start and cleans up after it, outside the
// timed part.
func (fl *floor) once(ctx context.Context) (r floorRun, err error) {
	ctx = namespaces.WithNamespace(ctx, floorNS)
	fl.n++
	id := fmt.Sprintf("floor-%d", fl.n)
	netns := filepath.Join(fl.dir, "netns", id)
	var ctr ctd.Container
	var task ctd.Task
	defer func() { err = errors.Join(err, fl.clean(ctx, id, netns, ctr, task)) }()

	t0 := time.Now()
	if err := cni.NewNetNS(netns); err != nil {
		return r, err
	}
	addr, err := fl.net.Attach(ctx, id, netns)
	if err != nil {
		return r, err
	}
	t1 := time.Now()
	ctr, err = fl.c.NewContainer(ctx, id,
		ctd.WithImage(fl.image),
		ctd.WithSnapshotter("overlayfs"),
		ctd.WithNewSnapshot(id+"-snapshot", fl.image),
		ctd.WithNewSpec(
			oci.WithImageConfig(fl.image),
			oci.WithHostname(id),
			oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: netns}),
			seccomp.WithDefaultProfile(),
			oci.WithNoNewPrivileges,
		),
	)
	if err != nil {
		return r, fmt.Errorf("floor: new container: %w", err)
	}
	t2 := time.Now()
	if task, err = ctr.NewTask(ctx, cio.NullIO); err != nil {
		return r, fmt.Errorf("floor: new task: %w", err)
	}
	t3 := time.Now()
	if err := task.Start(ctx); err != nil {
		return r, fmt.Errorf("floor: start task: %w", err)
	}
	t4 := time.Now()
	if err := firstOK(ctx, netip.AddrPortFrom(addr, 8080).String(), benchPath, 10*time.Second); err != nil {
		return r, fmt.Errorf("floor: %w", err)
	}
	t5 := time.Now()
	return floorRun{total: t5.Sub(t0), network: t1.Sub(t0), container: t2.Sub(t1), task: t3.Sub(t2), start: t4.Sub(t3), ready: t5.Sub(t4)}, nil
}

// clean kills and deletes the task, the container with its snapshot, and
// the network attachment and namespace; whatever of them exists.
func (fl *floor) clean(ctx context.Context, id, netns string, ctr ctd.Container, task ctd.Task) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var errs []error
	if task != nil {
		if _, err := task.Delete(ctx, ctd.WithProcessKill); err != nil && !containerd.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("floor: delete task %s: %w", id, err))
		}
	}
	if ctr != nil {
		if err := ctr.Delete(ctx, ctd.WithSnapshotCleanup); err != nil && !containerd.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("floor: delete container %s: %w", id, err))
		}
	}
	if cni.IsNetNS(netns) {
		errs = append(errs, fl.net.Detach(ctx, id, netns))
	}
	errs = append(errs, cni.RemoveNetNS(netns))
	return errors.Join(errs...)
}

// firstOK polls a TCP connect to addr every millisecond until one succeeds,
// then sends GET path on it and wants a 200.
func firstOK(ctx context.Context, addr, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := net.Dialer{Timeout: 100 * time.Millisecond}
	for {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			defer conn.Close()
			return getOn(conn, addr, path)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("connect %s: %w", addr, err)
		case <-time.After(time.Millisecond):
		}
	}
}

func getOn(conn net.Conn, addr, path string) error {
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, addr); err != nil {
		return fmt.Errorf("GET %s%s: %w", addr, path, err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return fmt.Errorf("GET %s%s: %w", addr, path, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s%s: %s", addr, path, res.Status)
	}
	return nil
}
