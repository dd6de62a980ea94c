package compose

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// keys describes which keys below a node funcd acts on. A nil *keys allows
// anything beneath (values funcd reads whole, such as environment).
type keys struct {
	fields map[string]*keys // a mapping with these keys
	names  *keys            // a mapping of user-chosen names (services, volumes)
	items  *keys            // a sequence whose mapping items have these keys
}

var (
	serviceKeys = &keys{fields: map[string]*keys{
		"image":       nil,
		"command":     nil,
		"entrypoint":  nil,
		"environment": nil,
		"env_file":    {items: &keys{fields: map[string]*keys{"path": nil, "required": nil}}},
		"volumes":     {items: &keys{fields: map[string]*keys{"type": nil, "source": nil, "target": nil, "read_only": nil}}},
		"ports":       {items: &keys{fields: map[string]*keys{"target": nil, "published": nil, "host_ip": nil, "protocol": nil}}},
		"user":        nil,
		"cap_add":     nil,
		"cap_drop":    nil,
		"read_only":   nil,
		"depends_on":  {names: &keys{fields: map[string]*keys{"condition": nil}}},
		"healthcheck": {fields: map[string]*keys{"test": nil, "disable": nil, "interval": nil, "timeout": nil, "start_period": nil, "retries": nil}},
		"restart":     nil,
		"mem_limit":   nil,
		"cpus":        nil,
		"deploy": {fields: map[string]*keys{"resources": {fields: map[string]*keys{
			"limits": {fields: map[string]*keys{"memory": nil, "cpus": nil}},
		}}}},
		"pull_policy": nil,
		"profiles":    nil,
		"extends":     nil,
	}}
	topKeys = &keys{fields: map[string]*keys{
		"name":     nil,
		"version":  nil,
		"services": {names: serviceKeys},
		"volumes":  {names: &keys{fields: map[string]*keys{}}},
	}}
)

// warnings walks the raw file and names every key funcd does not act on.
// Extension keys (x-*) are tooling's and stay silent.
func warnings(root *yaml.Node) []Warning {
	var out []Warning
	walk(root, topKeys, nil, &out)
	return out
}

func walk(n *yaml.Node, spec *keys, path []string, out *[]Warning) {
	n = deref(n)
	if n == nil || spec == nil {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		if spec.fields == nil && spec.names == nil {
			return
		}
		for _, p := range pairs(n) {
			k := p.key.Value
			if strings.HasPrefix(k, "x-") {
				continue
			}
			at := append(path[:len(path):len(path)], k)
			if spec.names != nil {
				walk(p.value, spec.names, at, out)
				continue
			}
			sub, ok := spec.fields[k]
			if !ok {
				w := Warning{Key: strings.Join(at, "."), Line: p.key.Line}
				if len(at) > 1 && at[0] == "services" {
					w.Service = at[1]
				}
				*out = append(*out, w)
				continue
			}
			walk(p.value, sub, at, out)
		}
	case yaml.SequenceNode:
		if spec.items == nil {
			return
		}
		for i, item := range n.Content {
			walk(item, spec.items, append(path[:len(path):len(path)], strconv.Itoa(i)), out)
		}
	}
}
