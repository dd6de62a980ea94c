package provider

import (
	"fmt"
	"slices"

	"github.com/funcd/funcd/internal/api"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// secretsDir is where functions find their secrets (reference §5.4).
const secretsDir = "/var/openfaas/secrets"

// secretsMount builds replica r's secrets view and returns its read-only
// mount. The view belongs to the replica: release removes it, so it goes
// with the replica on delete, after an update, on scale-down and when a
// start fails. A directory is mounted, not each file, so that an update of
// a secret reaches running replicas (see internal/secrets).
func (p *Provider) secretsMount(d api.FunctionDeployment, r *replica) (specs.Mount, error) {
	dir, err := p.secrets.View(d.Namespace, r.id, d.Secrets)
	if err != nil {
		return specs.Mount{}, fmt.Errorf("%w: unable to find secret: %v", ErrInvalid, err)
	}
	return bindMount(dir, secretsDir), nil
}

// releaseSecrets removes r's secrets view, if it has one.
func (p *Provider) releaseSecrets(r *replica) {
	if err := p.secrets.RemoveView(r.ns, r.id); err != nil {
		p.log.Error("remove secrets view", "replica", r.id, "err", err)
	}
}

// UsingSecret returns the functions in namespace ns whose spec lists secret
// name, sorted.
func (p *Provider) UsingSecret(ns, name string) []string {
	var out []string
	for _, f := range p.inNamespace(ns) {
		rec, _ := f.snapshot()
		if slices.Contains(rec.Spec.Secrets, name) {
			out = append(out, rec.Spec.Service)
		}
	}
	slices.Sort(out)
	return out
}
