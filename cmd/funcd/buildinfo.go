package main

import (
	"runtime"
	"runtime/debug"
)

// build says what this binary is; `funcd version` prints it and
// /system/info reports its release and commit.
type build struct {
	Version  string // the release: what -ldflags stamped, else "dev"
	Commit   string // "unknown" when nothing recorded one
	Go       string // the Go release that built it
	Platform string // os/arch, with the ARM version: linux/arm/v7
}

// thisBuild describes the running binary.
func thisBuild() build {
	bi, _ := debug.ReadBuildInfo()
	return describeBuild(version, commit, bi)
}

// describeBuild prefers what -ldflags stamped (make build, make dist).
// A plain `go build` in a git clone stamps nothing, but the go command
// records the commit in the build info (vcs.revision, and vcs.modified for
// a tree with changes, which adds "-dirty"); the release stays as given.
func describeBuild(version, commit string, bi *debug.BuildInfo) build {
	b := build{Version: version, Commit: commit, Go: runtime.Version()}
	if b.Version == "" {
		b.Version = "dev"
	}
	goos, goarch, goarm := runtime.GOOS, runtime.GOARCH, ""
	if bi != nil {
		var revision string
		var modified bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			case "GOOS":
				goos = s.Value
			case "GOARCH":
				goarch = s.Value
			case "GOARM":
				goarm = s.Value
			}
		}
		if b.Commit == "" && revision != "" {
			b.Commit = revision
			if modified {
				b.Commit += "-dirty"
			}
		}
		if bi.GoVersion != "" {
			b.Go = bi.GoVersion
		}
	}
	if b.Commit == "" {
		b.Commit = "unknown" // built without -ldflags, git or -buildvcs
	}
	b.Platform = goos + "/" + goarch
	if goarch == "arm" && goarm != "" {
		b.Platform += "/v" + goarm[:1] // "7" or "7,softfloat"
	}
	return b
}
