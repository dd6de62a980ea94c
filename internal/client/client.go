// Package client is the typed HTTP client for a funcd (or any
// OpenFaaS-compatible) gateway: deploy, update, list, describe, scale,
// remove and invoke functions, and read the gateway's info. The funcd CLI
// and the end-to-end tests both use it, so wire details (status codes,
// where the namespace travels, the PUT-then-POST deploy) live here once.
//
// It also reads and writes the faas-cli credentials file (config.go), so
// `funcd login` and `faas-cli login` share logins.
//
// It imports only the standard library, internal/api, internal/atomicfile
// and gopkg.in/yaml.v3; it must not read the environment or import CLI code.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/funcd/funcd/internal/api"
)

// maxErrorBody caps how much of an error response is kept in a StatusError.
const maxErrorBody = 64 << 10

// ErrNotFound is wrapped by GetFunction, Update, Remove and Scale when the
// gateway answers 404. The same error also unwraps to a *StatusError.
var ErrNotFound = errors.New("not found")

// StatusError is returned for any unexpected HTTP status.
type StatusError struct {
	Code int
	Body string // the server's response text, trimmed
}

// Error reports the status and, when there is one, the server's text.
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("server returned %d %s", e.Code, http.StatusText(e.Code))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Client talks to one gateway. It is safe for concurrent use.
type Client struct {
	gateway  string
	user     string
	password string
	hasAuth  bool
	http     *http.Client // invocations: the caller's client, unchanged
	system   *http.Client // /system calls: same client, never follows redirects
}

// Option configures a Client.
type Option func(*Client)

// WithBasicAuth sends HTTP Basic credentials on every /system call.
// Invocations and health checks never carry them.
func WithBasicAuth(user, password string) Option {
	return func(c *Client) {
		c.user, c.password, c.hasAuth = user, password, true
	}
}

// WithHTTPClient replaces the default http.Client. Its redirect policy is
// kept for invocations; /system calls never follow redirects.
func WithHTTPClient(h *http.Client) Option {
	return func(c *Client) {
		if h != nil {
			c.http = h
		}
	}
}

// New returns a client for gateway, e.g. "http://127.0.0.1:8080". A
// trailing slash is trimmed. The default http.Client has no overall
// timeout: every call is bounded by its context.
func New(gateway string, opts ...Option) *Client {
	c := &Client{gateway: strings.TrimRight(gateway, "/"), http: &http.Client{}}
	for _, o := range opts {
		o(c)
	}
	sys := *c.http
	sys.CheckRedirect = func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}
	c.system = &sys
	return c
}

// Gateway returns the gateway URL without a trailing slash.
func (c *Client) Gateway() string { return c.gateway }

// FunctionURL returns the invocation URL of a function: gateway +
// "/function/NAME", with ".NS" appended when namespace is set and is not
// api.DefaultNamespace.
func (c *Client) FunctionURL(name, namespace string) string {
	target := name
	if namespace != "" && namespace != api.DefaultNamespace {
		target += "." + namespace
	}
	return c.gateway + "/function/" + url.PathEscape(target)
}

// Invoke calls the function NAME[.NS] with method, appending path (empty,
// or starting with "/", optionally followed by "?query"). It never sends
// the client's credentials. The response is returned for any status; the
// caller closes its body.
func (c *Client) Invoke(ctx context.Context, name, namespace, method, path string, body io.Reader, header http.Header) (*http.Response, error) {
	if path != "" && !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("invoke %s: path %q must start with /", name, path)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.FunctionURL(name, namespace)+path, body)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", name, err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", name, err)
	}
	return res, nil
}

// Health checks GET /healthz without credentials; only 200 is healthy.
func (c *Client) Health(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.gateway+"/healthz", nil)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	res, err := c.system.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer res.Body.Close()
	if err := checkStatus(res, http.StatusOK); err != nil {
		return fmt.Errorf("health: %w", err)
	}
	return nil
}

// call sends a /system request with credentials and a JSON body (when in
// is non-nil), checks the status against ok, and decodes the response into
// out (when non-nil).
func (c *Client) call(ctx context.Context, method, path string, query url.Values, in, out any, ok ...int) error {
	u := c.gateway + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if out != nil {
		req.Header.Set("Accept", "application/json")
	}
	if c.hasAuth {
		req.SetBasicAuth(c.user, c.password)
	}
	res, err := c.system.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if err := checkStatus(res, ok...); err != nil {
		return err
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxErrorBody))
		return nil
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}

// checkStatus returns a *StatusError unless res has one of the ok codes.
func checkStatus(res *http.Response, ok ...int) error {
	for _, code := range ok {
		if res.StatusCode == code {
			return nil
		}
	}
	b, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	return &StatusError{Code: res.StatusCode, Body: strings.TrimSpace(string(b))}
}

// wrapNotFound wraps err with op, adding ErrNotFound when the server
// answered 404.
func wrapNotFound(op string, err error) error {
	var se *StatusError
	if errors.As(err, &se) && se.Code == http.StatusNotFound {
		return fmt.Errorf("%s: %w: %w", op, ErrNotFound, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// namespaceQuery returns ?namespace=NS, or nothing for an empty namespace.
func namespaceQuery(namespace string) url.Values {
	if namespace == "" {
		return nil
	}
	return url.Values{"namespace": {namespace}}
}

// qualified names a function for error messages.
func qualified(name, namespace string) string {
	if namespace == "" {
		return name
	}
	return name + "." + namespace
}
