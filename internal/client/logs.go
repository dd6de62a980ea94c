package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/funcd/funcd/internal/api"
)

// LogOptions select the lines Logs returns.
type LogOptions struct {
	Instance string    // one replica only, when set
	Tail     int       // the last Tail lines of the history; <= 0 for all
	Since    time.Time // lines at or after this instant, when set
	Follow   bool      // keep streaming new lines until ctx ends or Close
}

// LogStream is an open GET /system/logs response.
type LogStream struct {
	body io.ReadCloser
	dec  *json.Decoder
}

// Recv returns the next line; io.EOF when the stream has ended.
func (s *LogStream) Recv() (api.LogMessage, error) {
	var m api.LogMessage
	if err := s.dec.Decode(&m); err != nil {
		if errors.Is(err, io.EOF) {
			return m, io.EOF
		}
		return m, fmt.Errorf("read logs: %w", err)
	}
	return m, nil
}

// Close ends the stream.
func (s *LogStream) Close() error { return s.body.Close() }

// Logs opens a function's log stream: GET /system/logs?name=NAME&...
// A missing function is ErrNotFound. The caller closes the stream; with
// Follow it ends when ctx does.
func (c *Client) Logs(ctx context.Context, name, namespace string, opts LogOptions) (*LogStream, error) {
	q := url.Values{"name": {name}, "tail": {strconv.Itoa(opts.Tail)}, "follow": {strconv.FormatBool(opts.Follow)}}
	if namespace != "" {
		q.Set("namespace", namespace)
	}
	if opts.Instance != "" {
		q.Set("instance", opts.Instance)
	}
	if !opts.Since.IsZero() {
		q.Set("since", opts.Since.UTC().Format(time.RFC3339))
	}
	return c.openLogs(ctx, "/system/logs", q, "logs of "+qualified(name, namespace))
}

// ServiceLogs opens a side service's log stream:
// GET /system/services/NAME/logs. A missing service is ErrNotFound.
func (c *Client) ServiceLogs(ctx context.Context, name string, opts LogOptions) (*LogStream, error) {
	q := url.Values{"tail": {strconv.Itoa(opts.Tail)}, "follow": {strconv.FormatBool(opts.Follow)}}
	if !opts.Since.IsZero() {
		q.Set("since", opts.Since.UTC().Format(time.RFC3339))
	}
	return c.openLogs(ctx, "/system/services/"+url.PathEscape(name)+"/logs", q, "logs of service "+name)
}

func (c *Client) openLogs(ctx context.Context, path string, q url.Values, op string) (*LogStream, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.gateway+path+"?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Accept", "application/x-ndjson")
	if c.hasAuth {
		req.SetBasicAuth(c.user, c.password)
	}
	res, err := c.system.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := checkStatus(res, http.StatusOK); err != nil {
		res.Body.Close()
		return nil, wrapNotFound(op, err)
	}
	return &LogStream{body: res.Body, dec: json.NewDecoder(res.Body)}, nil
}
