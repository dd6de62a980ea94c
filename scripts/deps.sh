#!/bin/sh
# Installs the system packages funcd needs, idempotently: apt runs only when
# something is missing. Usage: scripts/deps.sh [runtime|test|bench]
#   runtime: containerd, runc, CNI plugins, iptables (what funcd up needs)
#   test:    runtime + a registry and an MQTT client for the end-to-end tests,
#            qemu-user for the arm64/arm unit tests, file, the shell linter,
#            and debootstrap and systemd-nspawn for test/systemd
#   bench:   test + wrk, the load generator of test/bench
set -eu

want="containerd runc containernetworking-plugins iptables iproute2 ca-certificates curl"
case "${1:-runtime}" in
runtime) ;;
test) want="$want docker-registry mosquitto-clients qemu-user-static file shellcheck debootstrap systemd-container" ;;
bench) want="$want docker-registry mosquitto-clients qemu-user-static file shellcheck debootstrap systemd-container wrk" ;;
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
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
