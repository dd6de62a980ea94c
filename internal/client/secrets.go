package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/funcd/funcd/internal/api"
)

// ErrConflict is wrapped when the gateway answers 409: CreateSecret of a
// secret that exists, RemoveSecret of a secret a function uses. The same
// error also unwraps to a *StatusError whose Body says why.
var ErrConflict = errors.New("conflict")

// ListSecrets returns the secrets in namespace (the gateway's default when
// empty), names only: GET /system/secrets?namespace=NS.
func (c *Client) ListSecrets(ctx context.Context, namespace string) ([]api.Secret, error) {
	var out []api.Secret
	if err := c.call(ctx, http.MethodGet, "/system/secrets", namespaceQuery(namespace), nil, &out, http.StatusOK); err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	return out, nil
}

// CreateSecret stores a new secret: POST /system/secrets. One that exists
// already is ErrConflict (switch to UpdateSecret to replace it).
func (c *Client) CreateSecret(ctx context.Context, s api.Secret) error {
	err := c.call(ctx, http.MethodPost, "/system/secrets", nil, s, nil, http.StatusOK, http.StatusCreated, http.StatusAccepted)
	return wrapStatusErr("create secret "+qualified(s.Name, s.Namespace), err)
}

// UpdateSecret replaces a secret's value: PUT /system/secrets. A missing
// secret is ErrNotFound.
func (c *Client) UpdateSecret(ctx context.Context, s api.Secret) error {
	err := c.call(ctx, http.MethodPut, "/system/secrets", nil, s, nil, http.StatusOK, http.StatusCreated, http.StatusAccepted)
	return wrapStatusErr("update secret "+qualified(s.Name, s.Namespace), err)
}

// RemoveSecret deletes a secret: DELETE /system/secrets with the name and
// namespace in the body. A missing secret is ErrNotFound; one a function
// uses is ErrConflict.
func (c *Client) RemoveSecret(ctx context.Context, name, namespace string) error {
	req := api.Secret{Name: name, Namespace: namespace}
	err := c.call(ctx, http.MethodDelete, "/system/secrets", nil, req, nil, http.StatusOK, http.StatusAccepted)
	return wrapStatusErr("remove secret "+qualified(name, namespace), err)
}

// wrapStatusErr wraps err with op, adding ErrNotFound for 404 and
// ErrConflict for 409. A nil err stays nil.
func wrapStatusErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var se *StatusError
	if errors.As(err, &se) && se.Code == http.StatusConflict {
		return fmt.Errorf("%s: %w: %w", op, ErrConflict, err)
	}
	return wrapNotFound(op, err)
}
