package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/funcd/funcd/internal/api"
)

// The ui section: uiFunctions functions at scale to zero, and the
// functions page of the built-in UI opened uiLoads times in headless
// chromium with its cache off (every byte fetched again).
const (
	uiFunctions = 200
	uiLoads     = 5
	uiPrefix    = "ui"
)

// The UI's targets: what a phone on a slow link would feel.
const (
	maxUIFirstPaint = time.Second
	maxUIRows       = 2 * time.Second
	maxUIAssets     = 50 << 10  // the functions page's HTML, JS and CSS
	maxUIBytes      = 150 << 10 // those and the API answers, with 200 functions
)

// uiResults are the ui section's figures, each the median of the loads.
type uiResults struct {
	n                int // functions listed
	loads            int
	firstPaint, rows summary
	bytes            int64            // body bytes fetched until the rows showed (median load)
	byKind           map[string]int64 // of them, by kind (html, js, css, api)
	files            int              // requests until the rows showed
}

// pageLoad is what the page reports of one load.
type pageLoad struct {
	FCP       float64 `json:"fcp"`  // ms since navigation start
	Rows      float64 `json:"rows"` // ms until every row was in the table
	Resources []struct {
		Name string  `json:"name"`
		Size float64 `json:"size"` // encodedBodySize
	} `json:"resources"`
}

// measureUI deploys the functions, logs in through the form and loads the
// functions page.
func measureUI(ctx context.Context, t *target) (uiResults, error) {
	r := uiResults{n: uiFunctions, loads: uiLoads}
	for i := range uiFunctions {
		name := fmt.Sprintf("%s%03d", uiPrefix, i+1)
		spec := api.FunctionDeployment{Service: name, Image: t.image, Labels: map[string]string{
			"com.openfaas.scale.zero": "true", "com.openfaas.scale.zero-duration": "1h"}}
		if err := t.deployWith(ctx, spec); err != nil {
			return r, err
		}
		if err := t.client.Scale(ctx, name, "", 0); err != nil {
			return r, err
		}
		if (i+1)%50 == 0 {
			fmt.Fprintf(os.Stderr, "bench: ui: %d deployed\n", i+1)
		}
	}
	bctx, stop, err := startChromium(ctx)
	if err != nil {
		return r, err
	}
	defer stop()
	if err := uiLogin(bctx, t); err != nil {
		return r, err
	}
	var paints, rows []time.Duration
	var loads []pageLoad
	for range uiLoads {
		l, err := uiLoad(bctx, t)
		if err != nil {
			return r, err
		}
		loads = append(loads, l)
		paints = append(paints, msDuration(l.FCP))
		rows = append(rows, msDuration(l.Rows))
	}
	r.firstPaint, r.rows = summarize(paints), summarize(rows)
	slices.SortFunc(loads, func(a, b pageLoad) int { return int(a.Rows - b.Rows) })
	mid := loads[len(loads)/2]
	r.byKind = map[string]int64{}
	for _, res := range mid.Resources {
		r.bytes += int64(res.Size)
		r.byKind[resourceKind(res.Name)] += int64(res.Size)
	}
	r.files = len(mid.Resources)
	return r, nil
}

func msDuration(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

// resourceKind names what a URL of the page is, for the report.
func resourceKind(u string) string {
	switch {
	case strings.Contains(u, "/ui/api/"), strings.Contains(u, "/system/"):
		return "api"
	case strings.HasSuffix(u, ".js"):
		return "js"
	case strings.HasSuffix(u, ".css"):
		return "css"
	default:
		return "html"
	}
}

// startChromium starts Debian's chromium headless with its cache off.
func startChromium(ctx context.Context) (context.Context, func(), error) {
	path, err := exec.LookPath("chromium")
	if err != nil {
		return nil, nil, errors.New("the ui section needs chromium in PATH (scripts/deps.sh bench installs it)")
	}
	dir, err := os.MkdirTemp("", "funcd-bench-chromium-")
	if err != nil {
		return nil, nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.UserDataDir(dir))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.WithoutCancel(ctx), opts...)
	bctx, cancel := chromedp.NewContext(actx)
	stop := func() {
		cancel()
		cancelAlloc()
		os.RemoveAll(dir)
	}
	err = chromedp.Do(bctx, func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return chromedp.Void{}, err
		}
		_, err := cdp.Call(ctx, t, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true})
		return chromedp.Void{}, err
	})
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("start chromium: %w", err)
	}
	return bctx, stop, nil
}

