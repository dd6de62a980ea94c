package ui

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/metrics"
	"github.com/funcd/funcd/internal/stack"
)

// Functions lists a namespace's functions as GET /system/functions
// answers them (the gateway).
type Functions interface {
	Functions(ns string) []api.FunctionStatus
}

// Failures tells a function's last replica failure (the provider).
type Failures interface {
	LastFailure(name, ns string) (Failure, bool)
}

// Failure is the last time a replica of a function failed to start, to
// become ready, or by exiting; Failing while no replica has started since.
type Failure struct {
	Message string
	At      time.Time
	Failing bool
}

// States of a function in the list.
const (
	StateReady   = "ready"
	StateScaling = "scaling"
	StateZero    = "zero"
	StateFailing = "failing"
)

// functionRow is one function in /ui/api/functions: every field of
// /system/functions, and what the UI's list shows beside them.
type functionRow struct {
	api.FunctionStatus
	ColdStarts  uint64     `json:"coldStarts"`
	Errors      uint64     `json:"errors"`
	State       string     `json:"state"`
	LastError   string     `json:"lastError"`
	LastErrorAt *time.Time `json:"lastErrorAt,omitempty"`
}

// maxStackBytes caps a stack file sent to /ui/api/stack.
const maxStackBytes = 1 << 20

func (h *Handler) apiRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ui/api/functions", h.functions)
	mux.HandleFunc("GET /ui/api/history", h.history)
	mux.HandleFunc("POST /ui/api/stack", h.stack)
	mux.HandleFunc("/ui/api/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such UI endpoint: "+r.Method+" "+r.URL.Path, http.StatusNotFound)
	})
	return mux
}

// functions lists a namespace's functions with their cold starts, errors,
// state and last failure.
func (h *Handler) functions(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Functions == nil {
		http.Error(w, "the function list is not available", http.StatusNotFound)
		return
	}
	ns := namespace(r)
	fns := h.cfg.Functions.Functions(ns)
	var totals = map[string]struct{ cold, errs uint64 }{}
	if h.cfg.Totals != nil {
		for fn, t := range h.cfg.Totals.Totals() {
			totals[fn] = struct{ cold, errs uint64 }{t.ColdStarts, t.Errors}
		}
	}
	rows := make([]functionRow, 0, len(fns))
	for _, st := range fns {
		fnNS := st.Namespace
		if fnNS == "" {
			fnNS = ns
		}
		row := functionRow{FunctionStatus: st}
		t := totals[st.Name+"."+fnNS]
		row.ColdStarts, row.Errors = t.cold, t.errs
		var f Failure
		if h.cfg.Failures != nil {
			var ok bool
			if f, ok = h.cfg.Failures.LastFailure(st.Name, fnNS); ok {
				row.LastError = f.Message
				at := f.At.UTC()
				row.LastErrorAt = &at
			}
		}
		row.State = state(st, f.Failing)
		rows = append(rows, row)
	}
	writeJSON(w, http.StatusOK, rows)
}

// state sums a function up for its list.
func state(st api.FunctionStatus, failing bool) string {
	switch {
	case failing && st.AvailableReplicas < st.Replicas:
		return StateFailing
	case st.Replicas == 0:
		return StateZero
	case st.AvailableReplicas != st.Replicas:
		return StateScaling
	default:
		return StateReady
	}
}

// history answers a function's last hour.
func (h *Handler) history(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" {
		http.Error(w, "name is required: /ui/api/history?name=NAME&namespace=NS", http.StatusBadRequest)
		return
	}
	ns := namespace(r)
	if !h.exists(name, ns) {
		http.Error(w, fmt.Sprintf("function %s.%s not found", name, ns), http.StatusNotFound)
		return
	}
	var points []Point
	if h.cfg.History != nil {
		points = h.cfg.History.Points(name+"."+ns, h.now())
	} else {
		points = NewHistory(noTotals{}).Points(name+"."+ns, h.now())
	}
	writeJSON(w, http.StatusOK, struct {
		StepSeconds int     `json:"stepSeconds"`
		Points      []Point `json:"points"`
	}{60, points})
}

func (h *Handler) exists(name, ns string) bool {
	if h.cfg.Functions == nil {
		return false
	}
	for _, st := range h.cfg.Functions.Functions(ns) {
		if st.Name == name {
			return true
		}
	}
	return false
}

// stack reads a stack file into the deployments funcd's CLI would send
// for it, each in a namespace (the file's, else ?namespace=, else the
// default). It deploys nothing: the page sends each to /system/functions.
func (h *Handler) stack(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxStackBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		http.Error(w, fmt.Sprintf("stack file is larger than %d bytes", maxStackBytes), http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		http.Error(w, "read stack file: "+err.Error(), http.StatusBadRequest)
		return
	}
	ds, err := deployments(data, namespace(r))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	writeJSON(w, http.StatusOK, ds)
}

// deployments turns a stack file into deploy requests, in namespace ns
// where the file names none.
func deployments(data []byte, ns string) ([]api.FunctionDeployment, error) {
	s, err := stack.ParseSent(data)
	if err != nil {
		return nil, err
	}
	if len(s.Functions) == 0 {
		return nil, errors.New("parse stack: the file has no functions")
	}
	out := make([]api.FunctionDeployment, 0, len(s.Functions))
	for _, fn := range s.Functions {
		d := fn.Deployment()
		if d.Namespace == "" {
			d.Namespace = ns
		}
		out = append(out, d)
	}
	return out, nil
}

// namespace is the request's ?namespace=, else the default.
func namespace(r *http.Request) string {
	if ns := r.URL.Query().Get("namespace"); ns != "" {
		return ns
	}
	return api.DefaultNamespace
}

// noTotals is a source with nothing counted.
type noTotals struct{}

func (noTotals) Totals() map[string]metrics.Totals { return nil }
