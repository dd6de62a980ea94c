package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Prometheus is Debian's prometheus (/usr/bin/prometheus) serving on a
// free 127.0.0.1 port, with its config and TSDB in its own directory.
type Prometheus struct {
	URL  string // http://127.0.0.1:PORT
	Proc *Process
}

// PrometheusOptions says what a Prometheus started by StartPrometheus
// scrapes.
type PrometheusOptions struct {
	// Dir holds prometheus.yml, the TSDB (data/) and the log; it must exist
	// and is the caller's to remove.
	Dir string
	// ScrapeConfigs is the YAML list under scrape_configs:, each line
	// indented as in the file (e.g. "  - job_name: funcd\n    ...").
	ScrapeConfigs string
	// ScrapeInterval is the global scrape_interval; 0 means 1s.
	ScrapeInterval time.Duration
}

// StartPrometheus runs prometheus with a generated prometheus.yml and waits
// until it is ready. On error the returned Prometheus may hold a process
// the caller must stop.
func StartPrometheus(ctx context.Context, o PrometheusOptions) (*Prometheus, error) {
	interval := o.ScrapeInterval
	if interval == 0 {
		interval = time.Second
	}
	cfg := fmt.Sprintf("global:\n  scrape_interval: %s\n  evaluation_interval: %s\nscrape_configs:\n%s",
		interval, interval, o.ScrapeConfigs)
	cfgPath := filepath.Join(o.Dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, fmt.Errorf("write prometheus config: %w", err)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p := &Prometheus{URL: "http://" + addr}
	p.Proc, err = StartProcess("prometheus", filepath.Join(o.Dir, "prometheus.log"), nil, "prometheus",
		"--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(o.Dir, "data"),
		"--web.listen-address="+addr)
	if err != nil {
		return nil, err
	}
	err = p.Proc.WaitReady(ctx, 30*time.Second, func(ctx context.Context) error {
		return HTTPGetOK(ctx, p.URL+"/-/ready")
	})
	return p, err
}

// Stop stops prometheus (SIGTERM, SIGKILL after 10s).
func (p *Prometheus) Stop() error { return p.Proc.Stop(10 * time.Second) }

// apiResponse is the envelope of Prometheus's HTTP API.
type apiResponse struct {
	Status string          `json:"status"`
	Data   json.RawMessage `json:"data"`
	Error  string          `json:"error"`
}

// get calls the HTTP API at path with query and decodes data into out.
func (p *Prometheus) get(ctx context.Context, path string, query url.Values, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	u := p.URL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var r apiResponse
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		return fmt.Errorf("GET %s: %s, decode: %w", u, res.Status, err)
	}
	if r.Status != "success" {
		return fmt.Errorf("GET %s: %s: %s", u, res.Status, r.Error)
	}
	return json.Unmarshal(r.Data, out)
}

// Query evaluates an instant PromQL query whose result is a vector and
// returns its samples' values by their labels (as JSON).
func (p *Prometheus) Query(ctx context.Context, promql string) (map[string]float64, error) {
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	if err := p.get(ctx, "/api/v1/query", url.Values{"query": {promql}}, &data); err != nil {
		return nil, err
	}
	if data.ResultType != "vector" {
		return nil, fmt.Errorf("query %s: result is a %s, want a vector", promql, data.ResultType)
	}
	out := make(map[string]float64, len(data.Result))
	for _, s := range data.Result {
		str, ok := s.Value[1].(string)
		if !ok {
			return nil, fmt.Errorf("query %s: sample value %v is not a string", promql, s.Value[1])
		}
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", promql, err)
		}
		labels, _ := json.Marshal(s.Metric)
		out[string(labels)] = v
	}
	return out, nil
}

// Target is one of Prometheus's active scrape targets.
type Target struct {
	ScrapeURL  string    `json:"scrapeUrl"`
	Health     string    `json:"health"` // up, down or unknown
	LastError  string    `json:"lastError"`
	LastScrape time.Time `json:"lastScrape"`
}

// Targets returns the active scrape targets.
func (p *Prometheus) Targets(ctx context.Context) ([]Target, error) {
	var data struct {
		ActiveTargets []Target `json:"activeTargets"`
	}
	if err := p.get(ctx, "/api/v1/targets", url.Values{"state": {"active"}}, &data); err != nil {
		return nil, err
	}
	return data.ActiveTargets, nil
}

// WaitScraped waits until every active target has been scraped
// successfully by a scrape that started at or after since and whose samples
// are committed, or ctx ends. Prometheus may report a scrape before it
// commits its samples, so this waits for the scrape after that one too: a
// target's scrapes run one after another.
func (p *Prometheus) WaitScraped(ctx context.Context, since time.Time) error {
	var last time.Time
	if err := Poll(ctx, func() (err error) { last, err = p.scrapedSince(ctx, since); return err }); err != nil {
		return err
	}
	return Poll(ctx, func() error { _, err := p.scrapedSince(ctx, last.Add(time.Nanosecond)); return err })
}

// scrapedSince returns the latest of the targets' last scrapes, or an error
// unless every target is up and was last scraped at or after since.
func (p *Prometheus) scrapedSince(ctx context.Context, since time.Time) (time.Time, error) {
	ts, err := p.Targets(ctx)
	if err != nil {
		return time.Time{}, err
	}
	if len(ts) == 0 {
		return time.Time{}, errors.New("prometheus has no active targets")
	}
	var last time.Time
	for _, t := range ts {
		if t.Health != "up" || t.LastScrape.Before(since) {
			return time.Time{}, fmt.Errorf("target %s: health %s (%s), last scrape %s, want up and at or after %s",
				t.ScrapeURL, t.Health, t.LastError, t.LastScrape.Format(time.RFC3339Nano), since.Format(time.RFC3339Nano))
		}
		if t.LastScrape.After(last) {
			last = t.LastScrape
		}
	}
	return last, nil
}
