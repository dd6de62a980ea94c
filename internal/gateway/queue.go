package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/queue"
	"github.com/funcd/funcd/provider"
)

// Queue is what the gateway needs from the queue of asynchronous
// invocations.
type Queue interface {
	Enqueue(ctx context.Context, j queue.Job) error
	MaxBody() int64
	Health() queue.Health
	Stats(ctx context.Context) (api.QueueStats, error)
	DeadLetters(ctx context.Context, function, namespace string, limit int) ([]api.DeadLetter, error)
	Redrive(ctx context.Context, sel api.DeadLetterSelection) (api.RedriveResult, error)
	Purge(ctx context.Context, sel api.DeadLetterSelection) (api.PurgeResult, error)
}

func (g *Gateway) queueRoutes(auth func(http.HandlerFunc) http.Handler) {
	g.mux.Handle("GET /system/queue", auth(g.queueStats))
	g.mux.Handle("GET /system/queue/dead-letters", auth(g.deadLetters))
	g.mux.Handle("POST /system/queue/redrive", auth(g.redrive))
	g.mux.Handle("POST /system/queue/purge", auth(g.purge))
}

// hopHeaders are not stored with a queued request: they describe the
// connection it came on.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length"}

// async stores POST /async-function/NAME[.NS][/PATH] and answers 202 with
// X-Call-Id once it is on disk. Unlike OpenFaaS CE, an unknown function is a 404 here,
// not a 202 that fails later where nobody looks.
func (g *Gateway) async(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), "/async-function/")
	full, path, _ := strings.Cut(rest, "/")
	name, ns := api.SplitName(full)
	if api.ValidateName(name) != nil || api.ValidateName(ns) != nil {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "asynchronous invocations must be POST", http.StatusMethodNotAllowed)
		return
	}
	if _, err := g.fns.Status(name, ns); err != nil {
		if errors.Is(err, provider.ErrNotFound) {
			http.Error(w, fmt.Sprintf("error finding function %s.%s: function not found", name, ns), http.StatusNotFound)
			return
		}
		g.fail(w, r, err)
		return
	}
	callback := r.Header.Get("X-Callback-Url")
	if callback != "" {
		u, err := url.Parse(callback)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			http.Error(w, fmt.Sprintf("X-Callback-Url %q is not an absolute http(s) URL", callback), http.StatusBadRequest)
			return
		}
	}
	limit := g.cfg.Queue.MaxBody()
	if r.ContentLength > limit {
		tooLarge(w, r.ContentLength, limit)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var big *http.MaxBytesError
		if errors.As(err, &big) {
			tooLarge(w, -1, limit)
			return
		}
		http.Error(w, "read request body: "+err.Error(), http.StatusBadRequest)
		return
	}

	header := r.Header.Clone()
	for _, h := range hopHeaders {
		header.Del(h)
	}
	callID := header.Get("X-Call-Id")
	if callID == "" {
		callID = queue.NewCallID()
		header.Set("X-Call-Id", callID)
	}
	now := time.Now()
	start := strconv.FormatInt(now.UnixNano(), 10)
	header.Set("X-Start-Time", start)
	if header.Get("X-Forwarded-For") == "" {
		header.Set("X-Forwarded-For", r.RemoteAddr)
	}
	if header.Get("X-Forwarded-Host") == "" {
		header.Set("X-Forwarded-Host", r.Host)
	}
	if path != "" {
		path = "/" + path
	}
	job := queue.Job{
		CallID: callID, Function: name, Namespace: ns, Method: http.MethodPost,
		Path: path, Query: r.URL.RawQuery, Header: header, Body: body,
		Callback: callback, Source: queue.SourceAsync, Accepted: now,
	}
	if err := g.cfg.Queue.Enqueue(r.Context(), job); err != nil {
		switch {
		case errors.Is(err, queue.ErrTooLarge):
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		case errors.Is(err, queue.ErrCallback):
			http.Error(w, err.Error(), http.StatusBadRequest)
		case errors.Is(err, queue.ErrClosed):
			http.Error(w, "funcd is shutting down; try again", http.StatusServiceUnavailable)
		case errors.Is(err, queue.ErrFull):
			w.Header().Set("Retry-After", "10")
			http.Error(w, err.Error()+"; try again later", http.StatusServiceUnavailable)
		default:
			g.enqueueFailed(w, name+"."+ns, err)
		}
		return
	}
	h := w.Header()
	// Always, even when the caller chose it: the 202 says which call was
	// stored. (OpenFaaS sends it only when it generated the id; no client
	// minds the echo.)
	h.Set("X-Call-Id", callID)
	h.Set("X-Start-Time", start)
	if g.cfg.ServedBy != "" {
		h.Set("X-Served-By", g.cfg.ServedBy)
	}
	w.WriteHeader(http.StatusAccepted)
}

