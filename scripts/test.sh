#!/bin/sh
# Runs every check and test funcd has: formatting, vet, staticcheck, unit
# tests (with the race detector) and, as root, the end-to-end tests against
# a private containerd, CNI bridge and registry. It installs the system
# packages it needs first. This is what CI runs.
set -eu
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

scripts/deps.sh test

echo "== gofmt"
# shellcheck disable=SC2046 # one argument per file
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "not gofmt-formatted:"; echo "$unformatted"; exit 1
fi

echo "== shellcheck"
shellcheck scripts/*.sh

echo "== go vet"
go vet ./...

echo "== staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

echo "== cross-build (linux amd64, arm64, arm)"
for arch in amd64 arm64 arm; do
	GOOS=linux GOARCH=$arch go build -o /dev/null ./...
done

echo "== unit tests"
go test -race -count=1 -short ./...

echo "== unit tests for arm64 and arm/v7 under qemu-user (FUNCD_QEMU=1 skips what it cannot run)"
for target in arm64:qemu-aarch64-static arm:qemu-arm-static; do
	start=$(date +%s)
	FUNCD_QEMU=1 GOARCH=${target%%:*} GOARM=7 go test -short -count=1 -exec "${target#*:}" ./...
	echo "${target%%:*} under qemu: $(($(date +%s) - start)) s"
done

echo "== fuzzing the validators and parsers of outside input briefly"
go test -run '^$' -fuzz FuzzValidateName -fuzztime 200000x ./internal/api
go test -run '^$' -fuzz FuzzValidateName -fuzztime 200000x ./internal/secrets
go test -run '^$' -fuzz FuzzParseMemory -fuzztime 200000x ./internal/api
go test -run '^$' -fuzz FuzzDecodeJob -fuzztime 50000x ./internal/queue
go test -run '^$' -fuzz FuzzValidateTopic -fuzztime 50000x ./internal/trigger
go test -run '^$' -fuzz FuzzParseSchedule -fuzztime 50000x ./internal/trigger
go test -run '^$' -fuzz FuzzRelayParity -fuzztime 50000x ./proxy
go test -run '^$' -fuzz FuzzReadHead -fuzztime 50000x ./proxy
go test -run '^$' -fuzz FuzzOpenArchive -fuzztime 50000x ./internal/gateway

echo "== release build (make dist): tarballs, static binaries, SHA256SUMS"
VERSION=v0.0.0-ci scripts/dist.sh
scripts/check-dist.sh v0.0.0-ci

echo "== end-to-end tests (root: private containerd, CNI bridge and registry)"
go test -count=1 -timeout 45m ./test/
