#!/bin/sh
# Checks what scripts/dist.sh built into dist/ for VERSION: each tarball
# holds exactly the expected files and the same binary as the bare one;
# each binary is a static ELF for its architecture (arm: GOARM=7), built
# with CGO_ENABLED=0 and -trimpath, and runs (arm64 and arm under
# qemu-user) to report VERSION and the checked-out commit; SHA256SUMS
# covers every file and verifies. Prints the sizes.
# Usage: scripts/check-dist.sh VERSION
set -eu
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
version=${1:?usage: scripts/check-dist.sh VERSION}

fail() {
	echo "check-dist: $*" >&2
	exit 1
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

commit=$(git rev-parse HEAD 2>/dev/null || true)
for arch in amd64 arm64 arm; do
	name="funcd-$version-linux-$arch"
	bin="dist/funcd-linux-$arch"
	[ -f "dist/$name.tar.gz" ] || fail "dist/$name.tar.gz is missing"
	[ -x "$bin" ] || fail "$bin is missing or not executable"

	{
		printf '%s\n' "$name/" "$name/LICENSE" "$name/README.md" "$name/bin/" "$name/bin/funcd-$arch"
		if [ -f install.sh ]; then echo "$name/install.sh"; fi
		if [ -f docker-compose.yaml ]; then echo "$name/docker-compose.yaml"; fi
		if [ -d systemd ]; then
			find systemd -type d | sed "s|^|$name/|; s|\$|/|"
			find systemd -type f ! -name '*.go' | sed "s|^|$name/|"
		fi
	} | sort >"$tmp/want"
	tar -tzf "dist/$name.tar.gz" | sort >"$tmp/got"
	diff -u "$tmp/want" "$tmp/got" >&2 || fail "dist/$name.tar.gz: unexpected listing (- expected, + found)"
	tar -xzf "dist/$name.tar.gz" -C "$tmp"
	cmp -s "$tmp/$name/bin/funcd-$arch" "$bin" || fail "$name: bin/funcd-$arch differs from $bin"
	if [ -f install.sh ] && [ ! -x "$tmp/$name/install.sh" ]; then
		fail "$name: install.sh is not executable"
	fi

	case $arch in
	amd64) machine="x86-64" run="" ;;
	arm64) machine="ARM aarch64" run="qemu-aarch64-static" ;;
	arm) machine="ARM, EABI5" run="qemu-arm-static" ;;
	esac
	elf=$(file -b "$bin")
	case $elf in
	*"$machine"*"statically linked"*) ;;
	*) fail "$bin: $elf; want a static $machine executable" ;;
	esac
	settings=$(go version -m "$bin")
	for s in "GOARCH=$arch" "CGO_ENABLED=0" "-trimpath=true"; do
		echo "$settings" | grep -q "build	$s\$" || fail "$bin: not built with $s"
	done
	if [ "$arch" = arm ]; then
		echo "$settings" | grep -q "build	GOARM=7\$" || fail "$bin: not built with GOARM=7"
	fi

	out=$(OPENFAAS_URL=http://127.0.0.1:1 $run "$bin" version 2>/dev/null) || fail "$bin version failed"
	platform="linux/$arch"
	if [ "$arch" = arm ]; then platform="linux/arm/v7"; fi
	for want in " version: $version" " commit:  $commit" " os/arch: $platform"; do
		case $out in
		*"$want"*) ;;
		*) fail "$bin version printed:
$out
want a line starting '$want'" ;;
		esac
	done
	rm -r "${tmp:?}/$name"
done

(cd dist && ls -- *.tar.gz funcd-linux-*) | sort >"$tmp/want"
sed 's/^[0-9a-f]\{64\}  //' dist/SHA256SUMS | sort >"$tmp/got"
diff -u "$tmp/want" "$tmp/got" >&2 || fail "SHA256SUMS does not list exactly the tarballs and binaries"
(cd dist && sha256sum -c --quiet SHA256SUMS) || fail "sha256sum -c SHA256SUMS failed"

echo "check-dist: $version ok (commit ${commit:-unknown}); sizes in bytes:"
for f in dist/funcd-linux-* dist/*.tar.gz; do
	printf '  %-45s %10d\n' "${f#dist/}" "$(wc -c <"$f")"
done