// enqueueFailed answers a request the queue could not store. A queue
// that cannot store for now (its disk full: 507; its store being
// reloaded: 503) says so at once, with Retry-After, and logs it itself
// when it degrades, not per request. The route is open: no paths here.
func (g *Gateway) enqueueFailed(w http.ResponseWriter, fn string, err error) {
	switch code := errorStatus(err); code {
	case http.StatusInsufficientStorage:
		w.Header().Set("Retry-After", "30")
		http.Error(w, "Insufficient Storage: the disk holding funcd's queue is full; the invocation was not queued, try again later", code)
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "10")
		http.Error(w, "Service Unavailable: the queue cannot store invocations right now; the invocation was not queued, try again later", code)
	default:
		g.log.Error("enqueue", "function", fn, "err", err)
		http.Error(w, "Error queuing request: "+err.Error(), http.StatusInternalServerError)
	}
}

func tooLarge(w http.ResponseWriter, size, limit int64) {
	msg := fmt.Sprintf("request body is larger than the queue's limit of %d bytes (--queue-max-body)", limit)
	if size > 0 {
		msg = fmt.Sprintf("request body of %d bytes is larger than the queue's limit of %d bytes (--queue-max-body)", size, limit)
	}
	http.Error(w, msg, http.StatusRequestEntityTooLarge)
}

func (g *Gateway) queueStats(w http.ResponseWriter, r *http.Request) {
	st, err := g.cfg.Queue.Stats(r.Context())
	if err != nil {
		g.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (g *Gateway) deadLetters(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 100
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > queue.MaxListed {
			http.Error(w, fmt.Sprintf("limit %q: want a number from 1 to %d", s, queue.MaxListed), http.StatusBadRequest)
			return
		}
		limit = n
	}
	fn, ns := q.Get("function"), q.Get("namespace")
	if fn != "" {
		ns = namespace(ns)
	}
	if err := validateSelector(fn, ns); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	dls, err := g.cfg.Queue.DeadLetters(r.Context(), fn, ns, limit)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, dls)
}

func (g *Gateway) redrive(w http.ResponseWriter, r *http.Request) {
	if sel, ok := g.selection(w, r); ok {
		res, err := g.cfg.Queue.Redrive(r.Context(), sel)
		g.answer(w, r, res, err)
	}
}

func (g *Gateway) purge(w http.ResponseWriter, r *http.Request) {
	if sel, ok := g.selection(w, r); ok {
		res, err := g.cfg.Queue.Purge(r.Context(), sel)
		g.answer(w, r, res, err)
	}
}

// selection reads the dead letters a redrive or purge picks, answering 4xx
// itself when it cannot.
func (g *Gateway) selection(w http.ResponseWriter, r *http.Request) (api.DeadLetterSelection, bool) {
	var sel api.DeadLetterSelection
	if !g.decode(w, r, &sel) {
		return sel, false
	}
	if sel.Function != "" {
		sel.Namespace = namespace(sel.Namespace)
	}
	if err := validateSelector(sel.Function, sel.Namespace); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return sel, false
	}
	return sel, true
}

// answer writes v as JSON, or err.
func (g *Gateway) answer(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		g.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// validateSelector checks a function and namespace picked by a client:
// they become part of a NATS subject. Either may be empty.
func validateSelector(fn, ns string) error {
	if fn != "" {
		if err := api.ValidateName(fn); err != nil {
			return fmt.Errorf("function name %w", err)
		}
	}
	if ns != "" {
		if err := api.ValidateName(ns); err != nil {
			return fmt.Errorf("namespace %w", err)
		}
	}
	return nil
}
