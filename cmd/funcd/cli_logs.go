package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/funcd/funcd/internal/client"
)

func cliLogs(ctx context.Context, env cliEnv, args []string) error {
	fs := cliFlagSet("logs", "NAME[.NAMESPACE] [flags]", "Print a function's output, one line each: TIMESTAMP INSTANCE TEXT.")
	gateway, namespace := cliGatewayFlag(fs), cliNamespaceFlag(fs)
	var opts client.LogOptions
	var since time.Duration
	fs.BoolVar(&opts.Follow, "follow", false, "keep printing new lines until interrupted")
	fs.BoolVar(&opts.Follow, "f", false, "shorthand for --follow")
	fs.IntVar(&opts.Tail, "tail", -1, "print only the last N lines (-1 for all)")
	fs.DurationVar(&since, "since", 0, "print only lines of the last DURATION, e.g. 10m")
	fs.StringVar(&opts.Instance, "instance", "", "print only this replica's lines")
	pos, c, err := cliStart(fs, env, args, gateway, 1, 1, "a function name")
	if err != nil {
		return err
	}
	if since < 0 {
		return fmt.Errorf("logs: --since %v must not be negative", since)
	}
	if since > 0 {
		opts.Since = time.Now().Add(-since)
	}
	name, ns := cliTarget(pos[0], *namespace)
	s, err := c.Logs(ctx, name, ns, opts)
	if err != nil {
		return err
	}
	defer s.Close()
	return printLogs(ctx, env, s)
}

// printLogs prints a log stream's lines, one per message, until it ends
// or ctx does (interrupted while following).
func printLogs(ctx context.Context, env cliEnv, s *client.LogStream) error {
	for {
		m, err := s.Recv()
		if errors.Is(err, io.EOF) || (err != nil && ctx.Err() != nil) {
			return nil
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s %s %s\n", m.Timestamp.Format(time.RFC3339Nano), m.Instance, m.Text)
	}
}
