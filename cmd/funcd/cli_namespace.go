package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/funcd/funcd/internal/api"
)

// cliNamespace runs `funcd namespace list|create|delete`.
func cliNamespace(ctx context.Context, env cliEnv, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(env.Stdout, "Usage: funcd namespace list|create NAME|delete NAME [--gateway URL]")
		if len(args) == 0 {
			return errors.New("namespace: a subcommand is required")
		}
		return nil
	}
	sub, rest := args[0], args[1:]
	fs := cliFlagSet("namespace "+sub, "[NAME] [flags]", "Manage namespaces.")
	gateway := cliGatewayFlag(fs)
	labels := fs.String("label", "", "with create: a label KEY=VALUE")
	pos, err := cliParse(fs, env, rest)
	if err != nil {
		return err
	}
	c, err := cliClient(env, cliGateway(env, *gateway, ""))
	if err != nil {
		return fmt.Errorf("namespace: %w", err)
	}
	switch sub {
	case "list", "ls":
		nss, err := c.Namespaces(ctx)
		if err != nil {
			return err
		}
		for _, ns := range nss {
			fmt.Fprintln(env.Stdout, ns)
		}
		return nil
	case "create", "delete", "rm":
		if err := cliWantArgs(fs, pos, 1, 1, "a namespace name"); err != nil {
			return err
		}
		if sub == "create" {
			n := api.FunctionNamespace{Name: pos[0]}
			if *labels != "" {
				if n.Labels, err = cliKeyValues("label", []string{*labels}); err != nil {
					return err
				}
			}
			if err := c.CreateNamespace(ctx, n); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "Created namespace %s.\n", pos[0])
			return nil
		}
		if err := c.DeleteNamespace(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "Deleted namespace %s.\n", pos[0])
		return nil
	default:
		return fmt.Errorf("namespace: unknown subcommand %q (list, create, delete)", sub)
	}
}
