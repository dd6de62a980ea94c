package systemd

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// dialInNetns returns a DialContext that opens each connection from inside
// the network namespace of the process pid() names at the time of the
// dial. The container has a private network, so this is how the test
// reaches 127.0.0.1:8080 there without a process in between: the socket is
// created on a thread switched into the namespace and keeps belonging to it.
// addr must be an IP address, not a name (a name would be resolved on
// other threads, in the host's namespace).
func dialInNetns(pid func() int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			conn net.Conn
			err  error
		}
		done := make(chan result, 1)
		go func() {
			c, err := dialOnThread(ctx, pid(), network, addr)
			done <- result{c, err}
		}()
		r := <-done
		return r.conn, r.err
	}
}

// dialOnThread switches this goroutine's locked thread into pid's network
// namespace, dials, and switches back. A thread that cannot switch back is
// never unlocked, so the runtime ends it with the goroutine.
func dialOnThread(ctx context.Context, pid int, network, addr string) (net.Conn, error) {
	runtime.LockOSThread()
	own, err := os.Open(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()))
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer own.Close()
	target, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("network namespace of pid %d: %w", pid, err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("enter the network namespace of pid %d: %w", pid, err)
	}
	var d net.Dialer
	conn, dialErr := d.DialContext(ctx, network, addr)
	if err := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); err == nil {
		runtime.UnlockOSThread()
	}
	return conn, dialErr
}

// netnsHTTPClient is an HTTP client whose connections start inside pid()'s
// network namespace; each request gives up after timeout.
func netnsHTTPClient(pid func() int, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:         dialInNetns(pid),
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     30 * time.Second,
		},
	}
}
