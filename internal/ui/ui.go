// Package ui is funcd's web UI: the page set embedded from assets/, the
// login form and its sessions (Sessions, which also let the UI's pages
// call /system with a cookie and a CSRF header), and the few JSON
// endpoints under /ui/api that the ordinary API lacks (a function list
// with cold starts, errors and state; an hour's history; a stack file
// read into deployments).
//
// The gateway mounts it (gateway.MountUI) at GET / and /ui/. It declares
// the little it needs from the gateway, the metrics and the provider, and
// must not import containerd, CNI or the provider's internals.
package ui

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed assets
var embedded embed.FS

// Handler serves the UI.
type Handler struct {
	sessions *Sessions
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	limiter  *limiter
	assets   map[string]asset // by path under /ui/
	mux      *http.ServeMux
}

// Config describes the UI's sources of data.
type Config struct {
	Sessions  *Sessions
	Functions Functions // serves /ui/api/functions and /history when set
	Totals    Totals    // fills cold starts and errors when set
	Failures  Failures  // fills state failing and the last error when set
	History   *History  // serves /ui/api/history's points when set
	Log       *slog.Logger
	// Assets replaces the embedded page set (tests).
	Assets fs.FS
}

// New returns the UI's handler.
func New(cfg Config) (*Handler, error) {
	h := &Handler{sessions: cfg.Sessions, cfg: cfg, log: cfg.Log, now: time.Now, limiter: newLimiter(), mux: http.NewServeMux()}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	files := cfg.Assets
	if files == nil {
		sub, err := fs.Sub(embedded, "assets")
		if err != nil {
			return nil, err
		}
		files = sub
	}
	var err error
	if h.assets, err = loadAssets(files); err != nil {
		return nil, err
	}
	for _, need := range []string{"index.html", "login.html"} {
		if _, ok := h.assets[need]; !ok {
			return nil, fmt.Errorf("ui: assets lack %s", need)
		}
	}

	// A login form, logout and the API are what another site's page
	// could try to post to: refuse cross-origin ones before anything.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, fmt.Sprintf("cross-origin request refused: %s %s from %q", r.Method, r.URL.Path, r.Header.Get("Origin")), http.StatusForbidden)
	}))
	h.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusTemporaryRedirect)
	})
	h.mux.HandleFunc("GET /ui/login", h.loginPage)
	h.mux.Handle("POST /ui/login", cop.Handler(http.HandlerFunc(h.login)))
	h.mux.Handle("POST /ui/logout", cop.Handler(http.HandlerFunc(h.logout)))
	h.mux.HandleFunc("GET /ui/api/session", h.session)
	h.mux.Handle("/ui/api/", cop.Handler(h.sessions.Require(h.apiRoutes())))
	h.mux.HandleFunc("/ui/", h.page)
	return h, nil
}

// ServeHTTP sets the headers every answer carries, then routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	if !h.isStatic(r.URL.Path) {
		hd.Set("Cache-Control", "no-store")
	}
	h.mux.ServeHTTP(w, r)
}

// CSP is the Content-Security-Policy of every UI answer: only this
// origin's scripts, styles and fetches; no inline script or style; no
// framing.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// page serves a static asset, or else the UI's page to a logged-in
// browser; others go to the login form.
func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: the UI's pages are read with GET", http.StatusMethodNotAllowed)
		return
	}
	if h.isStatic(r.URL.Path) {
		h.serveAsset(w, r, strings.TrimPrefix(r.URL.Path, "/ui/"))
		return
	}
	if h.sessions.lookup(r) == nil {
		http.Redirect(w, r, loginURL(r), http.StatusSeeOther)
		return
	}
	h.serveAsset(w, r, "index.html")
}

// session tells the page who is logged in and its CSRF token. It needs
// only the cookie: it is how the page learns the token.
func (h *Handler) session(w http.ResponseWriter, r *http.Request) {
	ss := h.sessions.lookup(r)
	if ss == nil {
		http.Error(w, "not logged in", http.StatusUnauthorized)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		User string `json:"user"`
		CSRF string `json:"csrf"`
	}{ss.user, ss.csrf})
}

// asset is one embedded file, ready to serve.
type asset struct {
	data  []byte
	ctype string
	etag  string
}

// isStatic reports whether p is a file served without a session: every
// asset but the two pages, which have their own routes.
func (h *Handler) isStatic(p string) bool {
	name, ok := strings.CutPrefix(p, "/ui/")
	if !ok || name == "index.html" || name == "login.html" {
		return false
	}
	_, ok = h.assets[name]
	return ok
}

// serveAsset answers with the asset name, revalidated by its ETag.
func (h *Handler) serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	a := h.assets[name]
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("ETag", a.etag)
	if strings.HasSuffix(name, ".html") {
		hd.Set("Cache-Control", "no-store")
	} else {
		hd.Set("Cache-Control", "no-cache")
		if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, a.etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(a.data)
}

func etagMatch(header, etag string) bool {
	for v := range strings.SplitSeq(header, ",") {
		v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
		if v == etag || v == "*" {
			return true
		}
	}
	return false
}

// loadAssets reads every file of files with its type and ETag.
func loadAssets(files fs.FS) (map[string]asset, error) {
	out := map[string]asset{}
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		out[p] = asset{data: data, ctype: contentType(p), etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ui: assets: %w", err)
	}
	return out, nil
}

// contentType is an asset's type, from a fixed table first: the host's
// MIME tables vary.
func contentType(name string) string {
	switch ext := path.Ext(name); ext {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".ico":
		return "image/x-icon"
	case ".json", ".map":
		return "application/json"
	case ".txt":
		return "text/plain; charset=utf-8"
	default:
		if t := mime.TypeByExtension(ext); t != "" {
			return t
		}
		return "application/octet-stream"
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
