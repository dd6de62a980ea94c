package api

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Queue labels and annotations a function may carry. Each is read from the
// function's labels first, then its annotations.
const (
	// LabelQueueMaxInflight caps how many of the function's queued
	// invocations run at once (a positive integer; default: no cap below
	// the daemon's --queue-workers).
	LabelQueueMaxInflight = "com.openfaas.queue.max-inflight"
	// The OpenFaaS Pro retry annotations: total attempts (first one
	// included), the statuses worth another attempt, and the bounds of the
	// back-off between attempts (Go durations or seconds).
	AnnotationRetryAttempts = "com.openfaas.retry.attempts"
	AnnotationRetryCodes    = "com.openfaas.retry.codes"
	AnnotationRetryMinWait  = "com.openfaas.retry.min_wait"
	AnnotationRetryMaxWait  = "com.openfaas.retry.max_wait"
	// AnnotationTopic lists, comma-separated, the event topics that invoke
	// the function: "cron-function", NATS subjects, MQTT topics.
	AnnotationTopic = "topic"
	// AnnotationSchedule is the cron schedule of a function whose topic
	// includes "cron-function".
	AnnotationSchedule = "schedule"
)

// QueueStats is GET /system/queue: the state of the queue of asynchronous
// invocations, in total and per function.
type QueueStats struct {
	Depth       uint64          `json:"depth"`       // waiting for their first attempt
	InFlight    uint64          `json:"inFlight"`    // being invoked now
	Retrying    uint64          `json:"retrying"`    // waiting for another attempt
	DeadLetters uint64          `json:"deadLetters"` // kept in the dead-letter stream
	Callbacks   uint64          `json:"callbacks"`   // results waiting to be delivered
	Workers     int             `json:"workers"`     // the global concurrency limit
	Functions   []FunctionQueue `json:"functions"`
}

// FunctionQueue is one function's share of QueueStats.
type FunctionQueue struct {
	Name        string `json:"name"`
	Namespace   string `json:"namespace"`
	Depth       uint64 `json:"depth"`
	InFlight    uint64 `json:"inFlight"`
	Retrying    uint64 `json:"retrying"`
	DeadLetters uint64 `json:"deadLetters"`
	MaxInflight int    `json:"maxInflight"` // 0: only the global limit
}

// DeadLetter is an asynchronous invocation that ran out of attempts, as
// listed by GET /system/queue/dead-letters.
type DeadLetter struct {
	ID          uint64    `json:"id"` // stream sequence, what redrive takes
	CallID      string    `json:"callId"`
	Function    string    `json:"function"`
	Namespace   string    `json:"namespace"`
	Path        string    `json:"path"`
	Attempts    int       `json:"attempts"`
	Status      int       `json:"status"` // the last answer's status; 0 when nothing answered
	Error       string    `json:"error"`
	Source      string    `json:"source"` // async, cron, nats, mqtt
	BodyBytes   int       `json:"bodyBytes"`
	AcceptedAt  time.Time `json:"acceptedAt"`
	FailedAt    time.Time `json:"failedAt"`
	CallbackURL string    `json:"callbackUrl,omitempty"`
}

// DeadLetterSelection is the body of POST /system/queue/redrive and
// /system/queue/purge. Empty fields select everything: an empty selection
// is every dead letter.
type DeadLetterSelection struct {
	Function  string   `json:"function,omitempty"`
	Namespace string   `json:"namespace,omitempty"` // alone: all its functions; with Function: default openfaas-fn
	IDs       []uint64 `json:"ids,omitempty"`
}

// RedriveResult answers a redrive.
type RedriveResult struct {
	Redriven int `json:"redriven"`
}

// PurgeResult answers a purge.
type PurgeResult struct {
	Purged int `json:"purged"`
}

// ParseStatusList reads a comma-separated list of HTTP statuses, as in
// com.openfaas.retry.codes: "429,502,503".
func ParseStatusList(s string) ([]int, error) {
	var codes []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		c, err := strconv.Atoi(f)
		if err != nil || c < 100 || c > 599 {
			return nil, fmt.Errorf("%q is not an HTTP status", f)
		}
		codes = append(codes, c)
	}
	return codes, nil
}
