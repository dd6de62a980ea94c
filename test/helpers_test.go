package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// eventually calls f until it returns nil, failing the test with f's last
// error when timeout passes first.
func eventually(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	if err := poll(ctx, f); err != nil {
		t.Fatalf("not done after %v: %v", timeout, err)
	}
}

// poll calls f with a growing pause (10ms up to 250ms) until it returns nil
// or ctx ends; then it returns f's last error.
func poll(ctx context.Context, f func() error) error {
	pause := 10 * time.Millisecond
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
		pause = min(2*pause, 250*time.Millisecond)
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// httpGetOK returns nil when GET url answers 200.
func httpGetOK(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, res.Status)
	}
	return nil
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(read %s: %v)", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// daemon is a background process the harness started and owns. Its output
// goes to a log file.
type daemon struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed once the process has exited and been reaped
	err  error         // the result of Wait, set before done is closed
}

// startDaemon runs argv in its own process group (so a Ctrl-C reaches only
// the harness, which then stops it in order) with output appended to
// logPath. A nil env means the harness's environment.
func startDaemon(name, logPath string, env []string, argv ...string) (*daemon, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	d := &daemon{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		d.err = cmd.Wait()
		close(d.done)
	}()
	return d, nil
}

// exited reports whether the process has exited.
func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, then SIGKILL when the process has not exited after
// grace, and waits for it.
func (d *daemon) stop(grace time.Duration) error {
	if d.exited() {
		return nil
	}
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil && !d.exited() {
		return fmt.Errorf("stop %s: %w", d.name, err)
	}
	select {
	case <-d.done:
		return nil
	case <-time.After(grace):
	}
	d.kill()
	return fmt.Errorf("stop %s: still running %v after SIGTERM, killed", d.name, grace)
}

// kill sends SIGKILL and waits for the process to be reaped.
func (d *daemon) kill() {
	if !d.exited() {
		_ = d.cmd.Process.Kill()
	}
	<-d.done
}

// waitReady polls ready until it succeeds, ctx ends or the daemon exits; the
// error then carries the end of the daemon's log.
func (d *daemon) waitReady(ctx context.Context, timeout time.Duration, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	go func() {
		select {
		case <-d.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := poll(ctx, func() error { return ready(ctx) })
	if err == nil {
		return nil
	}
	if d.exited() {
		err = fmt.Errorf("exited (%v)", d.err)
	}
	return fmt.Errorf("%s not ready: %w\n--- %s ---\n%s", d.name, err, d.log, tail(d.log, 30))
}

// run runs a command and returns its standard output; the error carries its
// standard error.
func run(ctx context.Context, argv ...string) (string, error) {
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, bytes.TrimSpace(errOut.Bytes()))
	}
	return out.String(), nil
}
