package queue

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Sources of a job: who asked for the invocation.
const (
	SourceAsync = "async" // POST /async-function/...
	SourceCron  = "cron"
	SourceNATS  = "nats"
	SourceMQTT  = "mqtt"
)

// Job is one invocation to make: what POST /async-function stored, or what
// a trigger asked for. It is what the queue keeps on disk.
type Job struct {
	CallID    string      `json:"callId"`
	Function  string      `json:"function"`  // name, without the namespace
	Namespace string      `json:"namespace"` // never empty once enqueued
	Method    string      `json:"method"`
	Path      string      `json:"path,omitempty"` // below /function/NAME, as the caller encoded it
	Query     string      `json:"query,omitempty"`
	Header    http.Header `json:"header,omitempty"`
	Callback  string      `json:"callback,omitempty"` // absolute URL
	Source    string      `json:"source"`
	Accepted  time.Time   `json:"accepted"`
	// Body travels after the JSON head (see encode), not inside it.
	Body []byte `json:"-"`
}

// Result is what one invocation answered.
type Result struct {
	Status   int // 0: nothing answered (Err says why)
	Header   http.Header
	Body     []byte
	Err      error
	Duration time.Duration
}

// encode frames a job (see frame).
func (j *Job) encode() ([]byte, error) { return frame(j, j.Body) }

// decodeJob reverses encode. The body aliases data.
func decodeJob(data []byte) (Job, error) {
	var j Job
	body, err := unframe(data, &j)
	if err != nil {
		return Job{}, err
	}
	if j.Function == "" || j.Namespace == "" {
		return Job{}, fmt.Errorf("%w: no function", errBadFrame)
	}
	j.Body = body
	return j, nil
}

var errBadFrame = errors.New("not a funcd queue message")

// frame lays out a stored message as uvarint(len(head)) head body: the
// head is JSON, the body stays raw bytes so that a 1 MB upload is 1 MB on
// disk, not 1.33 MB of base64.
func frame(head any, body []byte) ([]byte, error) {
	h, err := json.Marshal(head)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, binary.MaxVarintLen64+len(h)+len(body))
	out = binary.AppendUvarint(out, uint64(len(h)))
	out = append(out, h...)
	return append(out, body...), nil
}

// unframe reads a frame's head into head and returns its body, which
// aliases data.
func unframe(data []byte, head any) ([]byte, error) {
	n, k := binary.Uvarint(data)
	if k <= 0 || n > uint64(len(data)-k) {
		return nil, errBadFrame
	}
	if err := json.Unmarshal(data[k:k+int(n)], head); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadFrame, err)
	}
	return data[k+int(n):], nil
}
