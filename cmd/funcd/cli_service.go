package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/funcd/funcd/internal/client"
)

// cliService runs `funcd service list|logs|restart`: the side services of
// the compose file funcd runs.
func cliService(ctx context.Context, env cliEnv, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(env.Stdout, "Usage: funcd service list | logs NAME [-f] [--tail N] [--since D] | restart NAME [--gateway URL]")
		if len(args) == 0 {
			return errors.New("service: a subcommand is required")
		}
		return nil
	}
	sub, rest := args[0], args[1:]
	fs := cliFlagSet("service "+sub, "[NAME] [flags]", "Side services from the compose file.")
	gateway := cliGatewayFlag(fs)
	var opts client.LogOptions
	var since time.Duration
	if sub == "logs" {
		fs.BoolVar(&opts.Follow, "follow", false, "keep printing new lines until interrupted")
		fs.BoolVar(&opts.Follow, "f", false, "shorthand for --follow")
		fs.IntVar(&opts.Tail, "tail", -1, "print only the last N lines (-1 for all)")
		fs.DurationVar(&since, "since", 0, "print only lines of the last DURATION, e.g. 10m")
	}
	pos, err := cliParse(fs, env, rest)
	if err != nil {
		return err
	}
	c, err := cliClient(env, cliGateway(env, *gateway, ""))
	if err != nil {
		return fmt.Errorf("service: %w", err)
	}
	switch sub {
	case "list", "ls":
		if err := cliWantArgs(fs, pos, 0, 0, ""); err != nil {
			return err
		}
		list, err := c.Services(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tSTATE\tHEALTH\tPID\tADDRESS\tPORTS\tRESTARTS\tIMAGE")
		for _, s := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%d\t%s\n", s.Name, s.State, dash(s.Health), s.PID, dash(s.Address), dash(strings.Join(s.Ports, ",")), s.Restarts, s.Image)
		}
		return tw.Flush()
	case "restart":
		if err := cliWantArgs(fs, pos, 1, 1, "a service name"); err != nil {
			return err
		}
		if err := c.RestartService(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "restarting %s\n", pos[0])
		return nil
	case "logs":
		if err := cliWantArgs(fs, pos, 1, 1, "a service name"); err != nil {
			return err
		}
		if since < 0 {
			return fmt.Errorf("service logs: --since %v must not be negative", since)
		}
		if since > 0 {
			opts.Since = time.Now().Add(-since)
		}
		s, err := c.ServiceLogs(ctx, pos[0], opts)
		if err != nil {
			return err
		}
		defer s.Close()
		return printLogs(ctx, env, s)
	default:
		return fmt.Errorf("service: unknown subcommand %q (list, logs, restart)", sub)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
