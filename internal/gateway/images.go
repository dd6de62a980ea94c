package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/provider"
)

// Images is what the image routes need from the provider.
type Images interface {
	// ImportImages reads a tar stream (docker-archive or OCI layout) into
	// namespace ns and returns the images it named, ready to deploy.
	ImportImages(ctx context.Context, ns string, archive io.Reader) ([]api.Image, error)
	// Images lists namespace ns's images and the functions using each.
	Images(ctx context.Context, ns string) ([]api.Image, error)
	// RemoveImage deletes one; refused while a function uses it.
	RemoveImage(ctx context.Context, ns, ref string) error
}

// archiveTypes are the Content-Types an image upload may declare. Only the
// body's first bytes decide its format; requiring one of these keeps out
// what a page can post without a preflight (forms, text/plain).
var archiveTypes = []string{"application/x-tar", "application/gzip", "application/octet-stream"}

// uploadIdle is how long an image upload may send nothing before it is
// cut off. It replaces the server's read timeout, which is sized for
// invocations, not for gigabytes from a slow link.
const uploadIdle = time.Minute

// imageRoutes serves /system/images: funcd's own API for images, for
// boxes without a registry (funcd image import / list / remove).
func (g *Gateway) imageRoutes(auth func(http.HandlerFunc) http.Handler) {
	g.mux.Handle("GET /system/images", auth(g.listImages))
	g.mux.Handle("POST /system/images", auth(g.importImages))
	g.mux.Handle("DELETE /system/images", auth(g.removeImage))
}

// importImages streams an image archive into containerd: 201 with the
// images it named, 400 naming what is wrong with a bad archive, 413 past
// --max-image-size (of the body, and of the tar it decompresses to).
func (g *Gateway) importImages(w http.ResponseWriter, r *http.Request) {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || !slices.Contains(archiveTypes, mt) {
		http.Error(w, fmt.Sprintf("Content-Type %q: send the image archive (tar or tar.gz) as application/x-tar, application/gzip or application/octet-stream", ct),
			http.StatusUnsupportedMediaType)
		return
	}
	max := g.cfg.MaxImageSize
	if r.ContentLength > max {
		g.imageTooLarge(w, max)
		return
	}
	ns := namespace(r.URL.Query().Get("namespace"))
	if err := g.knownImageNamespace(ns); err != nil {
		g.fail(w, r, err)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // unpacking a large image takes a while
	// MaxBytesReader, past the cap, has the server answer and close the
	// connection gracefully, so the client reads the 413 while sending.
	body := http.MaxBytesReader(w, &idleReader{r: r.Body, rc: rc}, max)
	up, err := openArchive(body, max)
	switch {
	case errors.Is(err, errTooLarge):
		g.imageTooLarge(w, max)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	imgs, err := g.cfg.Images.ImportImages(r.Context(), ns, up)
	if up.tooLarge() {
		g.imageTooLarge(w, max)
		return
	}
	if err != nil {
		g.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, imgs)
}

func (g *Gateway) imageTooLarge(w http.ResponseWriter, max int64) {
	http.Error(w, fmt.Sprintf("image archive is larger than %s (%d bytes, uncompressed), funcd's --max-image-size", api.FormatBytes(max), max),
		http.StatusRequestEntityTooLarge)
}

func (g *Gateway) listImages(w http.ResponseWriter, r *http.Request) {
	ns := namespace(r.URL.Query().Get("namespace"))
	if err := g.knownImageNamespace(ns); err != nil {
		g.fail(w, r, err)
		return
	}
	imgs, err := g.cfg.Images.Images(r.Context(), ns)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	if imgs == nil {
		imgs = []api.Image{} // "[]", never null
	}
	writeJSON(w, http.StatusOK, imgs)
}

// removeImage deletes ?name=REF: 202, 404 when absent, 409 naming the
// functions deployed with it (or, in the services' namespace, the side
// services run from it).
func (g *Gateway) removeImage(w http.ResponseWriter, r *http.Request) {
	ref := r.URL.Query().Get("name")
	if ref == "" {
		http.Error(w, "name is required: DELETE /system/images?name=REF", http.StatusBadRequest)
		return
	}
	ns := namespace(r.URL.Query().Get("namespace"))
	if err := g.knownImageNamespace(ns); err != nil {
		g.fail(w, r, err)
		return
	}
	if ns == api.ServicesNamespace {
		if users := g.cfg.Services.UsingImage(ref); len(users) > 0 {
			g.fail(w, r, fmt.Errorf("%w: image %s is used by side service(s) %s; remove them from the compose file first", provider.ErrInUse, ref, strings.Join(users, ", ")))
			return
		}
	}
	if err := g.cfg.Images.RemoveImage(r.Context(), ns, ref); err != nil {
		g.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// idleReader moves the connection's read deadline forward before each
// read, so an upload may take as long as it keeps sending.
type idleReader struct {
	r  io.ReadCloser
	rc *http.ResponseController
}

func (i *idleReader) Close() error { return i.r.Close() }

func (i *idleReader) Read(p []byte) (int, error) {
	_ = i.rc.SetReadDeadline(time.Now().Add(uploadIdle))
	return i.r.Read(p)
}

// knownImageNamespace is knownNamespace, and the side services' namespace
// when funcd runs services: `funcd image import --services`.
func (g *Gateway) knownImageNamespace(ns string) error {
	if ns == api.ServicesNamespace && g.cfg.Services != nil {
		return nil
	}
	return g.knownNamespace(ns)
}
