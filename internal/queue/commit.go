package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Group commit. With --queue-fsync every message JetStream stores is its
// own fsync, and the stream stores one message at a time: a disk that
// syncs in 0.4 ms caps the queue near 2k invocations a second. The
// committer gathers the Enqueues waiting while the previous commit synced
// and stores them as one atomic batch (JetStream's batch publish), which
// the server writes and syncs once before it answers. So a 202 still
// follows the fsync that covers its request, and every request of a batch
// that failed gets the error.
//
// A batch the server refuses as a whole for one member's sake (a call id
// already stored, the stream's --queue-max-bytes) is stored again one
// message at a time, so each request gets its own answer as before.
const (
	commitMaxMsgs  = 1000    // the server's limit on an atomic batch
	commitMaxBytes = 8 << 20 // what one batch may stage
	commitTimeout  = 30 * time.Second
	commitWindow   = time.Millisecond // the longest a batch waits for more callers
)

// JetStream's headers and error codes for atomic batches.
const (
	hdrBatchID     = "Nats-Batch-Id"
	hdrBatchSeq    = "Nats-Batch-Sequence"
	hdrBatchCommit = "Nats-Batch-Commit"

	errCodeBatchDuplicate jetstream.ErrorCode = 10201 // a member's Nats-Msg-Id is stored already
	errCodeMsgIDInProcess jetstream.ErrorCode = 10158 // a member's Nats-Msg-Id is being stored
)

// pending is one Enqueue waiting for its commit.
type pending struct {
	subject, msgID string
	data           []byte
	done           chan error // buffered: the committer never waits on it
}

// committer stores the invocations of concurrent Enqueues in batches.
type committer struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	stream string
	window time.Duration // see run; 0 never waits
	in     chan *pending
	stop   chan struct{}
	wg     sync.WaitGroup

	batches, msgs int64 // for the benchmark's report; guarded by mu
	mu            sync.Mutex
}

// newCommitter starts a committer for stream; window is the longest a
// batch waits for more callers (see run).
func newCommitter(nc *nats.Conn, js jetstream.JetStream, stream string, window time.Duration) *committer {
	c := &committer{nc: nc, js: js, stream: stream, window: window, in: make(chan *pending), stop: make(chan struct{})}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.run()
	}()
	return c
}

// close stops the committer once the commit under way is answered; a
// publish after that fails with ErrClosed.
func (c *committer) close() {
	close(c.stop)
	c.wg.Wait()
}

// publish stores data on subject and returns once it is on disk (or
// failed). ctx ending first returns its error; the message may then still
// be stored, but nobody was told so.
func (c *committer) publish(ctx context.Context, subject string, data []byte, msgID string) error {
	p := &pending{subject: subject, msgID: msgID, data: data, done: make(chan error, 1)}
	select {
	case c.in <- p:
	case <-c.stop:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run takes the first waiting request, then every other one already
// waiting, and commits them together. Requests gather while the previous
// batch syncs; under load the callers then split into two groups taking
// turns, each batch half of them. So when the last two batches held more
// than one request, run waits a little (a quarter of the last commit's
// time, at most commitWindow) for the callers just answered to come back,
// until the batch is as large as those two together: one sync for all.
func (c *committer) run() {
	batch := make([]*pending, 0, 64)
	var prev1, prev2 int         // sizes of the last two batches
	var lastCommit time.Duration // how long the last commit took
	for {
		select {
		case p := <-c.in:
			batch = append(batch[:0], p)
		case <-c.stop:
			return
		}
		size := len(batch[0].data)
		target := min(prev1+prev2, commitMaxMsgs)
		var window <-chan time.Time
		var timer *time.Timer
		if c.window > 0 && prev1 > 1 && prev2 > 1 {
			timer = time.NewTimer(min(lastCommit/4, c.window))
			window = timer.C
		}
	gather:
		for len(batch) < commitMaxMsgs && size < commitMaxBytes {
			select {
			case p := <-c.in:
				batch = append(batch, p)
				size += len(p.data)
				continue
			default:
			}
			if window == nil || len(batch) >= target {
				break gather
			}
			select {
			case p := <-c.in:
				batch = append(batch, p)
				size += len(p.data)
			case <-window:
				break gather
			case <-c.stop:
				break gather
			}
		}
		if timer != nil {
			timer.Stop()
		}
		start := time.Now()
		c.commit(batch)
		lastCommit = time.Since(start)
		prev1, prev2 = len(batch), prev1
		clear(batch) // let the bodies go
	}
}

// commit stores batch and answers each of its requests.
func (c *committer) commit(batch []*pending) {
	c.mu.Lock()
	c.batches++
	c.msgs += int64(len(batch))
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	if len(batch) == 1 {
		batch[0].done <- c.single(ctx, batch[0])
		return
	}
	err := c.atomic(ctx, batch)
	var apiErr *jetstream.APIError
	if err != nil && (full(err) || errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == errCodeBatchDuplicate || apiErr.ErrorCode == errCodeMsgIDInProcess)) {
		// Refused before anything was stored: one at a time, so the
		// duplicate is accepted and only what does not fit is refused.
		for _, p := range batch {
			p.done <- c.single(ctx, p)
		}
		return
	}
	for _, p := range batch {
		p.done <- err
	}
}

// single stores one message the ordinary way (one fsync of its own).
func (c *committer) single(ctx context.Context, p *pending) error {
	_, err := c.js.Publish(ctx, p.subject, p.data, jetstream.WithMsgID(p.msgID))
	return err
}

// batchAck is the server's answer to an atomic batch's commit.
type batchAck struct {
	Error  *jetstream.APIError `json:"error"`
	Stream string              `json:"stream"`
	Count  int                 `json:"count"`
}

// atomic publishes batch as one JetStream atomic batch: all of it is
// stored and synced, or none of it (a store that fails while writing
// degrades the queue, see health.go).
func (c *committer) atomic(ctx context.Context, batch []*pending) error {
	id := uuid.NewString()
	var commit *nats.Msg
	for i, p := range batch {
		m := nats.NewMsg(p.subject)
		m.Data = p.data
		m.Header.Set(jetstream.MsgIDHeader, p.msgID)
		m.Header.Set(hdrBatchID, id)
		m.Header.Set(hdrBatchSeq, strconv.Itoa(i+1))
		if i == len(batch)-1 {
			m.Header.Set(hdrBatchCommit, "1")
			commit = m
			break
		}
		// Staged without an answer: a member the server refuses makes
		// the commit fail.
		if err := c.nc.PublishMsg(m); err != nil {
			return fmt.Errorf("publish batch: %w", err)
		}
	}
	resp, err := c.nc.RequestMsgWithContext(ctx, commit)
	if err != nil {
		return fmt.Errorf("commit batch: %w", err)
	}
	var ack batchAck
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return fmt.Errorf("commit batch: bad answer %q: %w", resp.Data, err)
	}
	if ack.Error != nil {
		return fmt.Errorf("commit batch: %w", ack.Error)
	}
	if ack.Stream != c.stream || ack.Count != len(batch) {
		return fmt.Errorf("commit batch: stored %d messages in %q, want %d in %q", ack.Count, ack.Stream, len(batch), c.stream)
	}
	return nil
}

// stats returns the batches committed and the messages in them.
func (c *committer) stats() (batches, msgs int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.batches, c.msgs
}
