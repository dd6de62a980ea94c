package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/containerd"
)

// annotationPullPolicy overrides --pull-policy for one function: always,
// missing or never (validated at deploy).
const annotationPullPolicy = "com.funcd.pull-policy"

// Images: funcd keeps function images in containerd, in the namespace of
// the functions. They come from registries (pulled at deploy, as the pull
// policy says) or from archives imported through the API, for boxes
// without a registry or without a network. An image a function is
// deployed with cannot be removed.

// pullPolicy is d's pull policy: its annotation, else the host's.
func (p *Provider) pullPolicy(d api.FunctionDeployment) api.PullPolicy {
	if pp, err := api.ParsePullPolicy(d.Annotations[annotationPullPolicy]); err == nil {
		return pp
	}
	return p.cfg.PullPolicy
}

func validatePullPolicy(d api.FunctionDeployment) error {
	v, ok := d.Annotations[annotationPullPolicy]
	if !ok {
		return nil
	}
	if _, err := api.ParsePullPolicy(v); err != nil {
		return fmt.Errorf("%w: annotation %s: %q must be always, missing or never", ErrInvalid, annotationPullPolicy, v)
	}
	return nil
}

// ensureImage makes d's image available as its pull policy says. The
// caller holds p.images for reading until the function's record names
// the image, so that RemoveImage cannot take it away in between.
func (p *Provider) ensureImage(ctx context.Context, d api.FunctionDeployment) (string, error) {
	image, err := p.rt.EnsureImage(ctx, d.Namespace, d.Image, p.pullPolicy(d))
	if errors.Is(err, containerd.ErrPull) || errors.Is(err, containerd.ErrNoImage) {
		return "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return image, err
}

// ImportImages reads an image archive (a docker-archive or OCI layout tar
// stream) into namespace ns and returns the images it named, unpacked and
// ready to deploy. A bad archive is ErrInvalid and leaves nothing behind.
func (p *Provider) ImportImages(ctx context.Context, ns string, archive io.Reader) ([]api.Image, error) {
	if err := p.checkImageNamespace(ns); err != nil {
		return nil, err
	}
	imgs, err := p.rt.Import(ctx, ns, archive)
	if errors.Is(err, containerd.ErrBadArchive) {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err != nil {
		return nil, err
	}
	out := make([]api.Image, len(imgs))
	for i, img := range imgs {
		out[i] = api.Image{Name: img.Name, Digest: img.Digest, Size: img.Size}
		p.log.Info("imported image", "namespace", ns, "image", img.Name, "digest", img.Digest, "size", img.Size)
	}
	return out, nil
}

// Images lists the images in namespace ns with the functions using each.
func (p *Provider) Images(ctx context.Context, ns string) ([]api.Image, error) {
	if err := p.checkImageNamespace(ns); err != nil {
		return nil, err
	}
	imgs, err := p.rt.Images(ctx, ns)
	if err != nil {
		return nil, err
	}
	out := make([]api.Image, len(imgs))
	for i, img := range imgs {
		out[i] = api.Image{Name: img.Name, Digest: img.Digest, Size: img.Size, Functions: p.UsingImage(ns, img.Name)}
	}
	return out, nil
}

// RemoveImage deletes image ref from namespace ns. While a function is
// deployed with it (at any scale, parked at zero too) the answer is
// ErrInUse naming the functions; a missing image is ErrNotFound.
func (p *Provider) RemoveImage(ctx context.Context, ns, ref string) error {
	if err := p.checkImageNamespace(ns); err != nil {
		return err
	}
	name, err := containerd.NormalizeRef(ref)
	if err != nil {
		return fmt.Errorf("%w: image %q: not a valid reference", ErrInvalid, ref)
	}
	p.images.Lock()
	defer p.images.Unlock()
	if users := p.UsingImage(ns, name); len(users) > 0 {
		return fmt.Errorf("%w: image %s is used by function(s) %s; remove them or deploy them with another image first",
			ErrInUse, name, strings.Join(users, ", "))
	}
	err = p.rt.RemoveImage(ctx, ns, name)
	if containerd.IsNotFound(err) && !errors.Is(err, containerd.ErrUnavailable) {
		return fmt.Errorf("image %s in namespace %s: %w", name, ns, ErrNotFound)
	}
	if err != nil {
		return err
	}
	p.log.Info("removed image", "namespace", ns, "image", name)
	return nil
}

// UsingImage returns the functions in namespace ns deployed with image
// (as containerd names it), sorted.
func (p *Provider) UsingImage(ns, image string) []string {
	var out []string
	for _, f := range p.inNamespace(ns) {
		if rec, _ := f.snapshot(); rec.Image == image {
			out = append(out, rec.Spec.Service)
		}
	}
	slices.Sort(out)
	return out
}

// checkImageNamespace refuses a namespace that does not exist; the side
// services' namespace exists for images (offline boxes import theirs).
func (p *Provider) checkImageNamespace(ns string) error {
	if ns == api.ServicesNamespace {
		return nil
	}
	return p.checkNamespace(ns)
}

// checkNamespace refuses a namespace that does not exist.
func (p *Provider) checkNamespace(ns string) error {
	if !p.namespaceExists(ns) {
		return fmt.Errorf("%w: namespace %q not found", ErrInvalid, ns)
	}
	return nil
}
