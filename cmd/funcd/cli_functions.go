package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/client"
)

func cliList(ctx context.Context, env cliEnv, args []string) error {
	fs := cliFlagSet("list", "[flags]", "List deployed functions.")
	gateway, namespace := cliGatewayFlag(fs), cliNamespaceFlag(fs)
	var verbose bool
	fs.BoolVar(&verbose, "verbose", false, "also show memory and CPU in use, namespace and creation time")
	fs.BoolVar(&verbose, "v", false, "shorthand for --verbose")
	fs.BoolVar(&verbose, "usage", false, "same as --verbose")
	_, c, err := cliStart(fs, env, args, gateway, 0, 0, "no arguments")
	if err != nil {
		return err
	}
	fns, err := c.ListFunctions(ctx, *namespace)
	if err != nil {
		return err
	}
	slices.SortFunc(fns, func(a, b api.FunctionStatus) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Namespace, b.Namespace))
	})
	return cliWriteList(env.Stdout, fns, verbose)
}

func cliWriteList(w io.Writer, fns []api.FunctionStatus, verbose bool) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	header := "NAME\tINVOCATIONS\tREPLICAS\tIMAGE"
	if verbose {
		header += "\tMEMORY\tCPU\tNAMESPACE\tCREATED"
	}
	fmt.Fprintln(tw, header)
	for _, fn := range fns {
		line := fmt.Sprintf("%s\t%s\t%d/%d\t%s", fn.Name,
			strconv.FormatFloat(fn.InvocationCount, 'f', -1, 64),
			fn.AvailableReplicas, fn.Replicas, fn.Image)
		if verbose {
			mem, cpu := cliUsage(fn.Usage)
			line += "\t" + mem + "\t" + cpu + "\t" + cliOrDash(fn.Namespace) + "\t" + cliTime(fn.CreatedAt)
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

func cliDescribe(ctx context.Context, env cliEnv, args []string) error {
	fs := cliFlagSet("describe", "NAME[.NAMESPACE] [flags]", "Show a function's details and whether it is ready.")
	gateway, namespace := cliGatewayFlag(fs), cliNamespaceFlag(fs)
	pos, c, err := cliStart(fs, env, args, gateway, 1, 1, "a function name")
	if err != nil {
		return err
	}
	name, ns := cliTarget(pos[0], *namespace)
	fn, err := c.GetFunction(ctx, name, ns)
	if errors.Is(err, client.ErrNotFound) {
		return fmt.Errorf("describe: no such function: %s", cliQualified(name, ns))
	}
	if err != nil {
		return err
	}
	if fn.Namespace != "" {
		ns = fn.Namespace
	}
	return cliWriteDescription(env.Stdout, fn, c.FunctionURL(fn.Name, ns))
}

func cliWriteDescription(w io.Writer, fn api.FunctionStatus, url string) error {
	status := "Not Ready"
	if fn.AvailableReplicas > 0 {
		status = "Ready"
	}
	mem, cpu := cliUsage(fn.Usage)
	tw := tabwriter.NewWriter(w, 0, 8, 1, ' ', 0)
	rows := [][2]string{
		{"Name", fn.Name},
		{"Namespace", cliOrDash(fn.Namespace)},
		{"Status", status},
		{"Replicas", strconv.FormatUint(fn.Replicas, 10)},
		{"Available Replicas", strconv.FormatUint(fn.AvailableReplicas, 10)},
		{"Image", fn.Image},
		{"Function Process", cliOrDash(fn.EnvProcess)},
		{"URL", url},
		{"Created", cliTime(fn.CreatedAt)},
		{"Invocations", strconv.FormatFloat(fn.InvocationCount, 'f', -1, 64)},
		{"Memory", mem},
		{"CPU", cpu},
		{"Read-only Root", strconv.FormatBool(fn.ReadOnlyRootFilesystem)},
		{"Limits", cliResources(fn.Limits)},
		{"Requests", cliResources(fn.Requests)},
		{"Secrets", cliOrDash(strings.Join(fn.Secrets, ", "))},
		{"Constraints", cliOrDash(strings.Join(fn.Constraints, ", "))},
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s:\t%s\n", r[0], r[1])
	}
	for _, m := range []struct {
		title string
		kv    map[string]string
	}{{"Labels", fn.Labels}, {"Annotations", fn.Annotations}, {"Environment", fn.EnvVars}} {
		cliWriteMap(tw, m.title, m.kv)
	}
	return tw.Flush()
}

// cliWriteMap prints a map as "Title:\tk=v" then "\tk=v" lines, keys sorted.
func cliWriteMap(w io.Writer, title string, m map[string]string) {
	if len(m) == 0 {
		fmt.Fprintf(w, "%s:\t-\n", title)
		return
	}
	label := title + ":"
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(w, "%s\t%s=%s\n", label, k, m[k])
		label = ""
	}
}

func cliRemove(ctx context.Context, env cliEnv, args []string) error {
	fs := cliFlagSet("remove", "NAME[.NAMESPACE]... [flags]", "Remove functions.")
	gateway, namespace := cliGatewayFlag(fs), cliNamespaceFlag(fs)
	pos, c, err := cliStart(fs, env, args, gateway, 1, -1, "one or more function names")
	if err != nil {
		return err
	}
	return cliRemoveEach(env, pos, "remove: no such function", "Removed", func(arg string) (string, string, error) {
		name, ns := cliTarget(arg, *namespace)
		return name, ns, c.Remove(ctx, name, ns)
	})
}

// cliRemoveEach removes each argument with remove, which returns the name
// and namespace it acted on. Successes print "<done>: NAME[.NS]"; a
// missing one becomes "<missing>: NAME[.NS]"; all failures are joined.
func cliRemoveEach(env cliEnv, args []string, missing, done string, remove func(arg string) (name, ns string, err error)) error {
	var errs []error
	for _, arg := range args {
		name, ns, err := remove(arg)
		switch {
		case errors.Is(err, client.ErrNotFound):
			errs = append(errs, fmt.Errorf("%s: %s", missing, cliQualified(name, ns)))
		case err != nil:
			errs = append(errs, err)
		default:
			fmt.Fprintf(env.Stdout, "%s: %s\n", done, cliQualified(name, ns))
		}
	}
	return errors.Join(errs...)
}

func cliScale(ctx context.Context, env cliEnv, args []string) error {
	fs := cliFlagSet("scale", "NAME[.NAMESPACE] --replicas N [flags]", "Set a function's desired replica count.")
	gateway, namespace := cliGatewayFlag(fs), cliNamespaceFlag(fs)
	replicas := fs.Int64("replicas", -1, "desired replicas (required)")
	pos, c, err := cliStart(fs, env, args, gateway, 1, 1, "a function name")
	if err != nil {
		return err
	}
	if *replicas < 0 {
		return errors.New("scale: --replicas is required and must be 0 or more")
	}
	name, ns := cliTarget(pos[0], *namespace)
	err = c.Scale(ctx, name, ns, uint64(*replicas))
	if errors.Is(err, client.ErrNotFound) {
		return fmt.Errorf("scale: no such function: %s", cliQualified(name, ns))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Scaling %s to %d replica(s).\n", cliQualified(name, ns), *replicas)
	return nil
}

func cliResources(r *api.FunctionResources) string {
	if r == nil {
		return "-"
	}
	var parts []string
	if r.Memory != "" {
		parts = append(parts, "memory="+r.Memory)
	}
	if r.CPU != "" {
		parts = append(parts, "cpu="+r.CPU)
	}
	return cliOrDash(strings.Join(parts, " "))
}

func cliTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}

func cliOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// cliUsage formats what a function's replicas use: memory in MiB, CPU in
// millicores as kubectl top writes them ("15m"); dashes when none runs.
func cliUsage(u *api.FunctionUsage) (memory, cpu string) {
	if u == nil {
		return "-", "-"
	}
	return fmt.Sprintf("%.1f MiB", u.TotalMemoryBytes/(1<<20)), fmt.Sprintf("%.0fm", u.CPU)
}
