package testenv

import (
	"testing"
)

// These tests need no root: they check the parsing the cleanup relies on.

func TestUnescapeMountPath(t *testing.T) {
	if got := unescapeMountPath(`/var/tmp/a\040b\134c`); got != `/var/tmp/a b\c` {
		t.Errorf("unescapeMountPath = %q, want %q", got, `/var/tmp/a b\c`)
	}
}
