package containerd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	ctd "github.com/containerd/containerd"
	"github.com/containerd/containerd/archive/compression"
	"github.com/containerd/containerd/content"
	"github.com/containerd/containerd/images"
	"github.com/containerd/containerd/labels"
	"github.com/containerd/containerd/leases"
	"github.com/containerd/platforms"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrBadArchive marks an image archive that cannot be imported: neither a
// docker-archive nor an OCI image layout, truncated, inconsistent, naming
// no image, or built for another platform. Callers answer it as bad input.
var ErrBadArchive = errors.New("bad image archive")

// Image is an image in containerd's store.
type Image struct {
	Name   string // docker.io/library/alpine:3.20
	Digest string // of the manifest (or index) Name points to
	Size   int64  // bytes of content for this host's platform
}

// importLeaseTTL bounds how long the content of an import interrupted by
// funcd dying is kept before containerd collects it.
const importLeaseTTL = 24 * time.Hour

// cleanupTimeout bounds undoing an import after its caller has gone.
const cleanupTimeout = time.Minute

// Import reads a docker-archive or OCI image-layout tar stream into
// namespace ns and unpacks each image it names for funcd's snapshotter,
// so a deploy can use it at once. Imports run one at a time.
//
// Everything is written under a lease: if the archive turns out bad (the
// error wraps ErrBadArchive), images it created are deleted, names it
// overwrote point where they pointed before, and deleting the lease has
// containerd collect its content and snapshots before Import returns.
func (c *Client) Import(ctx context.Context, ns string, archive io.Reader) (_ []Image, err error) {
	defer markUnavailable(&err)
	select {
	case c.importing <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("import: %w", ctx.Err())
	}
	defer func() { <-c.importing }()
	ctx = withNS(ctx, ns)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()

	before, err := c.c.ImageService().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("import: list images: %w", err)
	}
	ls := c.c.LeasesService()
	lease, err := ls.Create(ctx, leases.WithRandomID(), leases.WithExpiration(importLeaseTTL))
	if err != nil {
		return nil, fmt.Errorf("import: create lease: %w", err)
	}
	defer func() {
		if derr := ls.Delete(cctx, lease, leases.SynchronousDelete); derr != nil {
			c.log.Warn("import: delete lease; containerd collects its content when it expires", "lease", lease.ID, "err", derr)
		}
	}()
	// An image the archive renames keeps its old content until the
	// import is done or undone.
	for _, img := range before {
		if err := ls.AddResource(ctx, lease, leases.Resource{ID: img.Target.Digest.String(), Type: "content"}); err != nil {
			return nil, fmt.Errorf("import: lease %s: %w", img.Name, err)
		}
	}
	lctx := leases.WithLease(ctx, lease.ID)

	names := &ociNames{}
	imgs, err := c.c.Import(lctx, archive, ctd.WithImageRefTranslator(names.translate))
	if err != nil {
		return nil, c.importError(ctx, "import", err)
	}
	imgs = uniqueImages(imgs)
	ok := false
	defer func() {
		if !ok {
			c.undoImport(cctx, before, imgs)
		}
	}()
	if err := names.check(len(imgs)); err != nil {
		return nil, err
	}
	out := make([]Image, 0, len(imgs))
	for _, img := range imgs {
		info, err := c.unpackImported(lctx, img)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	ok = true
	return out, nil
}

// importError classifies an error of reading or unpacking an archive:
// the caller gone, containerd gone, or (else) the archive at fault.
func (c *Client) importError(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", op, ctx.Err())
	}
	if perr := c.Ping(ctx); errors.Is(perr, ErrUnavailable) {
		return fmt.Errorf("%s: %w: %v", op, ErrUnavailable, err)
	}
	msg := err.Error()
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(msg, io.ErrUnexpectedEOF.Error()):
		msg = "the archive ends early (truncated?): " + msg
	case strings.Contains(msg, "unrecognized image format"):
		msg += ": neither docker save output (manifest.json) nor an OCI image layout (oci-layout, index.json)"
	case errors.Is(err, images.ErrEmptyWalk):
		msg = "it holds no image for this host's platform, " + platforms.Format(platforms.DefaultSpec())
	}
	return fmt.Errorf("%w: %s", ErrBadArchive, msg)
}

