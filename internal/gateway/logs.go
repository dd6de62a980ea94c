package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/logs"
	"github.com/funcd/funcd/provider"
)

// Logs is what the gateway needs to serve /system/logs.
type Logs interface {
	Read(ctx context.Context, ns, name string, q logs.Query, emit func(logs.Line) error) error
}

// errLogRequest is the reference's answer to a query it cannot parse.
const errLogRequest = "could not parse the log request"

// logs streams a function's output as NDJSON (reference §1.10): the
// history merged across replicas, then, with follow, new lines until the
// client goes away.
func (g *Gateway) logs(w http.ResponseWriter, r *http.Request) {
	q, ok := logQuery(r)
	if !ok {
		http.Error(w, errLogRequest, http.StatusUnprocessableEntity)
		return
	}
	name, ns := r.URL.Query().Get("name"), namespace(r.URL.Query().Get("namespace"))
	if _, err := g.fns.Status(name, ns); errors.Is(err, provider.ErrNotFound) {
		http.Error(w, "function "+name+"."+ns+" not found", http.StatusNotFound)
		return
	} else if err != nil {
		g.fail(w, r, err)
		return
	}
	rc := http.NewResponseController(w)
	if q.Follow {
		_ = rc.SetWriteDeadline(time.Time{}) // streams until the client leaves
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	enc := json.NewEncoder(w)
	err := g.cfg.Logs.Read(r.Context(), ns, name, q, func(l logs.Line) error {
		if err := enc.Encode(api.LogMessage{Name: name, Namespace: ns, Instance: l.Instance, Timestamp: l.Time, Text: l.Text}); err != nil {
			return err
		}
		return rc.Flush()
	})
	if err != nil && r.Context().Err() == nil {
		// The status is sent; all that is left is to end the stream.
		g.log.Error("read logs", "function", name+"."+ns, "err", err)
	}
}

// logQuery reads name, instance, tail, since and follow; ok is false when
// tail or since do not parse. An unparsable follow means false, as in the
// reference.
func logQuery(r *http.Request) (q logs.Query, ok bool) {
	v := r.URL.Query()
	get := func(k string) string { // the last value wins
		if vs := v[k]; len(vs) > 0 {
			return vs[len(vs)-1]
		}
		return ""
	}
	q.Instance = get("instance")
	if s := get("tail"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return q, false
		}
		q.Tail = n
	}
	if s := get("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return q, false
		}
		q.Since = t
	}
	q.Follow, _ = strconv.ParseBool(get("follow"))
	return q, true
}
