#!/bin/sh
# Builds funcd's release files into dist/ (emptied first):
#   funcd-VERSION-linux-ARCH.tar.gz  for ARCH amd64, arm64 and arm (v7):
#       funcd-VERSION-linux-ARCH/bin/funcd-ARCH, install.sh, systemd/,
#       docker-compose.yaml (those three when they exist), README.md, LICENSE
#   funcd-linux-ARCH                 the bare binary, what install.sh downloads
#   SHA256SUMS                       of all of the above, for sha256sum -c
# Binaries are static (CGO_ENABLED=0), built with -trimpath, and stamped
# with the version and commit that `funcd version` and /system/info show.
#
# Usage: [VERSION=v1.2.3] [COMMIT=sha] scripts/dist.sh   (or make dist)
# VERSION defaults to `git describe --tags --always --dirty`, COMMIT to
# the checked-out commit (plus -dirty for uncommitted changes).
set -eu
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
umask 022

arches="amd64 arm64 arm"

if [ -z "${VERSION:-}" ]; then
	VERSION=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
fi
case $VERSION in
*[!A-Za-z0-9._+-]* | "")
	echo "dist: VERSION=$VERSION: use letters, digits and . _ + - (it names files)" >&2
	exit 2
	;;
esac
if [ -z "${COMMIT:-}" ]; then
	COMMIT=$(git rev-parse HEAD 2>/dev/null || true)
	if [ -n "$COMMIT" ] && ! git diff --quiet HEAD -- 2>/dev/null; then
		COMMIT="$COMMIT-dirty"
	fi
fi
# Archive entries get the commit's time, so that tarballs of one commit
# differ only where the binaries do.
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

rm -rf dist
mkdir dist
for arch in $arches; do
	name="funcd-$VERSION-linux-$arch"
	dir="dist/$name"
	mkdir -p "$dir/bin"
	echo "dist: $name (commit ${COMMIT:-unknown})"
	# GOARM only matters for arm; other architectures ignore it.
	CGO_ENABLED=0 GOOS=linux GOARCH="$arch" GOARM=7 go build -trimpath \
		-ldflags "-s -w -X main.version=$VERSION -X main.commit=$COMMIT" \
		-o "$dir/bin/funcd-$arch" ./cmd/funcd
	cp README.md LICENSE "$dir/"
	if [ -f install.sh ]; then
		cp install.sh "$dir/"
		chmod 755 "$dir/install.sh"
	fi
	if [ -d systemd ]; then
		cp -R systemd "$dir/"
		find "$dir/systemd" -name '*.go' -exec rm {} + # the units, not the Go that embeds them
	fi
	if [ -f docker-compose.yaml ]; then
		cp docker-compose.yaml "$dir/"
	fi
	cp "$dir/bin/funcd-$arch" "dist/funcd-linux-$arch"
	tar -C dist --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" -cf "dist/$name.tar" "$name"
	gzip -9n "dist/$name.tar"
	rm -r "$dir"
done

(cd dist && sha256sum -- *.tar.gz funcd-linux-*) >dist/SHA256SUMS.tmp
mv dist/SHA256SUMS.tmp dist/SHA256SUMS
echo "dist: done"
ls -l dist
