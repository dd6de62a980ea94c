package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/client"
)

// cliSecretCommands are the subcommands of "funcd secret".
var cliSecretCommands = []cliSubcommand{
	{"create", "store a new secret", cliSecretCreate},
	{"update", "replace a secret's value; running functions see it without a redeploy", cliSecretUpdate},
	{"list", "list secret names (values are never shown)", cliSecretList},
	{"remove", "remove secrets no function uses", cliSecretRemove},
	{"rm", "alias for remove", cliSecretRemove},
}

// cliSecret dispatches "funcd secret SUBCOMMAND".
func cliSecret(ctx context.Context, env cliEnv, args []string) error {
	return cliDispatch(ctx, env, "secret", "Manage function secrets, mounted at /var/openfaas/secrets/NAME.", cliSecretCommands, args)
}

func cliSecretCreate(ctx context.Context, env cliEnv, args []string) error {
	return cliSecretWrite(ctx, env, args, "create", "Store a new secret. The value comes from --from-literal, --from-file or stdin.")
}

func cliSecretUpdate(ctx context.Context, env cliEnv, args []string) error {
	return cliSecretWrite(ctx, env, args, "update", "Replace a secret's value. Running functions read the new value without a redeploy.")
}

// cliSecretWrite is create and update: they differ in the call made.
func cliSecretWrite(ctx context.Context, env cliEnv, args []string, op, summary string) error {
	fs := cliFlagSet("secret "+op, "NAME [--from-literal VALUE | --from-file FILE | < value] [flags]", summary)
	gateway, namespace := cliGatewayFlag(fs), cliNamespaceFlag(fs)
	var literal, file string
	var trim, replace bool
	fs.StringVar(&literal, "from-literal", "", "the value")
	fs.StringVar(&file, "from-file", "", "read the value from FILE, byte for byte")
	fs.BoolVar(&trim, "trim", true, "trim leading and trailing white space of a literal or stdin value")
	if op == "create" {
		fs.BoolVar(&replace, "replace", false, "update the secret when it exists already")
	}
	pos, err := cliParse(fs, env, args)
	if err != nil {
		return err
	}
	if err := cliWantArgs(fs, pos, 1, 1, "a secret name"); err != nil {
		return err
	}
	literalSet := false
	fs.Visit(func(f *flag.Flag) { literalSet = literalSet || f.Name == "from-literal" })
	s := api.Secret{Name: pos[0], Namespace: *namespace}
	switch {
	case literalSet && file != "":
		return fmt.Errorf("secret %s: give --from-literal or --from-file, not both", op)
	case literalSet:
		s.Value = literal
	case file != "":
		if s.RawValue, err = os.ReadFile(file); err != nil {
			return fmt.Errorf("secret %s: %w", op, err)
		}
	default:
		cliStdinHint(env)
		var b []byte
		if env.Stdin != nil {
			if b, err = io.ReadAll(env.Stdin); err != nil {
				return fmt.Errorf("secret %s: read stdin: %w", op, err)
			}
		}
		s.Value = string(b)
	}
	if trim && s.RawValue == nil {
		s.Value = string(bytes.TrimSpace([]byte(s.Value)))
	}
	if len(s.RawValue) == 0 && s.Value == "" {
		return fmt.Errorf("secret %s: the value is empty", op)
	}
	c, err := cliClient(env, cliGateway(env, *gateway, ""))
	if err != nil {
		return fmt.Errorf("secret %s: %w", op, err)
	}
	what := cliQualified(s.Name, s.Namespace)
	if op == "create" {
		err = c.CreateSecret(ctx, s)
		if replace && errors.Is(err, client.ErrConflict) {
			op, err = "update", c.UpdateSecret(ctx, s)
		}
	} else {
		err = c.UpdateSecret(ctx, s)
	}
	switch {
	case op == "create" && errors.Is(err, client.ErrConflict):
		return fmt.Errorf("secret create: %s exists already; use funcd secret update, or --replace", what)
	case op == "update" && errors.Is(err, client.ErrNotFound):
		return fmt.Errorf("secret update: no such secret: %s", what)
	case err != nil:
		return err
	}
	verb := map[string]string{"create": "Created", "update": "Updated"}[op]
	fmt.Fprintf(env.Stdout, "%s secret: %s\n", verb, what)
	return nil
}

func cliSecretList(ctx context.Context, env cliEnv, args []string) error {
	fs := cliFlagSet("secret list", "[flags]", "List secret names. Values are never shown.")
	gateway, namespace := cliGatewayFlag(fs), cliNamespaceFlag(fs)
	_, c, err := cliStart(fs, env, args, gateway, 0, 0, "no arguments")
	if err != nil {
		return err
	}
	secrets, err := c.ListSecrets(ctx, *namespace)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tNAMESPACE")
	for _, s := range secrets {
		fmt.Fprintf(tw, "%s\t%s\n", s.Name, cliOrDash(s.Namespace))
	}
	return tw.Flush()
}

func cliSecretRemove(ctx context.Context, env cliEnv, args []string) error {
	fs := cliFlagSet("secret remove", "NAME... [flags]", "Remove secrets. A secret a deployed function uses is refused.")
	gateway, namespace := cliGatewayFlag(fs), cliNamespaceFlag(fs)
	pos, c, err := cliStart(fs, env, args, gateway, 1, -1, "one or more secret names")
	if err != nil {
		return err
	}
	return cliRemoveEach(env, pos, "secret remove: no such secret", "Removed secret", func(name string) (string, string, error) {
		return name, *namespace, c.RemoveSecret(ctx, name, *namespace)
	})
}
