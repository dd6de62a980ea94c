package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/funcd/funcd/internal/api"
)

// ListFunctions returns the functions in namespace (the gateway's default
// when empty): GET /system/functions?namespace=NS.
func (c *Client) ListFunctions(ctx context.Context, namespace string) ([]api.FunctionStatus, error) {
	var fns []api.FunctionStatus
	if err := c.call(ctx, http.MethodGet, "/system/functions", namespaceQuery(namespace), nil, &fns, http.StatusOK); err != nil {
		return nil, fmt.Errorf("list functions: %w", err)
	}
	return fns, nil
}

// GetFunction returns one function's status: GET
// /system/function/NAME?namespace=NS. A missing function is ErrNotFound.
func (c *Client) GetFunction(ctx context.Context, name, namespace string) (api.FunctionStatus, error) {
	var fn api.FunctionStatus
	path := "/system/function/" + url.PathEscape(name)
	if err := c.call(ctx, http.MethodGet, path, namespaceQuery(namespace), nil, &fn, http.StatusOK); err != nil {
		return api.FunctionStatus{}, wrapNotFound("get function "+qualified(name, namespace), err)
	}
	return fn, nil
}

// Deploy creates a function: POST /system/functions. Only 200 and 202
// count as success.
func (c *Client) Deploy(ctx context.Context, d api.FunctionDeployment) error {
	if err := c.call(ctx, http.MethodPost, "/system/functions", nil, d, nil, http.StatusOK, http.StatusAccepted); err != nil {
		return fmt.Errorf("deploy function %s: %w", qualified(d.Service, d.Namespace), err)
	}
	return nil
}

// Update replaces a function's spec: PUT /system/functions. A missing
// function is ErrNotFound.
func (c *Client) Update(ctx context.Context, d api.FunctionDeployment) error {
	if err := c.call(ctx, http.MethodPut, "/system/functions", nil, d, nil, http.StatusOK, http.StatusAccepted); err != nil {
		return wrapNotFound("update function "+qualified(d.Service, d.Namespace), err)
	}
	return nil
}

// DeployOrUpdate updates the function and, only when the gateway answers
// 404, deploys it instead, as faas-cli deploy does.
func (c *Client) DeployOrUpdate(ctx context.Context, d api.FunctionDeployment) error {
	err := c.Update(ctx, d)
	if errors.Is(err, ErrNotFound) {
		return c.Deploy(ctx, d)
	}
	return err
}

// Remove deletes a function: DELETE /system/functions with the name and
// namespace in the body. A missing function is ErrNotFound.
func (c *Client) Remove(ctx context.Context, name, namespace string) error {
	req := api.DeleteFunctionRequest{FunctionName: name, Namespace: namespace}
	if err := c.call(ctx, http.MethodDelete, "/system/functions", nil, req, nil, http.StatusOK, http.StatusAccepted); err != nil {
		return wrapNotFound("remove function "+qualified(name, namespace), err)
	}
	return nil
}

// Scale sets a function's desired replicas: POST
// /system/scale-function/NAME. A missing function is ErrNotFound.
func (c *Client) Scale(ctx context.Context, name, namespace string, replicas uint64) error {
	req := api.ScaleServiceRequest{ServiceName: name, Replicas: replicas, Namespace: namespace}
	path := "/system/scale-function/" + url.PathEscape(name)
	if err := c.call(ctx, http.MethodPost, path, nil, req, nil, http.StatusOK, http.StatusCreated, http.StatusAccepted); err != nil {
		return wrapNotFound("scale function "+qualified(name, namespace), err)
	}
	return nil
}

// Info returns the gateway and provider versions: GET /system/info.
func (c *Client) Info(ctx context.Context) (api.GatewayInfo, error) {
	var info api.GatewayInfo
	if err := c.call(ctx, http.MethodGet, "/system/info", nil, nil, &info, http.StatusOK); err != nil {
		return api.GatewayInfo{}, fmt.Errorf("get gateway info: %w", err)
	}
	return info, nil
}

// Namespaces lists the namespaces functions may be deployed to: GET
// /system/namespaces.
func (c *Client) Namespaces(ctx context.Context) ([]string, error) {
	var ns []string
	if err := c.call(ctx, http.MethodGet, "/system/namespaces", nil, nil, &ns, http.StatusOK); err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	return ns, nil
}
