package containerd

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	containersapi "github.com/containerd/containerd/api/services/containers/v1"
	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	versionapi "github.com/containerd/containerd/api/services/version/v1"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/funcd/funcd/internal/api"
)

// fakeDaemon serves the few containerd gRPC calls Wait makes (version,
// container get, task get and wait) on a unix socket, and can be stopped
// and started again on the same socket, as a containerd restart does. Its
// tasks outlive a stop, as real ones do under their shims.
type fakeDaemon struct {
	t    *testing.T
	sock string

	mu    sync.Mutex
	srv   *grpc.Server
	done  chan struct{} // closed when srv has stopped serving
	tasks map[string]*fakeTask
	waits int // Wait calls received, over all starts
}

type fakeTask struct {
	pid    uint32
	code   uint32
	exited chan struct{} // closed when the task exits
}

func newFakeDaemon(t *testing.T) *fakeDaemon {
	d := &fakeDaemon{t: t, sock: filepath.Join(t.TempDir(), "c.sock"), tasks: map[string]*fakeTask{}}
	d.start()
	t.Cleanup(d.stop)
	return d
}

// start serves on d.sock.
func (d *fakeDaemon) start() {
	d.t.Helper()
	ln, err := net.Listen("unix", d.sock)
	if err != nil {
		d.t.Fatal(err)
	}
	srv := grpc.NewServer()
	versionapi.RegisterVersionServer(srv, fakeVersion{})
	containersapi.RegisterContainersServer(srv, fakeContainers{d: d})
	tasksapi.RegisterTasksServer(srv, fakeTasks{d: d})
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	d.mu.Lock()
	d.srv, d.done = srv, done
	d.mu.Unlock()
}

// stop ends serving and breaks every connection, calls in flight included.
func (d *fakeDaemon) stop() {
	d.mu.Lock()
	srv, done := d.srv, d.done
	d.srv = nil
	d.mu.Unlock()
	if srv != nil {
		srv.Stop()
		<-done
	}
}

// run adds a running task to container id.
func (d *fakeDaemon) run(id string, pid uint32) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tasks[id] = &fakeTask{pid: pid, exited: make(chan struct{})}
}

// exit ends container id's task with code.
func (d *fakeDaemon) exit(id string, code uint32) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tasks[id].code = code
	close(d.tasks[id].exited)
}

// remove deletes container id's task, as containerd does on start when a
// task's shim has died.
func (d *fakeDaemon) remove(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.tasks, id)
}

func (d *fakeDaemon) task(id string) (*fakeTask, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if t := d.tasks[id]; t != nil {
		return t, nil
	}
	return nil, status.Errorf(codes.NotFound, "task %s: not found", id)
}

func (d *fakeDaemon) waitCalls() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.waits
}

type fakeVersion struct {
	versionapi.UnimplementedVersionServer
}

func (fakeVersion) Version(context.Context, *emptypb.Empty) (*versionapi.VersionResponse, error) {
	return &versionapi.VersionResponse{Version: "fake"}, nil
}

type fakeContainers struct {
	containersapi.UnimplementedContainersServer
	d *fakeDaemon
}

func (s fakeContainers) Get(_ context.Context, r *containersapi.GetContainerRequest) (*containersapi.GetContainerResponse, error) {
	return &containersapi.GetContainerResponse{Container: &containersapi.Container{ID: r.ID}}, nil
}

type fakeTasks struct {
	tasksapi.UnimplementedTasksServer
	d *fakeDaemon
}

func (s fakeTasks) Get(_ context.Context, r *tasksapi.GetRequest) (*tasksapi.GetResponse, error) {
	t, err := s.d.task(r.ContainerID)
	if err != nil {
		return nil, err
	}
	return &tasksapi.GetResponse{Process: &tasktypes.Process{ContainerID: r.ContainerID, ID: r.ContainerID, Pid: t.pid, Status: tasktypes.Status_RUNNING}}, nil
}

