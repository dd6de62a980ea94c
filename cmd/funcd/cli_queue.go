package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/client"
)

// cliMaxErrorColumn caps the ERROR column of queue dead-letters; --json
// shows the whole text.
const cliMaxErrorColumn = 60

// cliQueueCommands are the subcommands of "funcd queue".
var cliQueueCommands = []cliSubcommand{
	{"stats", "show queued, in-flight, retrying and dead invocations per function", cliQueueStats},
	{"dead-letters", "list invocations that ran out of attempts", cliQueueDeadLetters},
	{"redrive", "queue dead letters again", cliQueueRedrive},
	{"purge", "delete dead letters for good", cliQueuePurge},
}

// cliQueue dispatches "funcd queue SUBCOMMAND".
func cliQueue(ctx context.Context, env cliEnv, args []string) error {
	return cliDispatch(ctx, env, "queue", "Inspect the queue of asynchronous invocations (funcd invoke --async,\nPOST /async-function/NAME) and redrive or purge its dead letters.", cliQueueCommands, args)
}

func cliQueueStats(ctx context.Context, env cliEnv, args []string) error {
	fs := cliFlagSet("queue stats", "[flags]",
		"Show the queue of asynchronous invocations: a totals line, then one line per function.\nMAX-INFLIGHT is the function's "+api.LabelQueueMaxInflight+" label; - means only\nthe daemon's worker limit applies.")
	gateway := cliGatewayFlag(fs)
	asJSON := fs.Bool("json", false, "print the gateway's answer as JSON")
	_, c, err := cliStart(fs, env, args, gateway, 0, 0, "no arguments")
	if err != nil {
		return err
	}
	s, err := c.QueueStats(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return cliWriteJSON(env.Stdout, s)
	}
	return cliWriteQueueStats(env.Stdout, s)
}

func cliWriteQueueStats(w io.Writer, s api.QueueStats) error {
	fmt.Fprintf(w, "total: depth=%d inflight=%d retrying=%d dead=%d callbacks=%d workers=%d\n",
		s.Depth, s.InFlight, s.Retrying, s.DeadLetters, s.Callbacks, s.Workers)
	fns := slices.Clone(s.Functions)
	slices.SortFunc(fns, func(a, b api.FunctionQueue) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Namespace, b.Namespace))
	})
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "FUNCTION\tNAMESPACE\tDEPTH\tINFLIGHT\tRETRYING\tDEAD\tMAX-INFLIGHT")
	for _, f := range fns {
		maxInflight := "-"
		if f.MaxInflight > 0 {
			maxInflight = strconv.Itoa(f.MaxInflight)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n",
			f.Name, cliOrDash(f.Namespace), f.Depth, f.InFlight, f.Retrying, f.DeadLetters, maxInflight)
	}
	return tw.Flush()
}

func cliQueueDeadLetters(ctx context.Context, env cliEnv, args []string) error {
	fs := cliFlagSet("queue dead-letters", "[--function NAME[.NAMESPACE]] [--namespace NS] [flags]",
		"List asynchronous invocations that ran out of attempts, oldest first: one\nfunction's (--function), one namespace's (--namespace alone), or every one.\nThe ID column is what funcd queue redrive --id takes.")
	gateway, namespace := cliGatewayFlag(fs), cliNamespaceFlag(fs)
	function := fs.String("function", "", "only this function's dead letters (NAME or NAME.NAMESPACE)")
	limit := fs.Int("limit", 0, "at most this many (default: the gateway's limit)")
	asJSON := fs.Bool("json", false, "print the gateway's answer as JSON, errors in full")
	_, c, err := cliStart(fs, env, args, gateway, 0, 0, "no arguments")
	if err != nil {
		return err
	}
	name, ns := cliQueueSelector(*function, *namespace)
	if *limit < 0 {
		return fmt.Errorf("queue dead-letters: --limit %d: want 0 or more", *limit)
	}
	dls, err := c.DeadLetters(ctx, name, ns, *limit)
	if err != nil {
		return err
	}
	if *asJSON {
		return cliWriteJSON(env.Stdout, dls)
	}
	return cliWriteDeadLetters(env.Stdout, dls)
}