// unpackImported checks that img has a manifest for this host's platform
// and unpacks it for the snapshotter.
func (c *Client) unpackImported(ctx context.Context, img images.Image) (Image, error) {
	cs := c.c.ContentStore()
	host := platforms.Default()
	ps, err := images.Platforms(ctx, cs, img.Target)
	if err != nil {
		return Image{}, c.importError(ctx, "image "+img.Name, fmt.Errorf("image %s: %w", img.Name, err))
	}
	if len(ps) > 0 && !slices.ContainsFunc(ps, host.Match) {
		return Image{}, fmt.Errorf("%w: image %s is built for %s, not for this host's %s",
			ErrBadArchive, img.Name, formatPlatforms(ps), platforms.Format(platforms.DefaultSpec()))
	}
	i := ctd.NewImage(c.c, img)
	if err := i.Unpack(ctx, c.snapshotter); err != nil {
		return Image{}, c.importError(ctx, "unpack "+img.Name, fmt.Errorf("image %s: unpack: %w", img.Name, err))
	}
	if err := c.verifyLayers(ctx, i); err != nil {
		if errors.Is(err, ErrBadArchive) {
			return Image{}, err
		}
		return Image{}, c.importError(ctx, "verify "+img.Name, err)
	}
	size, err := i.Size(ctx)
	if err != nil {
		return Image{}, fmt.Errorf("size of %s: %w", img.Name, err)
	}
	return Image{Name: img.Name, Digest: img.Target.Digest.String(), Size: size}, nil
}

// verifyLayers checks each layer of img against the diff ID its config
// names. Unpack does so for the layers it applies, but skips those whose
// snapshot exists already (the same layers imported or pulled before), so
// a corrupt or missing layer blob in an archive would pass unseen. A layer
// checked once carries containerd's uncompressed label and is not read
// again.
func (c *Client) verifyLayers(ctx context.Context, img ctd.Image) error {
	cs := c.c.ContentStore()
	manifest, err := images.Manifest(ctx, cs, img.Target(), platforms.Default())
	if err != nil {
		return fmt.Errorf("image %s: %w", img.Name(), err)
	}
	diffIDs, err := img.RootFS(ctx)
	if err != nil {
		return fmt.Errorf("image %s: %w", img.Name(), err)
	}
	if len(diffIDs) != len(manifest.Layers) {
		return fmt.Errorf("%w: image %s: its manifest has %d layers, its config %d", ErrBadArchive, img.Name(), len(manifest.Layers), len(diffIDs))
	}
	for i, l := range manifest.Layers {
		info, err := cs.Info(ctx, l.Digest)
		if IsNotFound(err) {
			return fmt.Errorf("%w: image %s: layer %s is missing from the archive", ErrBadArchive, img.Name(), l.Digest)
		}
		if err != nil {
			return fmt.Errorf("image %s: layer %s: %w", img.Name(), l.Digest, err)
		}
		if info.Labels[labels.LabelUncompressed] == diffIDs[i].String() {
			continue
		}
		got, err := uncompressedDigest(ctx, cs, l)
		if err != nil {
			return fmt.Errorf("%w: image %s: layer %s: %v", ErrBadArchive, img.Name(), l.Digest, err)
		}
		if got != diffIDs[i] {
			return fmt.Errorf("%w: image %s: layer %s does not match its config's diff ID %s (a corrupt archive?)", ErrBadArchive, img.Name(), l.Digest, diffIDs[i])
		}
		info = content.Info{Digest: l.Digest, Labels: map[string]string{labels.LabelUncompressed: got.String()}}
		if _, err := cs.Update(ctx, info, "labels."+labels.LabelUncompressed); err != nil {
			return fmt.Errorf("image %s: label layer %s: %w", img.Name(), l.Digest, err)
		}
	}
	return nil
}

