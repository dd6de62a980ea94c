package queue

import (
	"context"
	"fmt"
)

// fitMaxBytes is Config.MaxBytes, lowered (with a warning) to what the
// disk can hold: what the invoke stream already stores plus three quarters
// of the free space, the rest staying for funcd's other state. A queue
// that cannot grow past the disk answers "full" (503) before the disk is.
func (q *Queue) fitMaxBytes(ctx context.Context) int64 {
	want := q.cfg.MaxBytes
	if want <= 0 {
		return want
	}
	avail, err := q.cfg.freeSpace(q.cfg.StoreDir)
	if err != nil {
		q.log.Warn("cannot tell the free space of the queue's disk; keeping --queue-max-bytes", "err", err)
		return want
	}
	var stored int64
	if s, err := q.js.Stream(ctx, invokeStream); err == nil {
		stored = int64(s.CachedInfo().State.Bytes)
	}
	fit := max(stored+avail/4*3, int64(q.maxPayload))
	if fit >= want {
		return want
	}
	q.log.Warn("the queue's disk has less free space than --queue-max-bytes; the queue is capped to fit",
		"store", q.cfg.StoreDir, "free", byteSize(avail), "queued", byteSize(stored),
		"queue_max_bytes", byteSize(want), "cap", byteSize(fit))
	return fit
}

// byteSize renders n bytes for a person.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
