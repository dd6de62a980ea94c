package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/funcd/funcd/internal/api"
)

// GetNamespace returns one namespace: GET /system/namespace/NAME.
func (c *Client) GetNamespace(ctx context.Context, name string) (api.FunctionNamespace, error) {
	var n api.FunctionNamespace
	if err := c.call(ctx, http.MethodGet, "/system/namespace/"+url.PathEscape(name), nil, nil, &n, http.StatusOK); err != nil {
		return n, wrapNotFound("get namespace "+name, err)
	}
	return n, nil
}

// CreateNamespace creates a namespace: POST /system/namespace/. The
// label openfaas=1 is added, as the OpenFaaS SDK does.
func (c *Client) CreateNamespace(ctx context.Context, n api.FunctionNamespace) error {
	n = withOpenFaaSLabel(n)
	if err := c.call(ctx, http.MethodPost, "/system/namespace/", nil, n, nil, http.StatusOK, http.StatusCreated, http.StatusAccepted); err != nil {
		return fmt.Errorf("create namespace %s: %w", n.Name, err)
	}
	return nil
}

// UpdateNamespace replaces a namespace's labels and annotations.
func (c *Client) UpdateNamespace(ctx context.Context, n api.FunctionNamespace) error {
	n = withOpenFaaSLabel(n)
	if err := c.call(ctx, http.MethodPut, "/system/namespace/"+url.PathEscape(n.Name), nil, n, nil, http.StatusOK, http.StatusAccepted); err != nil {
		return wrapNotFound("update namespace "+n.Name, err)
	}
	return nil
}

// DeleteNamespace deletes an empty namespace.
func (c *Client) DeleteNamespace(ctx context.Context, name string) error {
	n := api.FunctionNamespace{Name: name}
	if err := c.call(ctx, http.MethodDelete, "/system/namespace/"+url.PathEscape(name), nil, n, nil, http.StatusOK, http.StatusAccepted); err != nil {
		return wrapNotFound("delete namespace "+name, err)
	}
	return nil
}

func withOpenFaaSLabel(n api.FunctionNamespace) api.FunctionNamespace {
	labels := map[string]string{"openfaas": "1"}
	for k, v := range n.Labels {
		labels[k] = v
	}
	n.Labels = labels
	return n
}
