package containerd

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	ctd "github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
)

// Task is a created (not yet started) or running task.
type Task struct {
	PID uint32
}

// LogDriverFlag is the flag that makes the funcd binary run as the log
// driver that tasks created by funcd before the log collector still use
// (containerd's "binary" log URI); its value is the log file. The shim
// passes the arguments in no particular order, so the mode is recognised
// by this flag, not by a subcommand name.
const LogDriverFlag = "--log-driver"

// LogMaxSizeFlag passes the rotation cap to the log driver.
const LogMaxSizeFlag = "--log-max-size"

// NewTask creates container id's task without starting it, its stdout and
// stderr FIFOs read by the log collector into logPath. A task left over
// from an earlier run is deleted first.
func (c *Client) NewTask(ctx context.Context, ns, id, logPath string) (_ Task, err error) {
	defer markUnavailable(&err)
	ctx = withNS(ctx, ns)
	ctr, err := c.c.LoadContainer(ctx, id)
	if err != nil {
		return Task{}, fmt.Errorf("new task %s: %w", id, err)
	}
	if old, err := ctr.Task(ctx, nil); err == nil {
		if _, err := old.Delete(ctx, ctd.WithProcessKill); err != nil && !IsNotFound(err) {
			return Task{}, fmt.Errorf("new task %s: delete old task: %w", id, err)
		}
	}
	logPath, err = filepath.Abs(logPath) // the shim opens the FIFOs from its own directory
	if err != nil {
		return Task{}, fmt.Errorf("new task %s: %w", id, err)
	}
	if c.logs == nil {
		return Task{}, fmt.Errorf("new task %s: no log collector configured", id)
	}
	// Without FIFOs (the disk is full) the task runs with its output
	// discarded, as the log writer drops lines it cannot store.
	stdio := cio.NullIO
	pipes, err := c.logs.Attach(logPath)
	if err != nil {
		c.log.Warn("cannot capture a task's output; discarding it", "task", id, "err", err)
	} else {
		stdio = func(string) (cio.IO, error) {
			return pipeIO{cio.Config{Stdout: pipes.Stdout, Stderr: pipes.Stderr}}, nil
		}
	}
	t, err := ctr.NewTask(ctx, stdio)
	if err != nil {
		if pipes != nil {
			pipes.Abort()
		}
		return Task{}, fmt.Errorf("new task %s: %w", id, err)
	}
	if pipes != nil {
		pipes.Started()
	}
	return Task{PID: t.Pid()}, nil
}

// pipeIO names a task's stdout and stderr FIFOs for its shim and copies
// nothing itself: the log collector reads them.
type pipeIO struct{ cfg cio.Config }

func (p pipeIO) Config() cio.Config { return p.cfg }
func (pipeIO) Cancel()              {}
func (pipeIO) Wait()                {}
func (pipeIO) Close() error         { return nil }

// StartTask starts the created task of container id.
func (c *Client) StartTask(ctx context.Context, ns, id string) (err error) {
	defer markUnavailable(&err)
	t, err := c.task(ctx, ns, id)
	if err != nil {
		return fmt.Errorf("start task %s: %w", id, err)
	}
	if err := t.Start(withNS(ctx, ns)); err != nil {
		return fmt.Errorf("start task %s: %w", id, err)
	}
	return nil
}

// Exit is how a task ended.
type Exit struct {
	Code uint32
	At   time.Time
	Err  error // set when the task is gone and its exit status unknown (Code 255)
}

// Wait returns a channel that receives container id's task exit. It stops
// waiting (without a value) when ctx ends.
//
// A broken connection to containerd (containerd stopped or restarting) is
// not an exit: the task's shim keeps it running meanwhile. Wait then polls
// until containerd answers and waits again, so the channel receives how
// the task really ended, also when it ended while containerd was away. A
// task that is gone when containerd is back (its shim died with it) or
// was replaced by another one is reported as an exit with Err set.
func (c *Client) Wait(ctx context.Context, ns, id string) (_ <-chan Exit, err error) {
	defer markUnavailable(&err)
	t, err := c.task(ctx, ns, id)
	if err != nil {
		return nil, fmt.Errorf("wait task %s: %w", id, err)
	}
	st, err := t.Wait(withNS(ctx, ns))
	if err != nil {
		return nil, fmt.Errorf("wait task %s: %w", id, err)
	}
	out := make(chan Exit, 1)
	go func() {
		defer close(out)
		if e, ok := c.follow(ctx, ns, id, t.Pid(), st); ok {
			out <- e
		}
	}()
	return out, nil
}

// Bounds of the pause between attempts to wait again on a task after the
// connection to containerd broke.
const (
	rewaitMin = 250 * time.Millisecond
	rewaitMax = 2 * time.Second
)

