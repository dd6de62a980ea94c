// Package containerd is funcd's only door to containerd: connecting (and
// waiting for the daemon), pulling, importing and removing images,
// creating containers from small named spec options, running, stopping
// and deleting their tasks, and listing what exists. It is the one
// package that puts the containerd namespace on a context.
//
// It knows nothing of OpenFaaS; callers pass plain values and get plain
// values back. It must not import the provider, proxy or gateway.
package containerd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	ctd "github.com/containerd/containerd"
	ctderrdefs "github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/errdefs"

	"github.com/funcd/funcd/internal/logs"
)

// ErrNotFound is returned (wrapped) when a container, task or image does not
// exist.
var ErrNotFound = errdefs.ErrNotFound

// IsNotFound reports whether err means the object does not exist.
func IsNotFound(err error) bool { return errdefs.IsNotFound(err) || errors.Is(err, ErrNotFound) }

// ErrUnavailable is returned (wrapped) by every method when containerd
// cannot be reached: it is stopped or restarting. Nothing was done; the
// call may be retried once containerd is back (the connection reconnects
// by itself).
var ErrUnavailable = errors.New("containerd is unavailable")

// isUnavailable reports whether err says containerd could not be reached.
// Some client calls turn gRPC errors into errdefs classes, others (Wait,
// Version) return them as they are; both are recognised.
func isUnavailable(err error) bool {
	return errors.Is(err, ErrUnavailable) || errdefs.IsUnavailable(err) ||
		errdefs.IsUnavailable(ctderrdefs.FromGRPC(err))
}

// markUnavailable wraps *err with ErrUnavailable when it says containerd
// could not be reached. Exported methods defer it, so callers can check
// errors.Is(err, ErrUnavailable) whatever the call.
func markUnavailable(err *error) {
	if *err != nil && !errors.Is(*err, ErrUnavailable) && isUnavailable(*err) {
		*err = fmt.Errorf("%w: %w", ErrUnavailable, *err)
	}
}

// Client wraps a containerd client with funcd's registry settings.
type Client struct {
	c           *ctd.Client
	snapshotter string
	registries  Registries
	logs        *logs.Collector
	log         *slog.Logger
	importing   chan struct{} // held by the one Import running
	closed      atomic.Bool   // Close was called: broken waits are ours, not containerd's
}

// Options configure Connect.
type Options struct {
	Address     string // containerd's socket
	Snapshotter string // default "overlayfs"
	Registries  Registries
	Logs        *logs.Collector // records each task's stdout and stderr
	Log         *slog.Logger
}

// Connect dials containerd and waits until it answers, logging plainly and
// retrying with back-off while it is not there. It returns only when
// connected or when ctx ends.
func Connect(ctx context.Context, opts Options) (*Client, error) {
	if opts.Snapshotter == "" {
		opts.Snapshotter = "overlayfs"
	}
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	delay := 250 * time.Millisecond
	for {
		c, err := dial(ctx, opts.Address)
		if err == nil {
			return &Client{c: c, snapshotter: opts.Snapshotter, registries: opts.Registries, logs: opts.Logs, log: log,
				importing: make(chan struct{}, 1)}, nil
		}
		log.Warn("containerd is not reachable yet; retrying", "address", opts.Address, "err", err, "retry_in", delay)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to containerd at %s: %w", opts.Address, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}

func dial(ctx context.Context, address string) (*ctd.Client, error) {
	if _, err := os.Stat(address); err != nil {
		return nil, fmt.Errorf("no socket at %s (is containerd running?)", address)
	}
	c, err := ctd.New(address, ctd.WithTimeout(2*time.Second))
	if err != nil {
		return nil, err
	}
	vctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := c.Version(vctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Close releases the connection. Running tasks are unaffected.
func (c *Client) Close() error {
	c.closed.Store(true)
	return c.c.Close()
}

// Version returns the daemon's version.
func (c *Client) Version(ctx context.Context) (_ string, err error) {
	defer markUnavailable(&err)
	v, err := c.c.Version(ctx)
	if err != nil {
		return "", fmt.Errorf("containerd version: %w", err)
	}
	return v.Version, nil
}

// pingTimeout bounds Ping: a containerd that does not answer a version
// request within it is as good as down for an API call.
const pingTimeout = 3 * time.Second

// Ping checks that containerd answers. When it does not (it is stopped,
// restarting or hung), the error wraps ErrUnavailable. Operations that
// change several things call it first, so that they fail before changing
// anything rather than half-way.
func (c *Client) Ping(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	_, err := c.c.Version(pctx)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("ping containerd: %w", ctx.Err())
	case isUnavailable(err) || errors.Is(pctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("ping containerd: %w: %w", ErrUnavailable, err)
	default:
		return fmt.Errorf("ping containerd: %w", err)
	}
}

func withNS(ctx context.Context, ns string) context.Context {
	return namespaces.WithNamespace(ctx, ns)
}
