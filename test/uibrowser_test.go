package e2e

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/client"
)

// The XSS probes: a log line and a label value that would run script if
// the page ever put data in as HTML.
const (
	xssLog   = `<img src=x onerror=alert(1)>`
	xssLabel = `<script>alert(2)</script>`
	xssBody  = `<img src=x onerror=alert(3)>`
	// secretValue is raw markup too: /file answers it as it is.
	secretValue = `s3cret <img src=x onerror=alert(4)>`
)

// TestUI drives the built-in UI in headless chromium against a real funcd
// and real functions, as a person would: a wrong password is refused, the
// login form works, a secret is made and a function deployed from the form
// with it, invoked from the invoke panel, its logs followed, scaled to zero
// and back, a function from stack.yml fails into a dead letter that is
// redriven, a namespace made and removed, the function deleted, and the
// session ended. All along, log lines, labels and bodies holding HTML must
// show as text and open no dialog. It saves a screenshot of every page in
// the test's artifact directory (go test -artifacts).
func TestUI(t *testing.T) {
	f := startFuncd(t)
	c := f.Client(t)
	user, pass := credentials(t, f)
	b := newBrowser(t, f.URL)
	t.Cleanup(b.check)
	fnRef := imageRef("testfn:v1")

	// A page of the UI without a session leads to the login form, which
	// refuses a wrong password with its fixed message.
	b.do("open /ui/", chromedp.Navigate(f.URL+"/ui/"))
	b.until("the login form", `() => location.pathname === "/ui/login" && document.getElementById("user")`)
	b.screenshot("login")
	b.do("log in wrongly",
		chromedp.SendKeys(chromedp.ID("user"), user),
		chromedp.SendKeys(chromedp.ID("password"), pass+"-wrong"),
		chromedp.Click(chromedp.ID("submit")))
	b.until("the refusal", `() => new URLSearchParams(location.search).get("error") === "bad"`)
	b.untilText("#error", "Wrong user or password.")
	b.screenshot("login-refused")

	// The right password: the functions page, empty.
	b.do("log in",
		chromedp.WaitVisible(chromedp.ID("user")),
		chromedp.SendKeys(chromedp.ID("user"), user),
		chromedp.SendKeys(chromedp.ID("password"), pass),
		chromedp.Click(chromedp.ID("submit")))
	b.until("the functions page", `() => location.pathname === "/ui/" && document.querySelector("main").dataset.loaded === "0"`)
	b.untilText("main", "No functions in this namespace yet.")

	// A secret, created in the page; its value is never shown again.
	b.open("#/secrets")
	b.set("s-name", "api-key")
	b.set("s-value", secretValue)
	b.click("#s-create")
	b.untilText("#s-status", "Secret api-key created.")
	b.untilText("#secrets", "api-key")
	if body := b.text("main"); strings.Contains(body, "s3cret") {
		t.Errorf("the secrets page shows a secret's value: %q", body)
	}
	b.screenshot("secrets")

	// The deploy form shows the API's own refusal...
	b.open("#/deploy")
	b.until("the secret to pick", `() => document.querySelector("#d-secrets input[value='api-key']")`)
	b.set("d-name", "Bad_Name")
	b.set("d-image", fnRef)
	b.click("#d-submit")
	b.untilText("#d-status", "DNS-1123")
	// ...and deploys a valid one, with the secret, env, a label holding
	// markup and scale labels, then shows its page once it is ready.
	b.set("d-name", "hello-ui")
	b.set("d-env", "GREETING=hi")
	b.set("d-labels", "team=web\nxss="+xssLabel)
	b.set("d-scale-max", "3")
	b.click("#d-secrets input[value='api-key']")
	b.screenshot("deploy-form")
	b.click("#d-submit")
	b.until("the function's page", `() => location.hash === "#/function/openfaas-fn/hello-ui"`)
	b.untilText("#fn-state", "ready")
	b.untilText("#fn-replicas", "1/1 ready")
	b.untilText("#spec", "xss="+xssLabel) // the label, as text
	st, err := c.GetFunction(t.Context(), "hello-ui", "")
	if err != nil || st.EnvVars["GREETING"] != "hi" || len(st.Secrets) != 1 || st.Secrets[0] != "api-key" ||
		st.Labels["xss"] != xssLabel || st.Labels["com.openfaas.scale.max"] != "3" {
		t.Errorf("deployed from the form: %+v, %v", st, err)
	}

	// Invoke: read the file the secret put in place (markup, answered raw:
	// shown as text), then the echo of a body. Neither the session cookie
	// nor the CSRF token may reach the function.
	b.set("inv-path", "/file")
	b.set("inv-query", "path=/var/openfaas/secrets/api-key")
	b.click("#inv-send")
	b.untilText("#inv-status", "200")
	if got := b.text("#inv-body-out"); got != secretValue {
		t.Errorf("invoke /file shows %q, want the secret's value %q", got, secretValue)
	}
	b.set("inv-method", "POST")
	b.set("inv-path", "/echo")
	b.set("inv-query", "")
	b.set("inv-headers", "X-Test: ui")
	b.set("inv-body", xssBody)
	b.click("#inv-send")
	b.untilText("#inv-body-out", `"method":"POST"`) // JSON: its < and > escaped
	var echoed echoReply
	if err := json.Unmarshal([]byte(b.text("#inv-body-out")), &echoed); err != nil {
		t.Fatalf("echo answer %q: %v", b.text("#inv-body-out"), err)
	}
	if echoed.Method != "POST" || echoed.Body != xssBody || echoed.Headers["X-Test"][0] != "ui" {
		t.Errorf("the function saw %+v", echoed)
	}
	for k, v := range echoed.Headers {
		if strings.EqualFold(k, "X-Funcd-Csrf") || strings.Contains(strings.Join(v, " "), "funcd_session") {
			t.Errorf("the function received the UI's credentials: %s: %q", k, v)
		}
	}
	b.untilText("#inv-time", "ms")

	// Logs: follow, then a line logged by an invocation appears, as text.
	b.click("#follow")
	b.untilText("#logs", "listening on :8080")
	b.set("inv-method", "GET")
	b.set("inv-path", "/log")
	b.set("inv-body", "")
	b.set("inv-query", "text="+xssLog)
	b.click("#inv-send")
	b.untilText("#logs", xssLog)
	if n := eval[int](b, `document.querySelectorAll("main img, main script").length`); n != 0 {
		t.Errorf("%d img/script elements in the page after showing markup", n)
	}
	// The chart counts the invocations (the page reloads it every 10 s).
	b.until("the chart's bars", `() => document.querySelectorAll("#chart rect.bar").length > 0`)
	b.screenshot("function")

	// Scale to zero and back.
	b.click("#scale-zero")
	b.untilText("#fn-replicas", "0/0 ready")
	b.untilText("#fn-state", "at zero")
	b.click("#scale-up")
	b.untilText("#fn-replicas", "1/1 ready")
	b.untilText("#fn-state", "ready")

	// The functions list follows deploys and invocations without a reload.
	b.open("#/functions")
	b.untilText("#functions", "hello-ui")
	eval[bool](b, `window.notReloaded = true`)
	deployReady(t, c, api.FunctionDeployment{Service: "second", Image: fnRef})
	b.untilText("#functions", "second")
	if !eval[bool](b, `window.notReloaded === true`) {
		t.Error("the functions page reloaded")
	}
	b.screenshot("functions")

	// A phone: 360 px wide and nothing wider than the screen.
	b.do("phone", chromedp.EmulateViewport(360, 780, chromedp.EmulateMobile))
	b.until("the narrow layout", `() => innerWidth === 360`)
	if w := eval[int](b, `document.documentElement.scrollWidth`); w > 360 {
		t.Errorf("the functions page is %d px wide on a 360 px screen", w)
	}
	b.screenshot("functions-phone")
	b.open("#/function/openfaas-fn/hello-ui")
	b.untilText("#fn-state", "ready")
	if w := eval[int](b, `document.documentElement.scrollWidth`); w > 360 {
		t.Errorf("the function page is %d px wide on a 360 px screen", w)
	}
	b.screenshot("function-phone")
	b.do("desktop", chromedp.EmulateViewport(1280, 900))

	// stack.yml: a function whose calls fail twice per call id, with two
	// attempts: a queued call becomes a dead letter; redriven, it succeeds.
	b.open("#/deploy")
	b.set("stack-text", "version: 1.0\nprovider:\n  name: openfaas\nfunctions:\n  flaky:\n    image: "+fnRef+
		"\n    annotations:\n      com.openfaas.retry.attempts: \"2\"\n      com.openfaas.retry.min_wait: 100ms\n      com.openfaas.retry.max_wait: 200ms\n")
	b.click("#stack-submit")
	b.untilText("#stack-status", "All 1 deployed.")
	b.untilText("#stack-results", "flaky: deployed")
	b.open("#/function/openfaas-fn/flaky")
	b.untilText("#fn-state", "ready")
	b.click("#inv-async")
	b.set("inv-path", "/flaky")
	b.set("inv-query", "fail=2")
	b.click("#inv-send")
	b.untilText("#inv-status", "202")
	callID := b.text("#inv-callid")
	if callID == "" {
		t.Fatal("no call id shown for the asynchronous invocation")
	}
	b.open("#/queue")
	b.untilText("#dead-letters", callID)
	b.untilText("#dead-letters", "flaky.openfaas-fn")
	b.untilText("#dead-letters tr.dead", "503")
	b.screenshot("queue")
	b.click("#dead-letters tr.dead input[type=checkbox]")
	b.click("#dl-redrive")
	b.untilText("#q-status", "1 redriven.")
	b.until("no dead letters", `() => !document.getElementById("dl-none").hidden`)
	queueSettled(t, c, stepTimeout)
	if dls, err := c.DeadLetters(t.Context(), "", "", 0); err != nil || len(dls) != 0 {
		t.Errorf("dead letters after the redrive: %+v, %v", dls, err)
	}

	// Namespaces: create one, see it in the switcher, delete it.
	b.open("#/namespaces")
	b.set("n-name", "ui-team")
	b.click("#n-create")
	b.untilText("#n-status", "Namespace ui-team created.")
	b.untilText("#namespaces", "ui-team")
	b.untilText("#ns", "ui-team")
	b.screenshot("namespaces")
	b.click(`#namespaces button[aria-label="Delete namespace ui-team"]`)
	b.click(`#namespaces button[aria-label="Yes, delete namespace ui-team"]`)
	b.untilText("#n-status", "Namespace ui-team deleted.")
	b.until("ui-team gone", `() => !document.getElementById("namespaces").textContent.includes("ui-team")`)

	// Delete, after a confirmation in the page.
	b.open("#/function/openfaas-fn/hello-ui")
	b.untilText("#fn-state", "ready")
	b.click("#delete")
	b.click("#delete-confirm")
	b.until("the functions page", `() => location.hash === "#/functions"`)
	b.until("hello-ui gone", `() => { const t = document.getElementById("functions"); return t && t.textContent.includes("second") && !t.textContent.includes("hello-ui"); }`)
	if _, err := c.GetFunction(t.Context(), "hello-ui", ""); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("GetFunction after deleting in the page = %v, want ErrNotFound", err)
	}

	// Log out: the session is gone for the page and for the API.
	b.click("#logout-button")
	b.until("the login page", `() => location.pathname === "/ui/login"`)
	b.do("open /ui/ again", chromedp.Navigate(f.URL+"/ui/"))
	b.until("the login page again", `() => location.pathname === "/ui/login"`)
	if code := eval[int](b, `fetch("/ui/api/session").then((r) => r.status)`); code != 401 {
		t.Errorf("GET /ui/api/session after logging out = %d, want 401", code)
	}
	b.check()
}

// credentials reads the admin's user and password funcd generated.
func credentials(t *testing.T, f *Funcd) (user, pass string) {
	t.Helper()
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(f.StateDir, "secrets", name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	return read("basic-auth-user"), read("basic-auth-password")
}
