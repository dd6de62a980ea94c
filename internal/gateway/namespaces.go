package gateway

import (
	"context"
	"fmt"
	"net/http"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/secrets"
)

// Namespaces is what the namespace routes need from the provider.
type Namespaces interface {
	Namespace(name string) (api.FunctionNamespace, error)
	CreateNamespace(ctx context.Context, n api.FunctionNamespace) error
	UpdateNamespace(ctx context.Context, n api.FunctionNamespace) error
	DeleteNamespace(ctx context.Context, name string) error
}

// namespaceRoutes serves /system/namespace/{name} as the reference's §1.9
// describes; the go-sdk creates with POST /system/namespace/ (empty name).
func (g *Gateway) namespaceRoutes(auth func(http.HandlerFunc) http.Handler) {
	g.mux.Handle("GET /system/namespace/{name}", auth(g.getNamespace))
	g.mux.Handle("POST /system/namespace/{name...}", auth(g.createNamespace))
	g.mux.Handle("PUT /system/namespace/{name}", auth(g.updateNamespace))
	g.mux.Handle("DELETE /system/namespace/{name}", auth(g.deleteNamespace))
}

// knownNamespace checks that ns exists, for routes whose namespace is
// not the provider's to check (secrets, images): the default one always
// does, others when the namespace routes know them. An unknown one is a
// 400, as a deploy to it is.
func (g *Gateway) knownNamespace(ns string) error {
	if ns == api.DefaultNamespace {
		return nil
	}
	if g.cfg.Namespaces != nil {
		if _, err := g.cfg.Namespaces.Namespace(ns); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%w: namespace %q not found", secrets.ErrInvalid, ns)
}

func (g *Gateway) getNamespace(w http.ResponseWriter, r *http.Request) {
	n, err := g.cfg.Namespaces.Namespace(r.PathValue("name"))
	if err != nil {
		g.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, n)
}

func (g *Gateway) createNamespace(w http.ResponseWriter, r *http.Request) {
	var n api.FunctionNamespace
	if !g.decode(w, r, &n) {
		return
	}
	if n.Name == "" {
		n.Name = r.PathValue("name")
	}
	if n.Name == "" {
		http.Error(w, "namespace not specified in request body", http.StatusBadRequest)
		return
	}
	if err := g.cfg.Namespaces.CreateNamespace(r.Context(), n); err != nil {
		g.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func (g *Gateway) updateNamespace(w http.ResponseWriter, r *http.Request) {
	var n api.FunctionNamespace
	if !g.decode(w, r, &n) {
		return
	}
	if n.Name != r.PathValue("name") {
		http.Error(w, "namespace in request body does not match namespace in URL", http.StatusBadRequest)
		return
	}
	if err := g.cfg.Namespaces.UpdateNamespace(r.Context(), n); err != nil {
		g.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (g *Gateway) deleteNamespace(w http.ResponseWriter, r *http.Request) {
	// The go-sdk sends a body naming the namespace; the path decides.
	if err := g.cfg.Namespaces.DeleteNamespace(r.Context(), r.PathValue("name")); err != nil {
		g.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}
