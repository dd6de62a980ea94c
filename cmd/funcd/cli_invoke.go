package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/funcd/funcd/internal/client"
)

// cliMaxErrorBody caps the response text quoted in an invoke error.
const cliMaxErrorBody = 64 << 10

func cliInvoke(ctx context.Context, env cliEnv, args []string) error {
	fs := cliFlagSet("invoke", "NAME[.NAMESPACE] [flags] < body",
		"Call a function with stdin as the request body and print its response.\n"+
			"With --async the call is queued instead: the call id goes to stdout and the\n"+
			"result, if --callback-url is given, is POSTed there. Credentials are never sent.")
	gateway, namespace := cliGatewayFlag(fs), cliNamespaceFlag(fs)
	var (
		method, path, contentType, callback string
		headers, query                      cliRepeated
		async                               bool
	)
	fs.BoolVar(&async, "async", false, "queue the call and print its call id instead of waiting for the response")
	fs.BoolVar(&async, "a", false, "shorthand for --async")
	fs.StringVar(&callback, "callback-url", "", "with --async: an http(s) URL the gateway POSTs the result to")
	fs.StringVar(&method, "method", http.MethodPost, "HTTP method")
	fs.StringVar(&method, "m", http.MethodPost, "shorthand for --method")
	fs.StringVar(&path, "path", "", "path below the function, e.g. /items/1")
	fs.StringVar(&contentType, "content-type", "text/plain", "request Content-Type, unless a header sets it")
	fs.Var(&headers, "header", "request header KEY=VALUE (repeatable)")
	fs.Var(&headers, "H", "shorthand for --header")
	fs.Var(&query, "query", "query parameter KEY=VALUE (repeatable)")
	pos, err := cliParse(fs, env, args)
	if err != nil {
		return err
	}
	if err := cliWantArgs(fs, pos, 1, 1, "a function name"); err != nil {
		return err
	}
	name, ns := cliTarget(pos[0], *namespace)
	method = strings.ToUpper(method)
	if err := cliCheckAsync(async, method, callback); err != nil {
		return err
	}

	header := http.Header{}
	for _, kv := range headers {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return fmt.Errorf("invoke: --header %q: want KEY=VALUE", kv)
		}
		header.Add(strings.TrimSpace(k), v)
	}
	if callback != "" {
		header.Set("X-Callback-Url", callback)
	}
	if header.Get("Content-Type") == "" && contentType != "" {
		header.Set("Content-Type", contentType)
	}
	if path != "" && !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	if len(query) > 0 {
		q := url.Values{}
		for _, kv := range query {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return fmt.Errorf("invoke: --query %q: want KEY=VALUE", kv)
			}
			q.Add(k, v)
		}
		path += "?" + q.Encode()
	}

	// Read the whole body first, as faas-cli does, so the function sees a
	// Content-Length rather than a chunked request.
	cliStdinHint(env)
	var body []byte
	if env.Stdin != nil {
		if body, err = io.ReadAll(env.Stdin); err != nil {
			return fmt.Errorf("invoke: read stdin: %w", err)
		}
	}
	// Invocations carry no credentials, so the config file is not read.
	c := client.New(cliGateway(env, *gateway, ""))
	if async {
		return cliInvokeAsync(ctx, env, c, name, ns, path, body, header)
	}
	res, err := c.Invoke(ctx, name, ns, method, path, bytes.NewReader(body), header)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(res.Body, cliMaxErrorBody))
		return fmt.Errorf("invoke %s: server returned unexpected status code: %d - %s",
			cliQualified(name, ns), res.StatusCode, strings.TrimSpace(string(b)))
	}
	if _, err := io.Copy(env.Stdout, res.Body); err != nil {
		return fmt.Errorf("invoke %s: read response: %w", cliQualified(name, ns), err)
	}
	return nil
}

// cliCheckAsync rejects flags that make no sense with, or without, --async.
func cliCheckAsync(async bool, method, callback string) error {
	switch {
	case !async && callback != "":
		return errors.New("invoke: --callback-url needs --async")
	case async && method != http.MethodPost:
		return fmt.Errorf("invoke: --async always sends POST; --method %s cannot be combined with it", method)
	case callback == "":
		return nil
	}
	if u, err := url.Parse(callback); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("invoke: --callback-url %q: want an absolute http or https URL", callback)
	}
	return nil
}

// cliInvokeAsync queues the call. The call id, when the gateway gives one,
// is the only thing on stdout, so scripts can capture it. Errors keep the
// gateway's text: a 404 may be an unknown function or a gateway without
// /async-function.
func cliInvokeAsync(ctx context.Context, env cliEnv, c *client.Client, name, ns, path string, body []byte, header http.Header) error {
	id, err := c.InvokeAsync(ctx, name, ns, path, bytes.NewReader(body), header)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stderr, "Function submitted asynchronously.")
	if id != "" {
		fmt.Fprintln(env.Stdout, id)
	}
	return nil
}

// cliStdinHint tells an interactive user that the body comes from stdin.
func cliStdinHint(env cliEnv) {
	f, ok := env.Stdin.(*os.File)
	if !ok {
		return
	}
	if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		fmt.Fprintln(env.Stderr, "Reading the request body from stdin - end it with Ctrl+D.")
	}
}