// uncompressedDigest is the digest of a layer blob's uncompressed tar.
func uncompressedDigest(ctx context.Context, cs content.Provider, layer ocispec.Descriptor) (digest.Digest, error) {
	ra, err := cs.ReaderAt(ctx, layer)
	if err != nil {
		return "", err
	}
	defer ra.Close()
	ds, err := compression.DecompressStream(content.NewReader(ra))
	if err != nil {
		return "", err
	}
	defer ds.Close()
	return digest.Canonical.FromReader(ds)
}

// undoImport deletes the images an import created and points the names
// it overwrote back where they were. The import's lease still holds their
// old content.
func (c *Client) undoImport(ctx context.Context, before, imported []images.Image) {
	is := c.c.ImageService()
	for _, img := range imported {
		i := slices.IndexFunc(before, func(b images.Image) bool { return b.Name == img.Name })
		var err error
		if i >= 0 {
			_, err = is.Update(ctx, before[i], "target")
		} else if err = is.Delete(ctx, img.Name); IsNotFound(err) {
			err = nil
		}
		if err != nil {
			c.log.Error("undo a failed import", "image", img.Name, "err", err)
		}
	}
}

// ociNames turns the names an OCI layout gives its manifests
// (org.opencontainers.image.ref.name) into full references, and remembers
// those that are only a tag: such an image has no repository to be
// deployed from.
type ociNames struct{ tagOnly []string }

func (n *ociNames) translate(ref string) string {
	if !strings.ContainsAny(ref, "/:@") {
		n.tagOnly = append(n.tagOnly, ref)
		return ""
	}
	full, err := NormalizeRef(ref)
	if err != nil {
		return ref // containerd refuses it with its own message
	}
	return full
}

// check says what is wrong with an archive that named n images.
func (n *ociNames) check(count int) error {
	if len(n.tagOnly) > 0 {
		return fmt.Errorf("%w: the OCI layout names an image only by the tag %q; name it by a full reference such as example.com/fn:%s (org.opencontainers.image.ref.name)",
			ErrBadArchive, n.tagOnly[0], n.tagOnly[0])
	}
	if count == 0 {
		return fmt.Errorf("%w: the archive names no image: save it with a name (docker save NAME:TAG), or give the OCI layout's manifest an org.opencontainers.image.ref.name", ErrBadArchive)
	}
	return nil
}

// uniqueImages keeps the last of images with the same name, as the store
// does.
func uniqueImages(imgs []images.Image) []images.Image {
	var out []images.Image
	for i := len(imgs) - 1; i >= 0; i-- {
		if !slices.ContainsFunc(out, func(o images.Image) bool { return o.Name == imgs[i].Name }) {
			out = append(out, imgs[i])
		}
	}
	slices.Reverse(out)
	return out
}

func formatPlatforms(ps []ocispec.Platform) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = platforms.Format(p)
	}
	return strings.Join(s, ", ")
}

// Images lists the images in namespace ns, by name.
func (c *Client) Images(ctx context.Context, ns string) (_ []Image, err error) {
	defer markUnavailable(&err)
	ctx = withNS(ctx, ns)
	imgs, err := c.c.ImageService().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	out := make([]Image, 0, len(imgs))
	for _, img := range imgs {
		size, _ := ctd.NewImage(c.c, img).Size(ctx) // 0 when content for this platform is missing
		out = append(out, Image{Name: img.Name, Digest: img.Target.Digest.String(), Size: size})
	}
	slices.SortFunc(out, func(a, b Image) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// RemoveImage deletes image ref (already normalized) from namespace ns and
// has containerd collect the content and snapshots no other image or
// container uses before it returns. A missing image wraps ErrNotFound.
func (c *Client) RemoveImage(ctx context.Context, ns, ref string) (err error) {
	defer markUnavailable(&err)
	ctx = withNS(ctx, ns)
	if err := c.c.ImageService().Delete(ctx, ref, images.SynchronousDelete()); err != nil {
		if IsNotFound(err) {
			return fmt.Errorf("image %s: %w", ref, ErrNotFound)
		}
		return fmt.Errorf("remove image %s: %w", ref, err)
	}
	return nil
}