func cliWriteDeadLetters(w io.Writer, dls []api.DeadLetter) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCALL-ID\tFUNCTION\tATTEMPTS\tSTATUS\tFAILED-AT\tERROR")
	for _, d := range dls {
		status := "-" // nothing answered
		if d.Status != 0 {
			status = strconv.Itoa(d.Status)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\n", d.ID, cliOrDash(d.CallID),
			cliQualified(d.Function, d.Namespace), d.Attempts, status, cliTime(d.FailedAt),
			cliOrDash(cliOneLine(d.Error, cliMaxErrorColumn)))
	}
	return tw.Flush()
}

// cliOneLine folds s onto one line (white space runs become one space) and
// cuts it to max runes, ending a cut text with "...".
func cliOneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > max {
		return string(r[:max-3]) + "..."
	}
	return s
}

func cliQueueRedrive(ctx context.Context, env cliEnv, args []string) error {
	sel, c, err := cliDeadLetterSelection(env, args, "redrive", "Queue dead letters again, with fresh attempts.")
	if err != nil {
		return err
	}
	res, err := c.Redrive(ctx, sel)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "redriven: %d\n", res.Redriven)
	return nil
}

func cliQueuePurge(ctx context.Context, env cliEnv, args []string) error {
	sel, c, err := cliDeadLetterSelection(env, args, "purge", "Delete dead letters for good.")
	if err != nil {
		return err
	}
	res, err := c.Purge(ctx, sel)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "purged: %d\n", res.Purged)
	return nil
}

// cliDeadLetterSelection parses the flags that pick dead letters for
// "queue redrive" and "queue purge" (verb), refusing to pick everything
// without --all, and returns a client for the gateway.
func cliDeadLetterSelection(env cliEnv, args []string, verb, about string) (api.DeadLetterSelection, *client.Client, error) {
	fs := cliFlagSet("queue "+verb, "(--function NAME[.NAMESPACE] | --namespace NS | --id N... | --all) [flags]",
		about+" Say which: a function's (--function), a namespace's\n(--namespace alone), some by ID (--id, from funcd queue dead-letters; with\n--function, only that function's among them), or every one (--all, alone).")
	gateway, namespace := cliGatewayFlag(fs), cliNamespaceFlag(fs)
	function := fs.String("function", "", verb+" this function's dead letters (NAME or NAME.NAMESPACE)")
	var ids cliIDs
	fs.Var(&ids, "id", verb+" the dead letter with this ID, from funcd queue dead-letters (repeatable)")
	all := fs.Bool("all", false, verb+" every dead letter of every function")
	var sel api.DeadLetterSelection
	_, c, err := cliStart(fs, env, args, gateway, 0, 0, "no arguments")
	if err != nil {
		return sel, nil, err
	}
	name, ns := cliQueueSelector(*function, *namespace)
	selected := name != "" || ns != "" || len(ids) > 0
	switch {
	case !selected && !*all:
		return sel, nil, fmt.Errorf("queue %s: say what to %s: --function NAME, --namespace NS, --id N, or --all for every dead letter", verb, verb)
	case selected && *all:
		return sel, nil, fmt.Errorf("queue %s: --all cannot be combined with --function, --namespace or --id", verb)
	}
	return api.DeadLetterSelection{Function: name, Namespace: ns, IDs: ids}, c, nil
}

// cliQueueSelector splits --function NAME[.NS]; an explicit --namespace
// wins. A namespace alone selects every function in it; a function alone
// is the gateway's default namespace's.
func cliQueueSelector(function, namespace string) (name, ns string) {
	if function == "" {
		return "", namespace
	}
	return cliTarget(function, namespace)
}

// cliIDs collects a repeatable flag of dead-letter IDs.
type cliIDs []uint64

var _ flag.Value = (*cliIDs)(nil)

func (l *cliIDs) String() string {
	s := make([]string, len(*l))
	for i, id := range *l {
		s[i] = strconv.FormatUint(id, 10)
	}
	return strings.Join(s, ",")
}

func (l *cliIDs) Set(v string) error {
	id, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return errors.New("want a dead-letter ID, a non-negative integer")
	}
	*l = append(*l, id)
	return nil
}

// cliWriteJSON prints v as indented JSON.
func cliWriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