func (s fakeTasks) Wait(ctx context.Context, r *tasksapi.WaitRequest) (*tasksapi.WaitResponse, error) {
	s.d.mu.Lock()
	s.d.waits++
	s.d.mu.Unlock()
	t, err := s.d.task(r.ContainerID)
	if err != nil {
		return nil, err
	}
	select {
	case <-t.exited:
		return &tasksapi.WaitResponse{ExitStatus: t.code}, nil
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

func connectFake(t *testing.T, d *fakeDaemon) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := Connect(ctx, Options{Address: d.sock, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("Connect = %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// noExit fails the test if exited delivers anything within d.
func noExit(t *testing.T, exited <-chan Exit, d time.Duration, when string) {
	t.Helper()
	select {
	case e, ok := <-exited:
		t.Fatalf("%s: Wait delivered %+v (ok %v), want nothing: the task still runs", when, e, ok)
	case <-time.After(d):
	}
}

// receive returns what exited delivers, failing the test after a deadline.
func receive(t *testing.T, exited <-chan Exit) (Exit, bool) {
	t.Helper()
	select {
	case e, ok := <-exited:
		return e, ok
	case <-time.After(20 * time.Second):
		t.Fatal("Wait delivered nothing within 20s")
		return Exit{}, false
	}
}

// eventually polls cond until it holds, failing the test after a deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWaitOutlivesContainerdRestart: a restart of containerd breaks the
// wait on a task, but is no exit of the task. Wait carries on and reports
// the task's real exit, whether it comes after containerd is back or while
// containerd is away; a task gone when containerd is back is reported as
// an exit with Err set.
func TestWaitOutlivesContainerdRestart(t *testing.T) {
	tests := []struct {
		name string
		// whileDown happens to task "fn" while containerd is stopped;
		// afterUp once containerd answers again and Wait has waited anew.
		whileDown, afterUp func(d *fakeDaemon)
		wantCode           uint32
		wantErr            bool
	}{
		{name: "exit after the restart", afterUp: func(d *fakeDaemon) { d.exit("fn", 3) }, wantCode: 3},
		{name: "exit during the restart", whileDown: func(d *fakeDaemon) { d.exit("fn", 7) }, wantCode: 7},
		{name: "task gone after the restart", whileDown: func(d *fakeDaemon) { d.remove("fn") }, wantCode: 255, wantErr: true},
		{name: "task replaced during the restart", whileDown: func(d *fakeDaemon) { d.run("fn", 4243) }, wantCode: 255, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newFakeDaemon(t)
			d.run("fn", 4242)
			c := connectFake(t, d)
			exited, err := c.Wait(t.Context(), "ns", "fn")
			if err != nil {
				t.Fatalf("Wait = %v", err)
			}
			eventually(t, "the first wait to reach containerd", func() bool { return d.waitCalls() == 1 })

			d.stop()
			noExit(t, exited, 500*time.Millisecond, "containerd stopped")
			if tt.whileDown != nil {
				tt.whileDown(d)
			}
			d.start()
			if tt.afterUp != nil {
				eventually(t, "Wait to wait again", func() bool { return d.waitCalls() >= 2 })
				noExit(t, exited, 100*time.Millisecond, "containerd back")
				tt.afterUp(d)
			}
			e, ok := receive(t, exited)
			if !ok || e.Code != tt.wantCode || (e.Err != nil) != tt.wantErr {
				t.Errorf("Wait across a restart delivered %+v (ok %v), want code %d, Err set %v", e, ok, tt.wantCode, tt.wantErr)
			}
		})
	}
}

// TestWaitEndsWithContextWhileContainerdIsDown: a wait that is being set
// up again stops when its context ends, without an exit.
func TestWaitEndsWithContextWhileContainerdIsDown(t *testing.T) {
	d := newFakeDaemon(t)
	d.run("fn", 4242)
	c := connectFake(t, d)
	ctx, cancel := context.WithCancel(t.Context())
	exited, err := c.Wait(ctx, "ns", "fn")
	if err != nil {
		t.Fatalf("Wait = %v", err)
	}
	eventually(t, "the wait to reach containerd", func() bool { return d.waitCalls() == 1 })
	d.stop()
	noExit(t, exited, 300*time.Millisecond, "containerd stopped")
	cancel()
	if e, ok := receive(t, exited); ok {
		t.Errorf("Wait after cancel delivered %+v, want the channel closed without an exit", e)
	}
}

// TestUnavailable: with containerd stopped every call fails with an error
// that says so (ErrUnavailable), and a pull failure is not blamed on the
// image (ErrPull).
func TestUnavailable(t *testing.T) {
	d := newFakeDaemon(t)
	c := connectFake(t, d)
	ctx := t.Context()
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping with containerd up = %v, want nil", err)
	}
	d.stop()
	calls := []struct {
		name string
		call func() error
	}{
		{"Ping", func() error { return c.Ping(ctx) }},
		{"EnsureImage", func() error { _, err := c.EnsureImage(ctx, "ns", "example.com/fn:1", api.PullDefault); return err }},
		{"EnsureImage never", func() error { _, err := c.EnsureImage(ctx, "ns", "example.com/fn:1", api.PullNever); return err }},
		{"Import", func() error { _, err := c.Import(ctx, "ns", strings.NewReader("x")); return err }},
		{"Images", func() error { _, err := c.Images(ctx, "ns"); return err }},
		{"RemoveImage", func() error { return c.RemoveImage(ctx, "ns", "example.com/fn:1") }},
		{"Create", func() error { return c.Create(ctx, "ns", ContainerSpec{ID: "fn", Image: "example.com/fn:1"}) }},
		{"NewTask", func() error { _, err := c.NewTask(ctx, "ns", "fn", t.TempDir()+"/fn.log"); return err }},
		{"StartTask", func() error { return c.StartTask(ctx, "ns", "fn") }},
		{"Wait", func() error { _, err := c.Wait(ctx, "ns", "fn"); return err }},
		{"StopTask", func() error { return c.StopTask(ctx, "ns", "fn", 0) }},
		{"Delete", func() error { return c.Delete(ctx, "ns", "fn") }},
		{"List", func() error { _, err := c.List(ctx, "ns", nil); return err }},
		{"Version", func() error { _, err := c.Version(ctx); return err }},
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrPull) || errors.Is(err, ErrNoImage) || errors.Is(err, ErrBadArchive) {
				t.Errorf("%s with containerd stopped = %v, want ErrUnavailable (and not ErrPull, ErrNoImage, ErrBadArchive)", tt.name, err)
			}
		})
	}
	d.start()
	eventually(t, "Ping to succeed once containerd is back", func() bool { return c.Ping(ctx) == nil })
}
