package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLI drives the funcd binary's client commands against a live funcd:
// login, deploy (flags and stack.yml), list, describe, invoke, remove and
// version.
func TestCLI(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	home := t.TempDir()
	env := append(os.Environ(), "OPENFAAS_URL="+f.URL, "OPENFAAS_CONFIG="+filepath.Join(home, ".openfaas"), "HOME="+home)
	funcd := func(stdin string, args ...string) (string, error) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), f.Cmd.Path, args...)
		cmd.Env = env
		cmd.Stdin = strings.NewReader(stdin)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	must := func(stdin string, args ...string) string {
		t.Helper()
		out, err := funcd(stdin, args...)
		if err != nil {
			t.Fatalf("funcd %s = %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	if out, err := funcd("", "list"); err == nil {
		t.Errorf("list before login succeeded:\n%s", out)
	}
	if out, err := funcd("wrong\n", "login", "--password-stdin"); err == nil || !strings.Contains(out, "incorrect") {
		t.Errorf("login with a wrong password = %v\n%s; want a refusal", err, out)
	}
	pass, err := os.ReadFile(filepath.Join(f.StateDir, "secrets", "basic-auth-password"))
	if err != nil {
		t.Fatal(err)
	}
	must(string(pass), "login", "--password-stdin")

	must("", "deploy", "--name", "clifn", "--image", imageRef("testfn:v1"),
		"--env", "GREETING=a=b", "--label", "team=cli", "--annotation", "topic=t1")
	if out := must("", "list"); !strings.Contains(out, "clifn") || !strings.Contains(out, "1/1") {
		t.Errorf("list = %q, want clifn 1/1", out)
	}
	out := must("", "describe", "clifn")
	for _, want := range []string{"clifn", "Ready", imageRef("testfn:v1"), "GREETING", "a=b", "team", "topic"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe output lacks %q:\n%s", want, out)
		}
	}
	if out := must("hello cli", "invoke", "clifn"); !strings.Contains(out, `"body":"hello cli"`) || !strings.Contains(out, `"method":"POST"`) {
		t.Errorf("invoke = %q, want the body echoed by a POST", out)
	}

	stack := filepath.Join(home, "stack.yml")
	yml := fmt.Sprintf(`version: 1.0
provider:
  name: openfaas
functions:
  clifn:
    image: %s
    environment:
      GREETING: from-stack
    labels:
      com.openfaas.scale.min: "2"
`, imageRef("testfn:v2"))
	if err := os.WriteFile(stack, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	must("", "deploy", "-f", stack)
	st, err := f.Client(t).GetFunction(t.Context(), "clifn", "")
	if err != nil || st.Image != imageRef("testfn:v2") || st.EnvVars["GREETING"] != "from-stack" || st.AvailableReplicas != 2 {
		t.Errorf("after deploy -f, status = %+v, %v; want v2, env from the stack and 2 replicas", st, err)
	}

	if out := must("", "version"); !strings.Contains(out, "funcd") || !strings.Contains(out, "containerd") {
		t.Errorf("version = %q, want the gateway's provider info", out)
	}
	must("", "remove", "clifn")
	if out, err := funcd("", "describe", "clifn"); err == nil {
		t.Errorf("describe after remove succeeded:\n%s", out)
	}
	assertNoLeftovers(t, f)
}
