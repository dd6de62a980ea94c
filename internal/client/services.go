package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/funcd/funcd/internal/api"
)

// Services lists the side services of funcd's compose file:
// GET /system/services.
func (c *Client) Services(ctx context.Context) ([]api.ServiceStatus, error) {
	var out []api.ServiceStatus
	if err := c.call(ctx, http.MethodGet, "/system/services", nil, nil, &out, http.StatusOK); err != nil {
		return nil, wrapNotFound("list services", err)
	}
	return out, nil
}

// RestartService restarts a side service's task:
// POST /system/services/NAME/restart. A missing service is ErrNotFound.
func (c *Client) RestartService(ctx context.Context, name string) error {
	if err := c.call(ctx, http.MethodPost, "/system/services/"+url.PathEscape(name)+"/restart", nil, nil, nil, http.StatusAccepted); err != nil {
		return wrapNotFound("restart service "+name, err)
	}
	return nil
}
