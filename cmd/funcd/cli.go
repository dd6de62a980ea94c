package main

// The client subcommands (login, deploy, list, ...). Each command only
// turns its flags into calls on internal/client and internal/stack and
// formats the result; the wire protocol lives in internal/client.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/funcd/funcd/internal/client"
)

// cliDefaultGateway is used when neither --gateway, OPENFAAS_URL nor a stack
// file names one.
const cliDefaultGateway = "http://127.0.0.1:8080"

// cliCommand is one client subcommand.
type cliCommand struct {
	summary string
	run     func(ctx context.Context, env cliEnv, args []string) error
}

// cliEnv is what a command may touch of the outside world.
type cliEnv struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

func (e cliEnv) getenv(key string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(key)
}

// cliCommands maps a subcommand name to its implementation. ctx is
// cancelled on SIGINT/SIGTERM.
var cliCommands = map[string]cliCommand{
	"login":     {"save gateway credentials (shared with faas-cli)", cliWithHelp(cliLogin)},
	"deploy":    {"deploy or update functions from flags or a stack.yml", cliWithHelp(cliDeploy)},
	"list":      {"list deployed functions", cliWithHelp(cliList)},
	"logs":      {"print a function's output (--follow to keep printing)", cliWithHelp(cliLogs)},
	"namespace": {"list, create and delete namespaces", cliWithHelp(cliNamespace)},
	"describe":  {"show one function's details and status", cliWithHelp(cliDescribe)},
	"image":     {"import image archives (no registry needed), list and remove images", cliWithHelp(cliImage)},
	"install":   {"write the systemd unit and /etc/default/funcd (install.sh runs it)", cliWithHelp(cliInstall)},
	"invoke":    {"call a function with stdin as the request body", cliWithHelp(cliInvoke)},
	"queue":     {"show the async invocation queue; list and redrive dead letters", cliWithHelp(cliQueue)},
	"remove":    {"remove functions", cliWithHelp(cliRemove)},
	"rm":        {"alias for remove", cliWithHelp(cliRemove)},
	"scale":     {"set a function's replica count", cliWithHelp(cliScale)},
	"secret":    {"create, update, list and remove secrets", cliWithHelp(cliSecret)},
	"service":   {"list the side services (docker-compose.yaml), print their logs, restart one", cliWithHelp(cliService)},
	"version":   {"print the CLI and gateway versions", cliWithHelp(cliVersion)},
}

// cliWithHelp turns the flag.ErrHelp that follows a printed -h usage into
// success.
func cliWithHelp(run func(context.Context, cliEnv, []string) error) func(context.Context, cliEnv, []string) error {
	return func(ctx context.Context, env cliEnv, args []string) error {
		if err := run(ctx, env, args); !errors.Is(err, flag.ErrHelp) {
			return err
		}
		return nil
	}
}

// cliFlagSet returns a FlagSet whose usage shows synopsis (the part after
// "funcd NAME") and summary.
func cliFlagSet(name, synopsis, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: funcd %s %s\n\n%s\n\nFlags:\n", name, synopsis, summary)
		fs.PrintDefaults()
	}
	return fs
}

