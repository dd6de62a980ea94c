#!/bin/sh
# Installs the system packages funcd needs, idempotently: apt runs only when
# something is missing. Usage: scripts/deps.sh [runtime|test|bench]
#   runtime: containerd, runc, CNI plugins, iptables (what funcd up needs)
#   test:    runtime + a registry and an MQTT client for the end-to-end tests,
#            qemu-user for the arm64/arm unit tests, file, the shell linter,
#            debootstrap and systemd-nspawn for test/systemd, and prometheus
#            (with promtool) for the metrics tests, and chromium for the
#            web UI's browser tests
#   bench:   test + wrk, the load generator of test/bench (its ui section
#            uses chromium too)
# Installing never starts a daemon (prometheus's package would start one on
# :9090): apt runs under a policy-rc.d that forbids it, and the services of
# the test-only packages it installs are disabled at boot too (the tests
# run their own, on free ports).
set -eu

want="containerd runc containernetworking-plugins iptables iproute2 ca-certificates curl"
testing="docker-registry mosquitto-clients qemu-user-static file shellcheck debootstrap systemd-container prometheus chromium"
# Packages whose daemon nothing here wants running (tests start their own).
test_daemons="prometheus"
case "${1:-runtime}" in
runtime) ;;
test) want="$want $testing" ;;
bench) want="$want $testing wrk" ;;
*) echo "usage: scripts/deps.sh [runtime|test|bench]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing; run as root to install them" >&2
	exit 1
fi

# A package's maintainer scripts ask invoke-rc.d (or deb-systemd-invoke)
# before starting its service; policy-rc.d exiting 101 says no. Ours lives
# only while apt runs, and a policy the machine already has is left alone.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\n# scripts/deps.sh: no daemon starts while packages install\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
	trap 'exit 1' HUP INT TERM
fi

echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null

for d in $test_daemons; do
	case " $missing " in
	*" $d "*)
		if command -v systemctl >/dev/null 2>&1; then systemctl disable --quiet "$d.service" 2>/dev/null || true; fi
		update-rc.d "$d" disable >/dev/null 2>&1 || true
		;;
	esac
done
