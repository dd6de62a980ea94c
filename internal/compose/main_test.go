package compose

import (
	"io"
	"os"
	"testing"

	"github.com/sirupsen/logrus"
)

// TestMain silences compose-go's logrus warnings ("the X variable is not
// set"): under the fuzzer they filled the workers' stderr pipe and stalled
// them.
func TestMain(m *testing.M) {
	logrus.SetOutput(io.Discard)
	os.Exit(m.Run())
}