// cliParse parses args, allowing flags after positional arguments, and
// returns the positional ones. -h prints usage to Stdout and returns
// flag.ErrHelp; a bad flag is returned as an error, with nothing printed.
func cliParse(fs *flag.FlagSet, env cliEnv, args []string) ([]string, error) {
	fs.SetOutput(io.Discard) // errors are returned, not printed
	var pos []string
	for {
		if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(env.Stdout)
			fs.Usage()
			return nil, err
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w (see funcd %s -h)", fs.Name(), err, fs.Name())
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// cliWantArgs checks the number of positional arguments.
func cliWantArgs(fs *flag.FlagSet, args []string, min, max int, what string) error {
	if len(args) < min || max >= 0 && len(args) > max {
		return fmt.Errorf("%s: want %s, got %d argument(s); see funcd %s -h", fs.Name(), what, len(args), fs.Name())
	}
	return nil
}

// cliGatewayFlag registers --gateway (and -g) on fs.
func cliGatewayFlag(fs *flag.FlagSet) *string {
	var gw string
	const usage = "gateway URL (default $OPENFAAS_URL, else " + cliDefaultGateway + ")"
	fs.StringVar(&gw, "gateway", "", usage)
	fs.StringVar(&gw, "g", "", "shorthand for --gateway")
	return &gw
}

// cliNamespaceFlag registers --namespace (and -n) on fs.
func cliNamespaceFlag(fs *flag.FlagSet) *string {
	var ns string
	fs.StringVar(&ns, "namespace", "", "function namespace (default: the gateway's)")
	fs.StringVar(&ns, "n", "", "shorthand for --namespace")
	return &ns
}

// cliGateway picks the gateway: --gateway, then OPENFAAS_URL, then the
// stack file's provider.gateway, then the default.
func cliGateway(env cliEnv, flagValue, stackValue string) string {
	for _, gw := range []string{flagValue, env.getenv("OPENFAAS_URL"), stackValue, cliDefaultGateway} {
		if gw = strings.TrimRight(strings.TrimSpace(gw), "/"); gw != "" {
			return gw
		}
	}
	return cliDefaultGateway
}

// cliConfigDir is where credentials live: $OPENFAAS_CONFIG, else
// $HOME/.openfaas, as for faas-cli.
func cliConfigDir(env cliEnv) (string, error) {
	if dir := env.getenv("OPENFAAS_CONFIG"); dir != "" {
		return dir, nil
	}
	if home := env.getenv("HOME"); home != "" {
		return filepath.Join(home, ".openfaas"), nil
	}
	return "", errors.New("cannot find the credentials directory: set OPENFAAS_CONFIG or HOME")
}

// cliClient returns a client for gateway carrying the stored credentials
// for it, if any.
func cliClient(env cliEnv, gateway string) (*client.Client, error) {
	dir, err := cliConfigDir(env)
	if err != nil {
		return client.New(gateway), nil // nowhere to look: no credentials
	}
	user, pass, ok, err := client.LoadCredentials(dir, gateway)
	if err != nil {
		return nil, err
	}
	if !ok {
		return client.New(gateway), nil
	}
	return client.New(gateway, client.WithBasicAuth(user, pass)), nil
}

// target splits a NAME or NAME.NS argument; an explicit --namespace wins.
func cliTarget(arg, namespace string) (name, ns string) {
	if namespace == "" {
		if i := strings.LastIndexByte(arg, '.'); i >= 0 {
			return arg[:i], arg[i+1:]
		}
	}
	return arg, namespace
}

// cliQualified names a function in messages.
func cliQualified(name, namespace string) string {
	if namespace == "" {
		return name
	}
	return name + "." + namespace
}

// cliRepeated collects a repeatable flag's values in order.
type cliRepeated []string

var _ flag.Value = (*cliRepeated)(nil)

func (l *cliRepeated) String() string     { return strings.Join(*l, ",") }
func (l *cliRepeated) Set(v string) error { *l = append(*l, v); return nil }

// cliKeyValues parses K=V values, splitting on the first "="; later keys win.
func cliKeyValues(flagName string, values []string) (map[string]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(values))
	for _, kv := range values {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("--%s %q: want KEY=VALUE", flagName, kv)
		}
		m[strings.TrimSpace(k)] = v
	}
	return m, nil
}

// cliSubcommand is one subcommand of a command group (secret, queue).
type cliSubcommand struct {
	name, summary string
	run           func(context.Context, cliEnv, []string) error
}

// cliDispatch runs "funcd GROUP SUBCOMMAND ARGS": usage (about, then the
// subcommands) for -h or no subcommand, an error naming an unknown one.
func cliDispatch(ctx context.Context, env cliEnv, group, about string, subs []cliSubcommand, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		width := 0
		for _, c := range subs {
			width = max(width, len(c.name))
		}
		fmt.Fprintf(env.Stdout, "Usage: funcd %s SUBCOMMAND [flags]\n\n%s\n\nSubcommands:\n", group, about)
		for _, c := range subs {
			fmt.Fprintf(env.Stdout, "  %-*s %s\n", width+1, c.name, c.summary)
		}
		if len(args) == 0 {
			return fmt.Errorf("%s: want a subcommand; see funcd %s -h", group, group)
		}
		return flag.ErrHelp
	}
	for _, c := range subs {
		if c.name == args[0] {
			return c.run(ctx, env, args[1:])
		}
	}
	return fmt.Errorf("%s: unknown subcommand %q; see funcd %s -h", group, args[0], group)
}

// cliStart parses args into fs, checks the number of positional arguments
// (min to max, max -1 for any; what names them) and returns them with a
// client for the gateway, logged in with the saved credentials.
func cliStart(fs *flag.FlagSet, env cliEnv, args []string, gateway *string, min, max int, what string) ([]string, *client.Client, error) {
	pos, err := cliParse(fs, env, args)
	if err != nil {
		return nil, nil, err
	}
	if err := cliWantArgs(fs, pos, min, max, what); err != nil {
		return nil, nil, err
	}
	c, err := cliClient(env, cliGateway(env, *gateway, ""))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", fs.Name(), err)
	}
	return pos, c, nil
}
