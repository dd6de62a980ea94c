package gateway

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/logs"
)

// Services is what the gateway needs to serve /system/services: the side
// services of the compose file (funcd's own routes, not OpenFaaS's).
type Services interface {
	List() []api.ServiceStatus
	Has(name string) bool
	Restart(name string) error
	// UsingImage names the services run from image ref.
	UsingImage(ref string) []string
}

func (g *Gateway) serviceRoutes(auth func(http.HandlerFunc) http.Handler) {
	g.mux.Handle("GET /system/services", auth(g.listServices))
	g.mux.Handle("POST /system/services/{name}/restart", auth(g.restartService))
	if g.cfg.Logs != nil {
		g.mux.Handle("GET /system/services/{name}/logs", auth(g.serviceLogs))
	}
}

func (g *Gateway) listServices(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, g.cfg.Services.List())
}

// knownService answers 404 naming the service when the file has none
// such, and reports whether it did not.
func (g *Gateway) knownService(w http.ResponseWriter, name string) bool {
	if g.cfg.Services.Has(name) {
		return true
	}
	http.Error(w, "service "+name+" not found in the compose file", http.StatusNotFound)
	return false
}

func (g *Gateway) restartService(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !g.knownService(w, name) {
		return
	}
	if err := g.cfg.Services.Restart(name); err != nil {
		g.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// serviceLogs streams a service's output as /system/logs streams a
// function's, with the same query.
func (g *Gateway) serviceLogs(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	q, ok := logQuery(r)
	if !ok {
		http.Error(w, errLogRequest, http.StatusUnprocessableEntity)
		return
	}
	if !g.knownService(w, name) {
		return
	}
	rc := http.NewResponseController(w)
	if q.Follow {
		_ = rc.SetWriteDeadline(time.Time{})
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	enc := json.NewEncoder(w)
	err := g.cfg.Logs.Read(r.Context(), api.ServicesNamespace, name, q, func(l logs.Line) error {
		if err := enc.Encode(api.LogMessage{Name: name, Namespace: api.ServicesNamespace, Instance: l.Instance, Timestamp: l.Time, Text: l.Text}); err != nil {
			return err
		}
		return rc.Flush()
	})
	if err != nil && r.Context().Err() == nil {
		g.log.Error("read logs", "service", name, "err", err)
	}
}
