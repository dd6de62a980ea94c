package main

import (
	"bytes"
	"context"
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
		"Call a function with stdin as the request body and print its response.\nCredentials are never sent.")
	gateway, namespace := cliGatewayFlag(fs), cliNamespaceFlag(fs)
	var (
		method, path, contentType string
		headers, query            cliRepeated
	)
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

	header := http.Header{}
	for _, kv := range headers {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return fmt.Errorf("invoke: --header %q: want KEY=VALUE", kv)
		}
		header.Add(strings.TrimSpace(k), v)
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
	res, err := c.Invoke(ctx, name, ns, strings.ToUpper(method), path, bytes.NewReader(body), header)
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
