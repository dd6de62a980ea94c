package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/funcd/funcd/internal/api"
)

// Secrets is what the gateway needs from the secrets store. Values go in;
// they never come back out.
type Secrets interface {
	List(ns string) ([]string, error)
	Create(ns, name string, value []byte) error
	Update(ns, name string, value []byte) error
	Remove(ns, name string) error
}

// SecretUsers names the functions in ns whose spec lists secret name.
type SecretUsers interface {
	UsingSecret(ns, name string) []string
}

// errSecretInUse refuses to delete a secret a deployed function mounts.
var errSecretInUse = errors.New("secret is in use")

func (g *Gateway) secretRoutes(auth func(http.HandlerFunc) http.Handler) {
	g.mux.Handle("GET /system/secrets", auth(g.listSecrets))
	g.mux.Handle("POST /system/secrets", auth(g.createSecret))
	g.mux.Handle("PUT /system/secrets", auth(g.updateSecret))
	g.mux.Handle("DELETE /system/secrets", auth(g.removeSecret))
}

func (g *Gateway) listSecrets(w http.ResponseWriter, r *http.Request) {
	ns := namespace(r.URL.Query().Get("namespace"))
	if err := g.knownNamespace(ns); err != nil {
		g.fail(w, r, err)
		return
	}
	names, err := g.cfg.Secrets.List(ns)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	out := make([]api.Secret, 0, len(names)) // "[]", never null
	for _, n := range names {
		out = append(out, api.Secret{Name: n, Namespace: ns})
	}
	writeJSON(w, http.StatusOK, out)
}

func (g *Gateway) createSecret(w http.ResponseWriter, r *http.Request) {
	g.writeSecret(w, r, g.cfg.Secrets.Create)
}

func (g *Gateway) updateSecret(w http.ResponseWriter, r *http.Request) {
	g.writeSecret(w, r, g.cfg.Secrets.Update)
}

// writeSecret decodes a secret and hands it to op (create or update).
func (g *Gateway) writeSecret(w http.ResponseWriter, r *http.Request, op func(ns, name string, value []byte) error) {
	ns, s, ok := g.decodeSecret(w, r)
	if !ok {
		return
	}
	if err := op(ns, s.Name, s.Bytes()); err != nil {
		g.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (g *Gateway) removeSecret(w http.ResponseWriter, r *http.Request) {
	ns, s, ok := g.decodeSecret(w, r)
	if !ok {
		return
	}
	if g.cfg.SecretUsers != nil {
		if users := g.cfg.SecretUsers.UsingSecret(ns, s.Name); len(users) > 0 {
			g.fail(w, r, fmt.Errorf("%w: secret %s is used by function(s) %s; remove them or deploy them without it first",
				errSecretInUse, s.Name, strings.Join(users, ", ")))
			return
		}
	}
	if err := g.cfg.Secrets.Remove(ns, s.Name); err != nil {
		g.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted) // never 204: faas-cli rejects it
}

// decodeSecret reads a Secret body and its namespace (body, then query,
// then the default), answering 4xx itself when it cannot.
func (g *Gateway) decodeSecret(w http.ResponseWriter, r *http.Request) (string, api.Secret, bool) {
	var s api.Secret
	if !g.decode(w, r, &s) {
		return "", s, false
	}
	if strings.TrimSpace(s.Name) == "" {
		http.Error(w, "name is required", http.StatusBadRequest)
		return "", s, false
	}
	ns := namespace(s.Namespace, r.URL.Query().Get("namespace"))
	if err := g.knownNamespace(ns); err != nil {
		g.fail(w, r, err)
		return "", s, false
	}
	return ns, s, true
}
