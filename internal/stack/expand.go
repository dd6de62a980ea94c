package stack

import (
	"fmt"
	"strings"
)

// expand replaces ${VAR}, ${VAR:-default} and ${VAR-default} in s, as
// faas-cli does to a stack file before parsing it. ":-" uses the default
// when VAR is unset or empty, "-" only when it is unset; an unset ${VAR}
// becomes "". A "$" not followed by "{" is left alone.
func expand(s string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("unterminated ${ at %q", truncate(s[i:]))
		}
		v, err := substitute(s[i+2:i+end], lookup)
		if err != nil {
			return "", err
		}
		b.WriteString(v)
		s = s[i+end+1:]
	}
}

// substitute resolves the inside of one ${...}.
func substitute(expr string, lookup func(string) (string, bool)) (string, error) {
	name, def, mode := expr, "", ""
	if i := strings.Index(expr, ":-"); i >= 0 {
		name, def, mode = expr[:i], expr[i+2:], ":-"
	} else if i := strings.IndexByte(expr, '-'); i >= 0 {
		name, def, mode = expr[:i], expr[i+1:], "-"
	}
	if !validVarName(name) {
		return "", fmt.Errorf("bad substitution ${%s}", expr)
	}
	v, ok := lookup(name)
	if mode == ":-" && v == "" || mode == "-" && !ok {
		return def, nil
	}
	return v, nil
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		letter := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}
