package imagebuild

import (
	"context"
	"fmt"
	"net"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Push uploads img to the registry as ref. A registry on localhost or a
// loopback address is spoken to over plain HTTP.
func Push(ctx context.Context, img v1.Image, ref string) error {
	r, err := parseRef(ref)
	if err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	if err := remote.Write(r, img, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	return nil
}

// WriteTarball writes img tagged ref to path as a docker-archive tarball,
// the format `ctr images import` and `docker load` read.
func WriteTarball(img v1.Image, ref, path string) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("write tarball %s: %w", path, err)
	}
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("write tarball %s: %w", path, err)
	}
	return nil
}

func parseRef(ref string) (name.Reference, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	if isLoopback(r.Context().RegistryStr()) {
		return name.ParseReference(ref, name.Insecure)
	}
	return r, nil
}

// isLoopback reports whether a registry host[:port] names this machine.
func isLoopback(registry string) bool {
	host, _, err := net.SplitHostPort(registry)
	if err != nil {
		host = registry
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
