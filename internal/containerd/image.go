package containerd

import (
	"context"
	"errors"
	"fmt"
	"strings"

	ctd "github.com/containerd/containerd"
	"github.com/distribution/reference"

	"github.com/funcd/funcd/internal/api"
)

// ErrPull marks an image that could not be pulled: a bad reference, a
// missing image, refused credentials or an unreachable registry. Callers
// answer it as bad input.
var ErrPull = errors.New("unable to pull image")

// Registries says how to reach image registries.
type Registries struct {
	// Insecure lists host:port registries reached over plain HTTP, in
	// addition to localhost and 127.0.0.0/8, which always are.
	Insecure []string
	// DockerConfig is the path of a Docker config.json holding
	// credentials ("auths"); a missing file means anonymous pulls.
	DockerConfig string
}

// NormalizeRef turns a short reference ("alpine", "me/fn:1") into the fully
// qualified form containerd stores ("docker.io/library/alpine:latest").
func NormalizeRef(ref string) (string, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", fmt.Errorf("%w %q: %v", ErrPull, ref, err)
	}
	return named.String(), nil
}

// ErrNoImage marks an image that is not in the local store when the pull
// policy forbids pulling it. Callers answer it as bad input.
var ErrNoImage = errors.New("image not present")

// EnsureImage makes the image available and unpacked in namespace ns,
// asking a registry as policy says:
//
//   - api.PullDefault: a reference pinned to a tag other than "latest", or
//     to a digest, is used from the local store when present (so a box
//     without internet, or with imported images, keeps working).
//     Otherwise the image is pulled; if that fails but a local copy
//     exists, the local copy is used and a warning logged.
//   - api.PullMissing: the local copy whenever there is one, whatever the
//     tag; the registry is asked only when there is none.
//   - api.PullNever: the local copy, or ErrNoImage.
//   - api.PullAlways: always pulled; a failed pull is an error even when a
//     local copy exists.
//
// When containerd cannot be reached the error wraps ErrUnavailable, not
// ErrPull: the reference is not at fault.
func (c *Client) EnsureImage(ctx context.Context, ns, ref string, policy api.PullPolicy) (_ string, err error) {
	defer markUnavailable(&err)
	ref, err = NormalizeRef(ref)
	if err != nil {
		return "", err
	}
	ctx = withNS(ctx, ns)
	local, lerr := c.c.GetImage(ctx, ref)
	if lerr != nil && isUnavailable(lerr) {
		return "", fmt.Errorf("image %s: %w", ref, lerr)
	}
	present := lerr == nil
	useLocal := present && (policy == api.PullMissing || policy == api.PullNever ||
		policy == api.PullDefault && !floating(ref))
	if useLocal {
		return ref, c.unpack(ctx, local)
	}
	if policy == api.PullNever {
		return "", fmt.Errorf("%w: %s is not in containerd namespace %s and its pull policy is never: load it with `funcd image import FILE` (e.g. from `docker save`)",
			ErrNoImage, ref, ns)
	}
	img, err := c.c.Pull(ctx, ref,
		ctd.WithPullUnpack,
		ctd.WithPullSnapshotter(c.snapshotter),
		ctd.WithResolver(c.resolver()),
	)
	if err != nil {
		// A pull fails in the registry or in containerd; only asking
		// containerd tells which (registry errors can look alike).
		if perr := c.Ping(ctx); errors.Is(perr, ErrUnavailable) {
			return "", fmt.Errorf("pull %s: %w: %v", ref, ErrUnavailable, err)
		}
		if present && policy == api.PullDefault {
			c.log.Warn("pull failed; using the local copy", "image", ref, "err", err)
			return ref, c.unpack(ctx, local)
		}
		if policy == api.PullAlways {
			return "", fmt.Errorf("%w %s (pull policy always): %v", ErrPull, ref, err)
		}
		return "", fmt.Errorf("%w %s: %v", ErrPull, ref, err)
	}
	return img.Name(), nil
}

func (c *Client) unpack(ctx context.Context, img ctd.Image) error {
	ok, err := img.IsUnpacked(ctx, c.snapshotter)
	if err != nil {
		return fmt.Errorf("check unpacked %s: %w", img.Name(), err)
	}
	if ok {
		return nil
	}
	if err := img.Unpack(ctx, c.snapshotter); err != nil {
		return fmt.Errorf("unpack %s: %w", img.Name(), err)
	}
	return nil
}

// floating reports whether ref names a tag expected to move.
func floating(ref string) bool {
	if strings.Contains(ref, "@") {
		return false
	}
	return strings.HasSuffix(ref, ":latest")
}
