// Package gateway is funcd's HTTP front door: the OpenFaaS REST API under
// /system (behind Basic auth, or Config.Auth: the web UI's sessions too),
// the web UI when mounted (MountUI), invocations under /function (open, handed to
// the proxy) and /async-function (open, stored in the queue), /healthz,
// /readyz and /metrics (open). It decodes and caps request
// bodies, reads the namespace from wherever each client puts it, and
// translates errors to HTTP statuses in one place (errorStatus).
//
// It declares the small interfaces it needs from the provider and proxy and
// must not import containerd or CNI.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/basicauth"
	"github.com/funcd/funcd/internal/queue"
	"github.com/funcd/funcd/internal/secrets"
	"github.com/funcd/funcd/provider"
)

// maxBodyBytes caps /system request bodies.
const maxBodyBytes = 1 << 20

// Functions is what the gateway needs from the provider.
type Functions interface {
	Deploy(ctx context.Context, d api.FunctionDeployment) error
	Update(ctx context.Context, d api.FunctionDeployment) error
	Delete(ctx context.Context, name, ns string) error
	Scale(ctx context.Context, name, ns string, replicas uint64) error
	List(ns string) []api.FunctionStatus
	Status(name, ns string) (api.FunctionStatus, error)
	Namespaces() []string
}

// Config describes the gateway.
type Config struct {
	Credentials basicauth.Credentials
	// Auth, when set, guards /system instead of Basic auth with
	// Credentials (the web UI's sessions accept either; see internal/ui).
	Auth        func(http.Handler) http.Handler
	Version     api.VersionInfo
	Secrets     Secrets      // serves /system/secrets when set
	SecretUsers SecretUsers  // refuses to delete secrets functions use
	Logs        Logs         // serves /system/logs when set
	Namespaces  Namespaces   // serves /system/namespace/{name} when set
	Metrics     http.Handler // serves GET /metrics, without auth, when set
	Queue       Queue        // serves /async-function and /system/queue when set
	Images      Images       // serves /system/images when set
	Invocations Invocations  // fills invocationCount when set
	Usage       Usage        // fills usage when set
	Services    Services     // serves /system/services when set
	// MaxImageSize caps an image archive POSTed to /system/images, and the
	// tar it decompresses to (bytes; must be positive with Images).
	MaxImageSize int64
	ServedBy     string // X-Served-By on answers to asynchronous invocations
	// Validate, when set, also checks deployments (queue and trigger
	// settings); its error is a 400.
	Validate func(api.FunctionDeployment) error
}

// Gateway routes requests.
type Gateway struct {
	fns    Functions
	invoke http.Handler
	cfg    Config
	log    *slog.Logger
	mux    *http.ServeMux
}

// New returns the gateway's handler. invoke serves /function/{name} and
// /function/{name}/{rest...}.
func New(fns Functions, invoke http.Handler, cfg Config, log *slog.Logger) *Gateway {
	g := &Gateway{fns: fns, invoke: invoke, cfg: cfg, log: log, mux: http.NewServeMux()}
	// A browser that has cached the admin's Basic credentials sends them
	// with any page's requests: refuse state-changing ones from another
	// origin (Sec-Fetch-Site, else Origin against Host), before auth.
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, fmt.Sprintf("cross-origin request refused: %s %s from %q; the admin API takes requests only from this gateway's own pages and from non-browser clients",
			r.Method, r.URL.Path, r.Header.Get("Origin")), http.StatusForbidden)
	}))
	guard := cfg.Auth
	if guard == nil {
		guard = func(h http.Handler) http.Handler { return basicauth.Require(cfg.Credentials, h) }
	}
	auth := func(h http.HandlerFunc) http.Handler { return csrf.Handler(guard(h)) }

	g.mux.Handle("GET /system/functions", auth(g.list))
	g.mux.Handle("POST /system/functions", auth(g.deploy))
	g.mux.Handle("PUT /system/functions", auth(g.update))
	g.mux.Handle("DELETE /system/functions", auth(g.remove))
	g.mux.Handle("GET /system/function/{name}", auth(g.status))
	g.mux.Handle("POST /system/scale-function/{name}", auth(g.scale))
	g.mux.Handle("GET /system/info", auth(g.info))
	g.mux.Handle("GET /system/namespaces", auth(g.namespaces))
	if cfg.Secrets != nil {
		g.secretRoutes(auth)
	}
	if cfg.Logs != nil {
		g.mux.Handle("GET /system/logs", auth(g.logs))
	}
	if cfg.Namespaces != nil {
		g.namespaceRoutes(auth)
	}
	if cfg.Queue != nil {
		g.queueRoutes(auth)
	}
	if cfg.Images != nil {
		g.imageRoutes(auth)
	}
	if cfg.Services != nil {
		g.serviceRoutes(auth)
	}
	g.mux.HandleFunc("GET /healthz", healthz)
	g.mux.HandleFunc("GET /readyz", g.readyz)
	if cfg.Metrics != nil {
		g.mux.Handle("GET /metrics", cfg.Metrics) // open, as OpenFaaS's: scrapers carry no credentials
	}
	return g
}