// uiLogin logs in through the login form with funcd's credentials.
func uiLogin(ctx context.Context, t *target) error {
	var cred [2]string
	for i, name := range []string{"basic-auth-user", "basic-auth-password"} {
		b, err := os.ReadFile(filepath.Join(t.funcd.StateDir, "secrets", name))
		if err != nil {
			return err
		}
		cred[i] = strings.TrimSpace(string(b))
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err := chromedp.Do(ctx,
		chromedp.Navigate(t.funcd.URL+"/ui/login"),
		chromedp.SendKeys(chromedp.ID("user"), cred[0]),
		chromedp.SendKeys(chromedp.ID("password"), cred[1]),
		chromedp.Click(chromedp.ID("submit")),
	)
	if err != nil {
		return fmt.Errorf("log in to the UI: %w", err)
	}
	// The form's answer is a redirect to the page: wait for it there (a
	// wait begun in the login page's document may end with it).
	for {
		err = chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("functions")))
		if err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("log in to the UI: the functions page did not show: %w", err)
	}
	return nil
}

// uiLoad opens the functions page afresh and reports its first paint,
// when the last row showed and what it fetched until then.
func uiLoad(ctx context.Context, t *target) (pageLoad, error) {
	var l pageLoad
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(t.funcd.URL+"/ui/#/functions")); err != nil {
		return l, err
	}
	// The rows time is taken in the page, the moment the table holds them
	// all (a MutationObserver set up right after the navigation would miss
	// nothing: the list's first answer comes after the modules load).
	raw, err := chromedp.Run(ctx, chromedp.PollFunction[[]byte](fmt.Sprintf(`() => {
		if (!window.benchRowsAt) {
			if (document.querySelectorAll("#functions tbody tr").length < %d) return false;
			window.benchRowsAt = performance.now();
			window.benchResources = [performance.getEntriesByType("navigation")[0], ...performance.getEntriesByType("resource")]
				.map((e) => ({ name: e.name, size: e.encodedBodySize }));
		}
		// The paint entry is queued once the frame is presented, which can
		// come after the rows: wait for it too.
		const fcp = performance.getEntriesByType("paint").find((e) => e.name === "first-contentful-paint");
		if (!fcp) return false;
		return { fcp: fcp.startTime, rows: window.benchRowsAt, resources: window.benchResources };
	}`, uiFunctions), chromedp.WithPollingInterval(5*time.Millisecond), chromedp.WithPollingTimeout(time.Minute)))
	if err != nil {
		return l, fmt.Errorf("wait for %d rows and the first paint: %w", uiFunctions, err)
	}
	if err := json.Unmarshal(raw, &l); err != nil {
		return l, fmt.Errorf("page figures %s: %w", raw, err)
	}
	if l.FCP == 0 {
		return l, errors.New("the page reported no first-contentful-paint")
	}
	return l, nil
}

// reportUI prints the section's figures.
func reportUI(w io.Writer, r uiResults) {
	fmt.Fprintf(w, "ui: the functions page with %d functions at zero, %d loads in headless chromium, cache off (median, max)\n", r.n, r.loads)
	fmt.Fprintf(w, "  first contentful paint  %s  %s\n", millis(r.firstPaint.p50), millis(r.firstPaint.max))
	fmt.Fprintf(w, "  all %d rows shown      %s  %s\n", r.n, millis(r.rows.p50), millis(r.rows.max))
	fmt.Fprintf(w, "  bytes fetched until then: %.1f KiB in %d requests (html %.1f, js %.1f, css %.1f, api %.1f KiB)\n\n",
		kib(r.bytes), r.files, kib(r.byKind["html"]), kib(r.byKind["js"]), kib(r.byKind["css"]), kib(r.byKind["api"]))
}

func kib(b int64) float64 { return float64(b) / 1024 }

// addUI adds the section's figures to the closing table.
func addUI(add func(goal), r uiResults) {
	add(goal{"ui", fmt.Sprintf("functions page first paint, %d functions", r.n), millis(r.firstPaint.p50),
		"< " + millis(maxUIFirstPaint), r.firstPaint.n > 0 && r.firstPaint.p50 < maxUIFirstPaint})
	add(goal{"ui", fmt.Sprintf("functions page, all %d rows shown", r.n), millis(r.rows.p50),
		"< " + millis(maxUIRows), r.rows.n > 0 && r.rows.p50 < maxUIRows})
	assets := r.bytes - r.byKind["api"]
	add(goal{"ui", "functions page HTML+JS+CSS", fmt.Sprintf("%.1f KiB", kib(assets)),
		fmt.Sprintf("< %d KiB", maxUIAssets>>10), assets > 0 && assets < maxUIAssets})
	add(goal{"ui", fmt.Sprintf("functions page with its API answers, %d functions", r.n), fmt.Sprintf("%.1f KiB", kib(r.bytes)),
		fmt.Sprintf("< %d KiB", maxUIBytes>>10), r.bytes > 0 && r.bytes < maxUIBytes})
}
