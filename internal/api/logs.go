package api

import "time"

// LogMessage is one line of a function's output, as GET /system/logs
// streams it (one JSON object per line). All five keys are always present.
type LogMessage struct {
	Name      string    `json:"name"`
	Namespace string    `json:"namespace"`
	Instance  string    `json:"instance"` // replica id
	Timestamp time.Time `json:"timestamp"`
	Text      string    `json:"text"`
}