// MountUI serves the web UI: GET / and everything under /ui/ go to ui,
// which guards its own pages (see internal/ui).
func (g *Gateway) MountUI(ui http.Handler) {
	g.mux.Handle("GET /{$}", ui)
	g.mux.Handle("/ui/", ui)
}

// ServeHTTP sends invocations straight to the proxy (the hot path skips
// the router) and everything else through the router.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/function/") {
		g.invoke.ServeHTTP(w, r)
		return
	}
	if g.cfg.Queue != nil && strings.HasPrefix(r.URL.Path, "/async-function/") {
		g.async(w, r)
		return
	}
	g.mux.ServeHTTP(w, r)
}

// healthz says funcd is alive and serving: 200 while the process runs,
// whatever part of it is degraded, since synchronous invocations still
// work then. Service managers and load balancers watch it; /readyz tells
// the rest.
func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "OK")
}

// readyz says whether every part of funcd can do its work: 200 OK, or 503
// naming what cannot (the queue, while its disk is full or its store is
// being reloaded) and since when. It is for monitoring and alerts.
func (g *Gateway) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if g.cfg.Queue != nil {
		if h := g.cfg.Queue.Health(); h.Degraded {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(w, "queue: degraded since %s: %s\n", h.Since.UTC().Format(time.RFC3339), h.Reason)
			return
		}
	}
	_, _ = io.WriteString(w, "OK")
}

func (g *Gateway) list(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, g.Functions(r.URL.Query().Get("namespace")))
}

// Functions returns the functions of namespace ns (the default when
// empty) as GET /system/functions answers them: with invocation counts
// and usage, never nil.
func (g *Gateway) Functions(ns string) []api.FunctionStatus {
	ns = namespace(ns)
	fns := g.fns.List(ns)
	if fns == nil {
		fns = []api.FunctionStatus{} // "[]", never null: faas-cli login relies on it
	}
	g.addUsage(fns, ns)
	return fns
}

func (g *Gateway) status(w http.ResponseWriter, r *http.Request) {
	ns := namespace(r.URL.Query().Get("namespace"))
	st, err := g.fns.Status(r.PathValue("name"), ns)
	if errors.Is(err, provider.ErrNotFound) {
		w.WriteHeader(http.StatusNotFound) // empty body, as faas-cli expects
		return
	}
	if err != nil {
		g.fail(w, r, err)
		return
	}
	one := []api.FunctionStatus{st}
	g.addUsage(one, ns)
	writeJSON(w, http.StatusOK, one[0])
}

func (g *Gateway) deploy(w http.ResponseWriter, r *http.Request) { g.apply(w, r, g.fns.Deploy) }

func (g *Gateway) update(w http.ResponseWriter, r *http.Request) { g.apply(w, r, g.fns.Update) }

