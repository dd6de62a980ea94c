package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// browser is one headless chromium tab driven over the DevTools protocol.
// It records every JavaScript dialog (alert, confirm, prompt: the UI opens
// none, so one means injected script ran), uncaught exception and
// Content-Security-Policy violation; check fails the test on any.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string // funcd's URL
	shot int    // screenshots taken, for their file names

	mu       sync.Mutex
	dialogs  []string
	problems []string
}

// stepTimeout bounds one wait in the page.
const stepTimeout = 60 * time.Second

// chromiumPath finds Debian's chromium (scripts/deps.sh test installs it).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: run scripts/deps.sh test")
	return ""
}

// newBrowser starts headless chromium (stopped at cleanup) with a
// desktop-sized window.
func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // as root
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	b := &browser{t: t, ctx: ctx, base: base}
	if err := chromedp.Do(ctx); err != nil { // starts the browser, with no deadline
		t.Fatalf("start chromium: %v", err)
	}
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dialogs = append(b.dialogs, fmt.Sprintf("%s dialog: %q", ev.Type, ev.Message))
			b.mu.Unlock()
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	console := chromedp.Console(ctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			if m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
				b.mu.Lock()
				b.problems = append(b.problems, fmt.Sprintf("%s:%d %s", m.URL, m.Line+1, m.Text))
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// do runs actions, failing the test with what as the step's name.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %s: %v (at %s)", what, err, b.location())
	}
}

// open goes to a route of the page (#/functions, ...) without a reload.
func (b *browser) open(hash string) {
	b.t.Helper()
	b.do("open "+hash, chromedp.Evaluate[chromedp.Void]("location.hash = "+jsString(hash)))
}

// until waits for the JavaScript function fn(...args) to return a truthy
// value in the page and returns it as a string.
func (b *browser) until(what, fn string, args ...any) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	var v any
	var err error
	for {
		v, err = chromedp.Run(ctx, chromedp.PollFunction[any](fn,
			chromedp.WithPollingArgs(args...), chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(stepTimeout)))
		// A navigation (a form posted, a redirect) ends the poll with the
		// document it ran in: poll again in the new one.
		if err == nil || ctx.Err() != nil || !navigated(err) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		b.t.Fatalf("browser: waiting for %s: %v (at %s; page says %q)", what, err, b.location(), b.mainText())
	}
	return fmt.Sprint(v)
}

// navigated reports whether err says the page's document went away.
func navigated(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "navigated or closed") || strings.Contains(msg, "context was destroyed") ||
		strings.Contains(msg, "Cannot find context")
}

// untilText waits until the element sel's text contains want.
func (b *browser) untilText(sel, want string) {
	b.t.Helper()
	b.until(fmt.Sprintf("%s to show %q", sel, want),
		`(sel, want) => { const e = document.querySelector(sel); return e && !e.closest("[hidden]") && e.textContent.includes(want); }`, sel, want)
}

// eval evaluates a JavaScript expression and decodes its value into T.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("browser: evaluate %s: %v", expr, err)
	}
	return v
}

// text returns the text of the element sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return eval[string](b, `(document.querySelector(`+jsString(sel)+`) || {}).textContent || ""`)
}

// set fills the form control with id with value, as typing would
// (input and change events fire).
func (b *browser) set(id, value string) {
	b.t.Helper()
	b.until("#"+id+" to fill", `(id) => { const e = document.getElementById(id); return e && !e.closest("[hidden]"); }`, id)
	b.do("fill #"+id, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`((id, v) => {
		const e = document.getElementById(id);
		if (!e) throw new Error("no element #" + id);
		e.value = v;
		e.dispatchEvent(new Event("input", { bubbles: true }));
		e.dispatchEvent(new Event("change", { bubbles: true }));
	})(%s, %s)`, jsString(id), jsString(value))))
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// click clicks the element matching the CSS selector sel once it is visible.
func (b *browser) click(sel string) {
	b.t.Helper()
	b.do("click "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

func (b *browser) location() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	l, _ := chromedp.Run(ctx, chromedp.Location())
	return l
}

func (b *browser) mainText() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector("main") || document.body || {}).innerText || ""`))
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

// screenshot saves the whole page as a PNG into the test's artifact
// directory (kept with go test -artifacts).
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	b.shot++
	path := filepath.Join(b.t.ArtifactDir(), fmt.Sprintf("%02d-%s.png", b.shot, name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// check fails the test for every dialog, uncaught exception and CSP
// violation seen so far.
func (b *browser) check() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, d := range b.dialogs {
		b.t.Errorf("a JavaScript dialog opened: %s", d)
	}
	for _, p := range b.problems {
		b.t.Errorf("page error: %s", p)
	}
	b.dialogs, b.problems = nil, nil
}
