package api

import "fmt"

// Image is one element of GET /system/images and of the answer to POST
// /system/images (funcd's own routes; OpenFaaS has none for images).
type Image struct {
	Name   string `json:"name"`   // as containerd stores it: docker.io/library/alpine:3.20
	Digest string `json:"digest"` // of the manifest the name points to
	Size   int64  `json:"size"`   // bytes of content for this host's platform
	// Functions are those in the image's namespace deployed with it, at
	// any scale (listing only).
	Functions []string `json:"functions,omitempty"`
}

// PullPolicy says when a deploy asks a registry for a function's image.
type PullPolicy string

// The pull policies. The zero value is funcd's default: a tag other than
// latest, or a digest, is used from the local store when present; latest
// is pulled, falling back to the local copy when the pull fails.
const (
	PullDefault PullPolicy = ""
	PullAlways  PullPolicy = "always"  // pull at every deploy; a failed pull fails it
	PullMissing PullPolicy = "missing" // pull only when there is no local copy
	PullNever   PullPolicy = "never"   // use the local copy or fail
)

// ParsePullPolicy reads always, missing or never.
func ParsePullPolicy(s string) (PullPolicy, error) {
	switch p := PullPolicy(s); p {
	case PullAlways, PullMissing, PullNever:
		return p, nil
	}
	return "", fmt.Errorf("pull policy %q: want always, missing or never", s)
}
