#!/bin/sh
# Runs every check and test funcd has: formatting, vet, staticcheck, unit
# tests (with the race detector, and under qemu-user for arm64 and arm), the
# release build and, as root, the end-to-end tests against a private
# containerd, CNI bridge and registry, and of install.sh on a booted systemd
# in systemd-nspawn. It installs the system packages it needs first. This is
# what CI runs.
set -eu
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

scripts/deps.sh test

echo "== shellcheck"
shellcheck install.sh scripts/*.sh

echo "== gofmt"
# shellcheck disable=SC2046 # one argument per file
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "not gofmt-formatted:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

echo "== cross-build (linux amd64, arm64, arm)"
# Built as make dist builds, so that the tests under qemu and the release
# build below find every package in the cache.
for arch in amd64 arm64 arm; do
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch GOARM=7 go build -trimpath -o /dev/null ./...
done

echo "== unit tests"
go test -race -count=1 -short ./...

echo "== unit tests for arm64 and arm/v7 under qemu-user (FUNCD_QEMU=1 skips what it cannot run)"
# One package at a time: emulated, two packages at once on two cores made
# timeouts inside the NATS server fire.
for target in arm64:qemu-aarch64-static arm:qemu-arm-static; do
	start=$(date +%s)
	FUNCD_QEMU=1 CGO_ENABLED=0 GOARCH=${target%%:*} GOARM=7 go test -p 1 -trimpath -short -count=1 -exec "${target#*:}" ./...
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
go test -run '^$' -fuzz FuzzParse -fuzztime 50000x ./internal/cgroups
go test -run '^$' -fuzz FuzzParseLdd -fuzztime 50000x ./internal/imagebuild
go test -run '^$' -fuzz FuzzLoad -fuzztime 10000x ./internal/compose
go test -run '^$' -fuzz FuzzValidNext -fuzztime 50000x ./internal/ui
go test -run '^$' -fuzz FuzzParseToken -fuzztime 50000x ./internal/ui
go test -run '^$' -fuzz FuzzLogin -fuzztime 20000x ./internal/ui
go test -run '^$' -fuzz FuzzParseSent -fuzztime 20000x ./internal/stack

echo "== release build (make dist): tarballs, static binaries, SHA256SUMS"
VERSION=v0.0.0-ci scripts/dist.sh
scripts/check-dist.sh v0.0.0-ci

echo "== end-to-end tests (root: private containerd, CNI bridge and registry; install.sh in systemd-nspawn)"
# One package at a time: test/ and test/systemd both run containers and
# measure; the machine has two cores. test/systemd writes its figures
# (install time, restart gap, reboot) to a report printed after it.
report=/var/tmp/funcd-nspawn/report.txt
rm -f "$report"
rc=0
go test -p 1 -count=1 -timeout 60m ./test/... || rc=$?
if [ -f "$report" ]; then
	echo "== figures of test/systemd"
	cat "$report"
fi
exit $rc
