package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/funcd/funcd/internal/api"
)

// ImportImage streams an image archive (docker save output or an OCI
// layout as tar, plain or gzip) to POST /system/images?namespace=NS and
// returns the images it named. size is the archive's length, or -1 when
// unknown (a pipe); a known length lets the gateway refuse an archive
// over its cap before any of it is sent, and Expect: 100-continue lets
// it refuse bad credentials or a bad namespace the same way.
func (c *Client) ImportImage(ctx context.Context, namespace string, archive io.Reader, size int64) ([]api.Image, error) {
	u := c.gateway + "/system/images"
	if q := namespaceQuery(namespace); q != nil {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, archive)
	if err != nil {
		return nil, fmt.Errorf("import image: %w", err)
	}
	req.ContentLength = size
	if size == 0 {
		req.Body = http.NoBody
	}
	req.Header.Set("Content-Type", "application/octet-stream") // the gateway reads the format from the bytes
	req.Header.Set("Expect", "100-continue")
	req.Header.Set("Accept", "application/json")
	if c.hasAuth {
		req.SetBasicAuth(c.user, c.password)
	}
	res, err := c.system.Do(req)
	if err != nil {
		return nil, fmt.Errorf("import image: %w", err)
	}
	defer res.Body.Close()
	if err := checkStatus(res, http.StatusCreated, http.StatusOK); err != nil {
		return nil, fmt.Errorf("import image: %w", err)
	}
	var out []api.Image
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("import image: decode response: %w", err)
	}
	return out, nil
}

// ListImages returns the images in namespace (the gateway's default when
// empty) with the functions using each: GET /system/images?namespace=NS.
func (c *Client) ListImages(ctx context.Context, namespace string) ([]api.Image, error) {
	var out []api.Image
	if err := c.call(ctx, http.MethodGet, "/system/images", namespaceQuery(namespace), nil, &out, http.StatusOK); err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	return out, nil
}

// RemoveImage deletes image ref: DELETE /system/images?name=REF. A
// missing image is ErrNotFound; one a function uses is ErrConflict, whose
// StatusError names the functions.
func (c *Client) RemoveImage(ctx context.Context, ref, namespace string) error {
	q := url.Values{"name": {ref}}
	if namespace != "" {
		q.Set("namespace", namespace)
	}
	err := c.call(ctx, http.MethodDelete, "/system/images", q, nil, nil, http.StatusOK, http.StatusAccepted, http.StatusNoContent)
	return wrapStatusErr("remove image "+ref, err)
}