// follow waits on st, the wait on task pid of container id, and sets the
// wait up again whenever it breaks without an exit status. It returns the
// exit, or false when ctx ends first.
func (c *Client) follow(ctx context.Context, ns, id string, pid uint32, st <-chan ctd.ExitStatus) (Exit, bool) {
	var lost time.Time // when the current wait broke
	for {
		var s ctd.ExitStatus
		select {
		case s = <-st:
		case <-ctx.Done():
			return Exit{}, false
		}
		code, at, err := s.Result()
		if err == nil {
			if !lost.IsZero() {
				c.log.Info("task exited while the wait on it was being set up again", "task", id, "code", code)
			}
			return Exit{Code: code, At: at}, true
		}
		if ctx.Err() != nil || c.closed.Load() {
			return Exit{}, false
		}
		if lost.IsZero() {
			lost = time.Now()
			c.log.Warn("lost the wait on a task; it keeps running, waiting again once containerd answers", "task", id, "err", err)
		}
		var gone error
		st, gone = c.rewait(ctx, ns, id, pid)
		if gone != nil {
			c.log.Warn("task is gone", "task", id, "err", gone)
			return Exit{Code: ctd.UnknownExitStatus, At: time.Now(), Err: gone}, true
		}
		if st == nil {
			return Exit{}, false
		}
		c.log.Info("waiting on the task again", "task", id, "after", time.Since(lost).Round(time.Millisecond))
		lost = time.Time{}
	}
}

// rewait polls, with back-off, until it can wait on task pid of container
// id again. It returns the new wait; or gone when containerd answers that
// the task no longer exists or is another one; or neither when ctx ends.
func (c *Client) rewait(ctx context.Context, ns, id string, pid uint32) (st <-chan ctd.ExitStatus, gone error) {
	delay := rewaitMin
	for {
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(delay):
		}
		delay = min(delay*2, rewaitMax)
		t, err := c.task(ctx, ns, id)
		if IsNotFound(err) {
			return nil, fmt.Errorf("wait task %s: %w", id, err)
		}
		if err != nil {
			continue // containerd is not back yet
		}
		if t.Pid() != pid {
			return nil, fmt.Errorf("wait task %s: pid %d was replaced by pid %d", id, pid, t.Pid())
		}
		if st, err := t.Wait(withNS(ctx, ns)); err == nil {
			return st, nil
		}
	}
}

// StopTask stops container id's task: SIGTERM, then SIGKILL once grace has
// passed, then deletes it. A missing task is not an error.
func (c *Client) StopTask(ctx context.Context, ns, id string, grace time.Duration) (err error) {
	defer markUnavailable(&err)
	t, err := c.task(ctx, ns, id)
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stop task %s: %w", id, err)
	}
	ctx = withNS(ctx, ns)
	if err := stop(ctx, t, grace); err != nil {
		return fmt.Errorf("stop task %s: %w", id, err)
	}
	if _, err := t.Delete(ctx, ctd.WithProcessKill); err != nil && !IsNotFound(err) {
		return fmt.Errorf("delete task %s: %w", id, err)
	}
	return nil
}

func stop(ctx context.Context, t ctd.Task, grace time.Duration) error {
	st, err := t.Status(ctx)
	if err != nil {
		return err
	}
	if st.Status == ctd.Stopped || st.Status == ctd.Created {
		return nil
	}
	if st.Status == ctd.Paused {
		if err := t.Resume(ctx); err != nil {
			return err
		}
	}
	exited, err := t.Wait(ctx)
	if err != nil {
		return err
	}
	if grace > 0 {
		if err := t.Kill(ctx, syscall.SIGTERM); err != nil && !IsNotFound(err) {
			return err
		}
		select {
		case <-exited:
			return nil
		case <-time.After(grace):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := t.Kill(ctx, syscall.SIGKILL, ctd.WithKillAll); err != nil && !IsNotFound(err) {
		return err
	}
	select {
	case <-exited:
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("task did not exit after SIGKILL")
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) task(ctx context.Context, ns, id string) (ctd.Task, error) {
	ctx = withNS(ctx, ns)
	ctr, err := c.c.LoadContainer(ctx, id)
	if err != nil {
		return nil, err
	}
	return ctr.Task(ctx, nil)
}

// Exec runs args in container id's running task, as its own process with
// the task's user, environment and working directory, output discarded,
// and returns its exit code. It gives up (killing the process) when ctx
// ends. Healthchecks of side services use it.
func (c *Client) Exec(ctx context.Context, ns, id string, args []string) (_ uint32, err error) {
	defer markUnavailable(&err)
	t, err := c.task(ctx, ns, id)
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	nctx := withNS(ctx, ns)
	spec, err := t.Spec(nctx)
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	proc := *spec.Process
	proc.Args = args
	proc.Terminal = false
	execID := "exec-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	p, err := t.Exec(nctx, execID, &proc, cio.NullIO)
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	// The process must be deleted whatever happens, also when ctx ended.
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(nctx), 5*time.Second)
		defer cancel()
		_, _ = p.Delete(dctx, ctd.WithProcessKill)
	}()
	st, err := p.Wait(nctx)
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	if err := p.Start(nctx); err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	select {
	case s := <-st:
		code, _, err := s.Result()
		if err != nil {
			return 0, fmt.Errorf("exec in %s: %w", id, err)
		}
		return code, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("exec in %s: %w", id, ctx.Err())
	}
}
