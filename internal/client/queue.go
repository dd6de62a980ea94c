package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/funcd/funcd/internal/api"
)

// InvokeAsync queues an invocation of the function NAME[.NS]: POST
// /async-function/NAME[.NS] plus path (empty, or starting with "/",
// optionally followed by "?query"). Only 202 is success. It never sends the
// client's credentials. header may carry X-Callback-Url (where the result
// is delivered) and X-Call-Id.
//
// The call id returned is the caller's X-Call-Id when header sets one,
// else the one the gateway generated (empty if it sent none). An unknown
// function is ErrNotFound; any other status is a *StatusError.
func (c *Client) InvokeAsync(ctx context.Context, name, namespace, path string, body io.Reader, header http.Header) (string, error) {
	op := "invoke async " + qualified(name, namespace)
	if path != "" && !strings.HasPrefix(path, "/") {
		return "", fmt.Errorf("%s: path %q must start with /", op, path)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.asyncFunctionURL(name, namespace)+path, body)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	res, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	defer res.Body.Close()
	if err := checkStatus(res, http.StatusAccepted); err != nil {
		return "", wrapNotFound(op, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxErrorBody))
	if id := header.Get("X-Call-Id"); id != "" {
		return id, nil
	}
	return res.Header.Get("X-Call-Id"), nil
}

// asyncFunctionURL is FunctionURL's queued twin: gateway +
// "/async-function/NAME[.NS]".
func (c *Client) asyncFunctionURL(name, namespace string) string {
	target := name
	if namespace != "" && namespace != api.DefaultNamespace {
		target += "." + namespace
	}
	return c.gateway + "/async-function/" + url.PathEscape(target)
}

// QueueStats returns the state of the queue of asynchronous invocations:
// GET /system/queue. A gateway without a queue answers ErrNotFound.
func (c *Client) QueueStats(ctx context.Context) (api.QueueStats, error) {
	var s api.QueueStats
	if err := c.call(ctx, http.MethodGet, "/system/queue", nil, nil, &s, http.StatusOK); err != nil {
		return api.QueueStats{}, wrapNotFound("queue stats", err)
	}
	return s, nil
}

// DeadLetters lists invocations that ran out of attempts: GET
// /system/queue/dead-letters?function=NAME&namespace=NS&limit=N. Empty
// strings and limit <= 0 are left out: a function alone is in the
// gateway's default namespace, a namespace alone selects all its
// functions, neither selects everything; the gateway caps the count. The
// result is never nil on success.
func (c *Client) DeadLetters(ctx context.Context, function, namespace string, limit int) ([]api.DeadLetter, error) {
	q := url.Values{}
	if function != "" {
		q.Set("function", function)
	}
	if namespace != "" {
		q.Set("namespace", namespace)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out []api.DeadLetter
	if err := c.call(ctx, http.MethodGet, "/system/queue/dead-letters", q, nil, &out, http.StatusOK); err != nil {
		return nil, wrapNotFound("list dead letters", err)
	}
	if out == nil {
		out = []api.DeadLetter{}
	}
	return out, nil
}

// Redrive queues dead letters again: POST /system/queue/redrive. Empty
// fields of r select everything, so an empty request redrives every dead
// letter.
func (c *Client) Redrive(ctx context.Context, r api.DeadLetterSelection) (api.RedriveResult, error) {
	var out api.RedriveResult
	if err := c.call(ctx, http.MethodPost, "/system/queue/redrive", nil, r, &out, http.StatusOK); err != nil {
		return api.RedriveResult{}, wrapNotFound("redrive dead letters", err)
	}
	return out, nil
}

// Purge deletes dead letters for good: POST /system/queue/purge. Empty
// fields of sel select everything.
func (c *Client) Purge(ctx context.Context, sel api.DeadLetterSelection) (api.PurgeResult, error) {
	var out api.PurgeResult
	if err := c.call(ctx, http.MethodPost, "/system/queue/purge", nil, sel, &out, http.StatusOK); err != nil {
		return api.PurgeResult{}, wrapNotFound("purge dead letters", err)
	}
	return out, nil
}
