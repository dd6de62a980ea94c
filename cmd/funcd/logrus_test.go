package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

// TestCaptureLogrus: a library's logrus warning reaches funcd's logger at
// warning level, with its fields; nothing goes to logrus's own output.
func TestCaptureLogrus(t *testing.T) {
	out, level, hooks := logrus.StandardLogger().Out, logrus.GetLevel(), logrus.StandardLogger().Hooks
	t.Cleanup(func() {
		logrus.SetOutput(out)
		logrus.SetLevel(level)
		logrus.StandardLogger().ReplaceHooks(hooks)
	})
	var buf bytes.Buffer
	captureLogrus(slog.New(slog.NewTextHandler(&buf, nil)))
	logrus.WithField("file", "docker-compose.yaml").Warn("the attribute `version` is obsolete")
	logrus.Debug("not shown")
	got := buf.String()
	if !strings.Contains(got, "level=WARN") || !strings.Contains(got, "version") || !strings.Contains(got, "file=docker-compose.yaml") || strings.Contains(got, "not shown") {
		t.Errorf("funcd's log = %q, want the warning with its field and no debug line", got)
	}
}
