package compose

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// parseTree parses the raw file with yaml.v3 so that errors and warnings can
// name lines; compose-go's model has none. It returns the document's top
// node (nil for an empty file) or an *Error for YAML that does not parse.
func parseTree(file string, data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(file, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	if n := cyclicAlias(doc.Content[0]); n != nil {
		// compose-go spends many seconds on these before refusing them
		return nil, &Error{File: file, Line: n.Line, Reason: fmt.Sprintf("alias *%s refers to a node that contains it", n.Value)}
	}
	return doc.Content[0], nil
}

// cyclicAlias returns the first alias that points at a node containing
// it, by a depth-first walk that follows aliases and visits each node once.
func cyclicAlias(root *yaml.Node) *yaml.Node {
	const (
		open = iota + 1 // on the current path
		done            // walked, no cycle below
	)
	state := map[*yaml.Node]int{}
	var visit func(n *yaml.Node, depth int) *yaml.Node
	visit = func(n *yaml.Node, depth int) *yaml.Node {
		if depth > 1000 {
			return n // nested beyond any sensible compose file
		}
		if n.Kind == yaml.AliasNode {
			if n.Alias == nil || state[n.Alias] == open {
				return n
			}
			if state[n.Alias] == done {
				return nil
			}
			return visit(n.Alias, depth+1)
		}
		if state[n] == done {
			return nil
		}
		state[n] = open
		for _, c := range n.Content {
			if bad := visit(c, depth+1); bad != nil {
				return bad
			}
		}
		state[n] = done
		return nil
	}
	return visit(root, 0)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// yamlError turns a yaml.v3 error ("yaml: line 3: mapping values are not
// allowed in this context") into an *Error with that line.
func yamlError(file string, err error) *Error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Reason: "invalid YAML: " + strings.TrimPrefix(msg, m[0])}
	}
	if e, ok := err.(*yaml.TypeError); ok && len(e.Errors) > 0 {
		msg = e.Errors[0]
		if m := regexp.MustCompile(`^line (\d+): `).FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			return &Error{File: file, Line: line, Reason: "invalid YAML: " + strings.TrimPrefix(msg, m[0])}
		}
	}
	return &Error{File: file, Reason: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// pair is one key of a mapping node, merge keys ("<<: *anchor") resolved.
type pair struct {
	key   *yaml.Node
	value *yaml.Node
}

// pairs lists a mapping's keys in file order, those merged in with "<<"
// included (at the merged mapping's lines), without the "<<" keys.
func pairs(n *yaml.Node) []pair {
	return pairsDepth(n, 0)
}

func pairsDepth(n *yaml.Node, depth int) []pair {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode || depth > 16 {
		return nil
	}
	var out []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "<<" && k.Tag == "!!merge" {
			v = deref(v)
			if v != nil && v.Kind == yaml.SequenceNode {
				for _, m := range v.Content {
					out = append(out, pairsDepth(m, depth+1)...)
				}
			} else {
				out = append(out, pairsDepth(v, depth+1)...)
			}
			continue
		}
		out = append(out, pair{k, v})
	}
	return out
}

// deref follows aliases.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	return n
}

// child returns the value under key in a mapping, or the index-th item of a
// sequence, with the line of its key (or item); nil when absent.
func child(n *yaml.Node, key string) (*yaml.Node, int) {
	n = deref(n)
	if n == nil {
		return nil, 0
	}
	switch n.Kind {
	case yaml.MappingNode:
		found := -1
		ps := pairs(n)
		for i, p := range ps {
			if p.key.Value == key {
				found = i // the last one wins, as in compose
			}
		}
		if found >= 0 {
			return ps[found].value, ps[found].key.Line
		}
	case yaml.SequenceNode:
		if i, err := strconv.Atoi(key); err == nil && i >= 0 && i < len(n.Content) {
			return n.Content[i], n.Content[i].Line
		}
	}
	return nil, 0
}

// lineOf returns the line of the deepest node along path that exists
// ("services.web.ports.0": the first port, or the ports key when it has no
// such item), 0 when not even the first step exists.
func lineOf(root *yaml.Node, path []string) int {
	line, n := 0, root
	for _, step := range path {
		next, l := child(n, step)
		if next == nil {
			break
		}
		n, line = next, l
	}
	return line
}

// maxPortRange bounds the ports one ports entry may publish: compose-go
// takes seconds to expand "1-65535:1-65535", and no side service needs
// thousands of published ports.
const maxPortRange = 1000

var portRange = regexp.MustCompile(`(\d+)-(\d+)`)

// hugePortRange returns the first ports item whose range spans more than
// maxPortRange ports, and that span.
func hugePortRange(root *yaml.Node) (*yaml.Node, int) {
	services, _ := child(root, "services")
	for _, s := range pairs(services) {
		ports, _ := child(s.value, "ports")
		if ports = deref(ports); ports == nil || ports.Kind != yaml.SequenceNode {
			continue
		}
		for _, item := range ports.Content {
			item = deref(item)
			if item.Kind == yaml.MappingNode {
				item, _ = child(item, "published")
			}
			if item == nil || item.Kind != yaml.ScalarNode {
				continue
			}
			for _, m := range portRange.FindAllStringSubmatch(item.Value, -1) {
				lo, _ := strconv.Atoi(m[1])
				hi, _ := strconv.Atoi(m[2])
				if hi-lo >= maxPortRange {
					return item, hi - lo + 1
				}
			}
		}
	}
	return nil, 0
}