// apply decodes a deployment and hands it to op (deploy or update).
func (g *Gateway) apply(w http.ResponseWriter, r *http.Request, op func(context.Context, api.FunctionDeployment) error) {
	var d api.FunctionDeployment
	if !g.decode(w, r, &d) {
		return
	}
	if g.cfg.Validate != nil {
		if err := g.cfg.Validate(d); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	if err := op(r.Context(), d); err != nil {
		g.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (g *Gateway) remove(w http.ResponseWriter, r *http.Request) {
	var req api.DeleteFunctionRequest
	if !g.decode(w, r, &req) {
		return
	}
	if req.FunctionName == "" {
		http.Error(w, "functionName is required", http.StatusBadRequest)
		return
	}
	ns := namespace(req.Namespace, r.URL.Query().Get("namespace"))
	if err := g.fns.Delete(r.Context(), req.FunctionName, ns); err != nil {
		g.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (g *Gateway) scale(w http.ResponseWriter, r *http.Request) {
	var req api.ScaleServiceRequest
	if !g.decode(w, r, &req) {
		return
	}
	ns := namespace(req.Namespace, r.URL.Query().Get("namespace"))
	if err := g.fns.Scale(r.Context(), r.PathValue("name"), ns, req.Replicas); err != nil {
		g.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (g *Gateway) info(w http.ResponseWriter, _ *http.Request) {
	v := g.cfg.Version
	writeJSON(w, http.StatusOK, api.GatewayInfo{
		Provider: &api.ProviderInfo{Name: "funcd", Orchestration: "containerd", Version: &v},
		Version:  &v,
		Arch:     runtime.GOARCH,
	})
}

func (g *Gateway) namespaces(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, g.fns.Namespaces())
}

// namespace returns the first non-empty candidate, else the default.
func namespace(candidates ...string) string {
	for _, c := range candidates {
		if c != "" {
			return c
		}
	}
	return api.DefaultNamespace
}

// decode reads a JSON body of at most maxBodyBytes into v, answering 4xx
// itself when it cannot. The body must be declared application/json, as
// faas-cli and the OpenFaaS SDK declare it: the types a page may send
// without a preflight (text/plain, forms) are refused, so a hostile page
// cannot post a deployment with a browser's cached credentials. Anything
// after the JSON value is refused too, not silently ignored.
func (g *Gateway) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); (err != nil || mt != "application/json") && (ct != "" || r.ContentLength != 0) {
		http.Error(w, fmt.Sprintf("Content-Type %q: send the body as application/json", ct), http.StatusUnsupportedMediaType)
		return false
	}
	body := http.MaxBytesReader(w, r.Body, maxBodyBytes)
	dec := json.NewDecoder(body)
	err := dec.Decode(v)
	if err == nil {
		if _, next := dec.Token(); next != io.EOF {
			err = errTrailing
			var tooBig *http.MaxBytesError
			if errors.As(next, &tooBig) {
				err = next
			}
		}
	}
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return true
	case errors.As(err, &tooBig):
		http.Error(w, fmt.Sprintf("request body is larger than %d bytes", maxBodyBytes), http.StatusRequestEntityTooLarge)
	case errors.Is(err, io.EOF):
		http.Error(w, "expected a JSON body", http.StatusBadRequest)
	default:
		http.Error(w, "failed to unmarshal request: "+err.Error(), http.StatusBadRequest)
	}
	return false
}

var errTrailing = errors.New("unexpected data after the JSON value")

// errorStatus is the one place errors become HTTP statuses. A write that
// found the disk full is 507 Insufficient Storage, whatever it was for.
func errorStatus(err error) int {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return http.StatusInsufficientStorage
	case errors.Is(err, provider.ErrUnavailable), errors.Is(err, queue.ErrUnavailable): // before ErrStart: a start may fail for it
		return http.StatusServiceUnavailable
	case errors.Is(err, provider.ErrNotFound), errors.Is(err, secrets.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, provider.ErrExists), errors.Is(err, secrets.ErrExists), errors.Is(err, errSecretInUse), errors.Is(err, provider.ErrInUse):
		return http.StatusConflict
	case errors.Is(err, provider.ErrNoAddress): // the message names the subnet and what to do
		return http.StatusConflict
	case errors.Is(err, provider.ErrInvalid), errors.Is(err, provider.ErrStart), errors.Is(err, secrets.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// fail answers err: 4xx with the message, which names the problem; 507
// with what is exhausted and where; other 5xx with a generic text, the
// details going to the log only. containerd being unavailable is no
// internal detail but a passing condition: the answer says so, and when
// to try again.
func (g *Gateway) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := errorStatus(err)
	if code >= 500 {
		g.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	switch {
	case code == http.StatusInsufficientStorage:
		http.Error(w, insufficientStorage(err), code)
	case errors.Is(err, provider.ErrUnavailable):
		w.Header().Set("Retry-After", unavailableRetryAfter)
		http.Error(w, "containerd is unavailable (stopped or restarting): try again in a few seconds", code)
	case code >= 500:
		http.Error(w, fmt.Sprintf("%s: see the funcd log for details", http.StatusText(code)), code)
	default:
		http.Error(w, err.Error(), code)
	}
}

// insufficientStorage says what a write that found the disk full needed:
// space on the disk of the directory it wrote in, when the error names
// it, else of funcd's state directory.
func insufficientStorage(err error) string {
	where := "funcd's state directory (--state-dir)"
	var pe *fs.PathError
	if errors.As(err, &pe) && filepath.IsAbs(pe.Path) {
		where = filepath.Dir(pe.Path)
	}
	return fmt.Sprintf("%s: no space left on the disk holding %s; free some space there and try again",
		http.StatusText(http.StatusInsufficientStorage), where)
}

// unavailableRetryAfter is the Retry-After, in seconds, of an answer that
// containerd is unavailable: a containerd restart takes seconds, and the
// connection to it is retried at least every 3 s.
const unavailableRetryAfter = "5"

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
