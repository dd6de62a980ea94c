// Package containerd is funcd's only door to containerd: connecting (and
// waiting for the daemon), pulling images, creating containers from small
// named spec options, running, stopping and deleting their tasks, and
// listing what exists. It is the one package that puts the containerd
// namespace on a context.
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
	"time"

	ctd "github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/errdefs"
)

// ErrNotFound is returned (wrapped) when a container, task or image does not
// exist.
var ErrNotFound = errdefs.ErrNotFound

// IsNotFound reports whether err means the object does not exist.
func IsNotFound(err error) bool { return errdefs.IsNotFound(err) || errors.Is(err, ErrNotFound) }

// Client wraps a containerd client with funcd's registry settings.
type Client struct {
	c           *ctd.Client
	snapshotter string
	registries  Registries
	logDriver   LogDriver
	log         *slog.Logger
}

// Options configure Connect.
type Options struct {
	Address     string // containerd's socket
	Snapshotter string // default "overlayfs"
	Registries  Registries
	LogDriver   LogDriver // records each task's stdout and stderr
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
			return &Client{c: c, snapshotter: opts.Snapshotter, registries: opts.Registries, logDriver: opts.LogDriver, log: log}, nil
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
func (c *Client) Close() error { return c.c.Close() }

// Version returns the daemon's version.
func (c *Client) Version(ctx context.Context) (string, error) {
	v, err := c.c.Version(ctx)
	if err != nil {
		return "", fmt.Errorf("containerd version: %w", err)
	}
	return v.Version, nil
}

func withNS(ctx context.Context, ns string) context.Context {
	return namespaces.WithNamespace(ctx, ns)
}
