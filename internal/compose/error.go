package compose

import (
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is an invalid compose file: what is wrong and where.
type Error struct {
	File   string
	Line   int // 1-based; 0 when no line can be named
	Reason string
	err    error // the cause, for errors.Is (fs.ErrNotExist for a missing file)
}

// Unwrap returns the cause, such as fs.ErrNotExist when the file is absent.
func (e *Error) Unwrap() error { return e.err }

func (e *Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Reason)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
}

var (
	// a dotted path as compose-go's schema and interpolation errors name it
	dottedPath = regexp.MustCompile(`(?:^|[\s'"])((?:services|volumes|networks|configs|secrets|include|name)(?:\.[^\s.:'"]+)*)`)
	// `service "web" ...` as compose-go's consistency checks say it
	serviceRef = regexp.MustCompile(`service "([^"]+)"`)
	// `service "a" refers to undefined volume data: invalid compose project`
	undefinedVolume = regexp.MustCompile(`undefined volume ([^\s:]+)`)
	// `additional properties 'foo' not allowed`
	quotedKey = regexp.MustCompile(`'([^']+)'`)
)

// loadError turns an error of compose-go into an *Error, finding a line
// in the raw tree from the path or service the message names.
func loadError(file string, root *yaml.Node, err error) *Error {
	reason := err.Error()
	reason = strings.TrimPrefix(reason, "validating "+file+": ")
	reason = strings.ReplaceAll(reason, file+": ", "")
	var path []string
	if m := dottedPath.FindStringSubmatch(reason); m != nil {
		path = strings.Split(m[1], ".")
	} else if m := serviceRef.FindStringSubmatch(reason); m != nil {
		path = []string{"services", m[1]}
	}
	if m := undefinedVolume.FindStringSubmatch(reason); m != nil && len(path) == 2 {
		// the volumes item naming it, rather than the service
		volumes, _ := child(root, path[0])
		volumes, _ = child(volumes, path[1])
		volumes, _ = child(volumes, "volumes")
		if line := scalarLine(volumes, m[1], 0); line != 0 {
			return &Error{File: file, Line: line, Reason: reason}
		}
	}
	if strings.Contains(reason, "additional propert") {
		if m := quotedKey.FindStringSubmatch(reason); m != nil {
			path = append(path, m[1])
		}
	}
	line := lineOf(root, path)
	if path == nil {
		// "invalid hostPort: 70000": the value is the clue
		_, value, _ := cutLast(reason, ": ")
		line = scalarLine(root, strings.Trim(value, `"'`), 0)
	}
	return &Error{File: file, Line: line, Reason: reason}
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// scalarLine is the line of the first scalar in the file containing s, 0
// when there is none.
func scalarLine(n *yaml.Node, s string, depth int) int {
	if n == nil || s == "" || depth > 64 {
		return 0
	}
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, s) {
		return n.Line
	}
	for _, c := range n.Content {
		if line := scalarLine(c, s, depth+1); line != 0 {
			return line
		}
	}
	return 0
}

// errorAt is an *Error at the line of path in the raw tree.
func errorAt(file string, root *yaml.Node, path []string, format string, args ...any) *Error {
	return &Error{File: file, Line: lineOf(root, path), Reason: fmt.Sprintf(format, args...)}
}
