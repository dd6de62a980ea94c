// Command funcd turns one Linux machine into an OpenFaaS-compatible
// serverless platform. `funcd up` runs the daemon; the other subcommands are
// a client for its API (and for any OpenFaaS gateway).
//
// main only picks the subcommand; the exit code and message come from here
// and nowhere else.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"syscall"
)

// version and commit are set at build time with -ldflags "-X main.version=...".
var (
	version = "dev"
	commit  = ""
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], cliEnv{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "funcd:", err)
		os.Exit(1)
	}
}

// errUsage means the usage was already printed.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, env cliEnv) error {
	if isLogDriver(args) { // hidden: started by containerd's shim, see logger.go
		return runLogDriver(args, env)
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(env.Stderr)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	name, rest := args[0], args[1:]
	switch name {
	case "up":
		return runUp(ctx, rest, env)
	case "purge":
		return runPurge(ctx, rest, env)
	}
	cmd, ok := cliCommands[name]
	if !ok {
		fmt.Fprintf(env.Stderr, "funcd: unknown command %q\n\n", name)
		usage(env.Stderr)
		return errUsage
	}
	return cmd.run(ctx, env, rest)
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: funcd COMMAND [flags]\n\nfuncd runs OpenFaaS functions on containerd, on one machine.\n\nCommands:\n")
	fmt.Fprintf(w, "  %-10s %s\n", "up", "run the daemon (API, invocations, supervisor)")
	fmt.Fprintf(w, "  %-10s %s\n", "purge", "remove an instance's functions, network and state (funcd stopped)")
	for _, name := range slices.Sorted(maps.Keys(cliCommands)) {
		fmt.Fprintf(w, "  %-10s %s\n", name, cliCommands[name].summary)
	}
	fmt.Fprintf(w, "\nRun 'funcd COMMAND -h' for a command's flags.\n")
}
