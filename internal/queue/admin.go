package queue

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/funcd/funcd/internal/api"
)

// MaxListed caps one listing of dead letters.
const MaxListed = 10_000

// Stats reports the queue's depth, work in flight, retries waiting and
// dead letters, in total and per function.
func (q *Queue) Stats(ctx context.Context) (api.QueueStats, error) {
	st := api.QueueStats{Workers: q.cfg.Workers, Functions: []api.FunctionQueue{}}
	per := map[fnKey]*api.FunctionQueue{}
	get := func(k fnKey) *api.FunctionQueue {
		if f := per[k]; f != nil {
			return f
		}
		f := &api.FunctionQueue{Name: k.name, Namespace: k.ns}
		per[k] = f
		return f
	}
	q.mu.Lock()
	loops := make(map[fnKey]*loop, len(q.workers))
	for k, l := range q.workers {
		loops[k] = l
	}
	q.mu.Unlock()
	for k, l := range loops {
		info, err := l.cons.Info(ctx)
		if err != nil {
			return st, fmt.Errorf("queue: consumer %s: %w", k.consumer(), err)
		}
		running := uint64(l.running())
		pending := uint64(max(info.NumAckPending, 0))
		if info.NumPending == 0 && pending == 0 && running == 0 {
			continue
		}
		f := get(k)
		f.Depth = info.NumPending
		f.InFlight = running
		f.Retrying = pending - min(pending, running)
		f.MaxInflight = q.maxInflightLabel(k)
	}
	dead, err := q.dead.Info(ctx, jetstream.WithSubjectFilter(deadPrefix+">"))
	if err != nil {
		return st, fmt.Errorf("queue: dead letters: %w", err)
	}
	for subj, n := range dead.State.Subjects {
		if k, ok := keyOf(subj); ok {
			get(k).DeadLetters = n
		}
	}
	cb, err := q.cb.Info(ctx)
	if err != nil {
		return st, fmt.Errorf("queue: callbacks: %w", err)
	}
	st.Callbacks = cb.State.Msgs
	for _, f := range per {
		st.Depth += f.Depth
		st.InFlight += f.InFlight
		st.Retrying += f.Retrying
		st.DeadLetters += f.DeadLetters
		st.Functions = append(st.Functions, *f)
	}
	slices.SortFunc(st.Functions, func(a, b api.FunctionQueue) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return st, nil
}

// maxInflightLabel is k's own cap, 0 when it has none.
func (q *Queue) maxInflightLabel(k fnKey) int {
	p, _ := q.policy(k)
	return p.MaxInflight
}

// deadFilter is the dead-letter subject for a function, a namespace's
// functions, or all of them.
func deadFilter(function, namespace string) string {
	switch {
	case function != "":
		if namespace == "" {
			namespace = api.DefaultNamespace
		}
		return deadPrefix + namespace + "." + function
	case namespace != "":
		return deadPrefix + namespace + ".*"
	default:
		return deadPrefix + "*.*"
	}
}

// DeadLetters lists up to limit dead letters, oldest first, of one
// function, of a namespace (function ""), or of all (both "").
func (q *Queue) DeadLetters(ctx context.Context, function, namespace string, limit int) ([]api.DeadLetter, error) {
	out := []api.DeadLetter{}
	err := q.eachDead(ctx, deadFilter(function, namespace), limit, func(m jetstream.Msg, dl api.DeadLetter) error {
		out = append(out, dl)
		return nil
	})
	return out, err
}

// Redrive queues selected dead letters again, with fresh attempts, and
// removes them from the dead-letter stream.
func (q *Queue) Redrive(ctx context.Context, sel api.DeadLetterSelection) (api.RedriveResult, error) {
	var res api.RedriveResult
	err := q.eachSelected(ctx, sel, func(m jetstream.Msg, dl api.DeadLetter) error {
		// The dead letter's sequence in the id makes a repeat of this
		// redrive (a crash before the delete below) a duplicate.
		id := dl.CallID + ".redrive." + strconv.FormatUint(dl.ID, 10)
		if err := q.publish(ctx, fnKey{ns: dl.Namespace, name: dl.Function}, m.Data(), id); err != nil {
			return fmt.Errorf("queue again %s: %w", dl.CallID, err)
		}
		if err := q.dead.DeleteMsg(ctx, dl.ID); err != nil {
			return fmt.Errorf("remove dead letter %d: %w", dl.ID, err)
		}
		res.Redriven++
		return nil
	})
	if res.Redriven > 0 {
		q.log.Info("dead letters queued again", "count", res.Redriven, "function", sel.Function, "namespace", sel.Namespace)
	}
	return res, err
}

// Purge deletes selected dead letters for good.
func (q *Queue) Purge(ctx context.Context, sel api.DeadLetterSelection) (api.PurgeResult, error) {
	var res api.PurgeResult
	err := q.eachSelected(ctx, sel, func(_ jetstream.Msg, dl api.DeadLetter) error {
		if err := q.dead.DeleteMsg(ctx, dl.ID); err != nil {
			return fmt.Errorf("remove dead letter %d: %w", dl.ID, err)
		}
		res.Purged++
		return nil
	})
	if res.Purged > 0 {
		q.log.Info("dead letters purged", "count", res.Purged, "function", sel.Function, "namespace", sel.Namespace)
	}
	return res, err
}

// eachSelected calls fn for every dead letter sel picks.
func (q *Queue) eachSelected(ctx context.Context, sel api.DeadLetterSelection, fn func(jetstream.Msg, api.DeadLetter) error) error {
	return q.eachDead(ctx, deadFilter(sel.Function, sel.Namespace), MaxListed, func(m jetstream.Msg, dl api.DeadLetter) error {
		if len(sel.IDs) > 0 && !slices.Contains(sel.IDs, dl.ID) {
			return nil
		}
		return fn(m, dl)
	})
}

// eachDead calls fn for up to limit dead letters on subjects matching
// filter, oldest first.
func (q *Queue) eachDead(ctx context.Context, filter string, limit int, fn func(jetstream.Msg, api.DeadLetter) error) error {
	if limit <= 0 || limit > MaxListed {
		limit = MaxListed
	}
	info, err := q.dead.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return fmt.Errorf("queue: dead letters: %w", err)
	}
	want := countUpTo(info.State.Subjects, limit)
	if want == 0 {
		return nil
	}
	cons, err := q.js.OrderedConsumer(ctx, deadStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		return fmt.Errorf("queue: read dead letters: %w", err)
	}
	for seen := 0; seen < want; {
		batch, err := cons.Fetch(min(want-seen, 256), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return fmt.Errorf("queue: read dead letters: %w", err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			seen++
			dl, err := deadLetter(m)
			if err != nil {
				q.log.Warn("unreadable dead letter", "subject", m.Subject(), "err", err)
				continue
			}
			if err := fn(m, dl); err != nil {
				return err
			}
		}
		if got == 0 {
			break // deleted meanwhile
		}
	}
	return nil
}

// countUpTo adds up the per-subject message counts, stopping at limit.
// The counts are uint64: summed as int, 2^31 of them would go negative
// on 32-bit arm and list nothing.
func countUpTo(counts map[string]uint64, limit int) int {
	var total uint64
	for _, n := range counts {
		total += min(n, uint64(limit))
		if total >= uint64(limit) {
			return limit
		}
	}
	return int(total)
}

// deadLetter describes a stored dead letter.
func deadLetter(m jetstream.Msg) (api.DeadLetter, error) {
	md, err := m.Metadata()
	if err != nil {
		return api.DeadLetter{}, err
	}
	j, err := decodeJob(m.Data())
	if err != nil {
		return api.DeadLetter{}, err
	}
	h := m.Headers()
	status, _ := strconv.Atoi(h.Get(hdrStatus))
	attempts, _ := strconv.Atoi(h.Get(hdrAttempts))
	failed, _ := time.Parse(time.RFC3339Nano, h.Get(hdrFailedAt))
	path := j.Path
	if j.Query != "" {
		path += "?" + j.Query
	}
	return api.DeadLetter{
		ID: md.Sequence.Stream, CallID: j.CallID, Function: j.Function, Namespace: j.Namespace,
		Path: path, Attempts: attempts, Status: status, Error: h.Get(hdrError), Source: j.Source,
		BodyBytes: len(j.Body), AcceptedAt: j.Accepted, FailedAt: failed, CallbackURL: j.Callback,
	}, nil
}
