package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/stack"
)

// cliDeployOptions are the deploy flags. With a stack file, the repeatable
// flags are merged into every selected function (flags win).
type cliDeployOptions struct {
	gateway, namespace         *string
	name, image, fprocess      string
	stackFile, filter          string
	env, labels, annotations   cliRepeated
	secrets, constraints       cliRepeated
	readOnly                   bool
	envVars, labelMap, annoMap map[string]string
}

func cliDeploy(ctx context.Context, env cliEnv, args []string) error {
	fs := cliFlagSet("deploy", "(--name NAME --image IMAGE | -f stack.yml) [flags]",
		"Deploy functions, updating those that exist (PUT, then POST on 404).")
	o := &cliDeployOptions{gateway: cliGatewayFlag(fs), namespace: cliNamespaceFlag(fs)}
	fs.StringVar(&o.name, "name", "", "function name")
	fs.StringVar(&o.image, "image", "", "container image")
	fs.StringVar(&o.fprocess, "fprocess", "", "process the watchdog runs (envProcess), unless the stack file sets one")
	fs.StringVar(&o.stackFile, "f", "", "stack file to deploy (shorthand for --yaml)")
	fs.StringVar(&o.stackFile, "yaml", "", "stack file to deploy")
	fs.StringVar(&o.filter, "filter", "", "with -f, deploy only functions whose name matches this glob")
	fs.Var(&o.env, "env", "environment variable KEY=VALUE (repeatable)")
	fs.Var(&o.env, "e", "shorthand for --env")
	fs.Var(&o.labels, "label", "label KEY=VALUE (repeatable)")
	fs.Var(&o.labels, "l", "shorthand for --label")
	fs.Var(&o.annotations, "annotation", "annotation KEY=VALUE (repeatable)")
	fs.Var(&o.secrets, "secret", "secret to mount (repeatable)")
	fs.Var(&o.constraints, "constraint", "placement constraint (repeatable)")
	fs.BoolVar(&o.readOnly, "readonly", false, "mount the root filesystem read-only")
	pos, err := cliParse(fs, env, args)
	if err != nil {
		return err
	}
	if err := cliWantArgs(fs, pos, 0, 0, "no arguments"); err != nil {
		return err
	}
	if err := o.parseMaps(); err != nil {
		return fmt.Errorf("deploy: %w", err)
	}

	deployments, stackGateway, err := o.deployments(env)
	if err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	c, err := cliClient(env, cliGateway(env, *o.gateway, stackGateway))
	if err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	var errs []error
	for _, d := range deployments {
		fmt.Fprintf(env.Stdout, "Deploying: %s.\n", d.Service)
		if err := c.DeployOrUpdate(ctx, d); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(env.Stdout, "Deployed.\nURL: %s\n\n", c.FunctionURL(d.Service, d.Namespace))
	}
	return errors.Join(errs...)
}

func (o *cliDeployOptions) parseMaps() error {
	var err error
	if o.envVars, err = cliKeyValues("env", o.env); err != nil {
		return err
	}
	if o.labelMap, err = cliKeyValues("label", o.labels); err != nil {
		return err
	}
	o.annoMap, err = cliKeyValues("annotation", o.annotations)
	return err
}

// deployments builds the requests from the flags alone or from the stack
// file, and returns the stack file's gateway.
func (o *cliDeployOptions) deployments(env cliEnv) ([]api.FunctionDeployment, string, error) {
	if o.stackFile == "" {
		if o.name == "" || o.image == "" {
			return nil, "", errors.New("--name and --image are required, or give a stack file with -f")
		}
		if o.filter != "" {
			return nil, "", errors.New("--filter needs -f")
		}
		return []api.FunctionDeployment{o.apply(api.FunctionDeployment{Service: o.name, Image: o.image})}, "", nil
	}
	if o.name != "" || o.image != "" {
		return nil, "", errors.New("--name and --image cannot be combined with -f")
	}
	lookup := func(k string) (string, bool) { v := env.getenv(k); return v, v != "" }
	s, err := stack.Load(o.stackFile, lookup)
	if err != nil {
		return nil, "", err
	}
	var out []api.FunctionDeployment
	for _, fn := range s.Functions {
		if o.filter != "" {
			if ok, err := path.Match(o.filter, fn.Name); err != nil {
				return nil, "", fmt.Errorf("--filter %q: %w", o.filter, err)
			} else if !ok {
				continue
			}
		}
		out = append(out, o.apply(fn.Deployment()))
	}
	if len(out) == 0 {
		return nil, "", fmt.Errorf("no functions to deploy in %s (filter %q)", o.stackFile, o.filter)
	}
	return out, s.Gateway, nil
}

// apply merges the flags into d, following faas-cli: --namespace and
// --readonly override, --env/--label/--annotation win over the file,
// --secret adds, --constraint and --fprocess only fill gaps.
func (o *cliDeployOptions) apply(d api.FunctionDeployment) api.FunctionDeployment {
	if *o.namespace != "" {
		d.Namespace = *o.namespace
	}
	if d.EnvProcess == "" {
		d.EnvProcess = o.fprocess
	}
	d.EnvVars = cliMerge(d.EnvVars, o.envVars)
	d.Labels = cliMerge(d.Labels, o.labelMap)
	d.Annotations = cliMerge(d.Annotations, o.annoMap)
	for _, s := range o.secrets {
		if !slices.Contains(d.Secrets, s) {
			d.Secrets = append(d.Secrets, s)
		}
	}
	if len(d.Constraints) == 0 && len(o.constraints) > 0 {
		d.Constraints = slices.Clone(o.constraints)
	}
	d.ReadOnlyRootFilesystem = d.ReadOnlyRootFilesystem || o.readOnly
	return d
}

// merge returns base with over's keys set; nil when both are empty.
func cliMerge(base, over map[string]string) map[string]string {
	if len(over) == 0 {
		return base
	}
	out := maps.Clone(base)
	if out == nil {
		out = make(map[string]string, len(over))
	}
	maps.Copy(out, over)
	return out
}
