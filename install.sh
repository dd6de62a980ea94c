#!/bin/sh
# install.sh installs funcd on this machine as a system service, or upgrades
# it in place (functions, secrets and queued invocations are kept; running
# functions keep serving while funcd restarts).
#
#   sudo ./install.sh                 from a checkout or an unpacked release
#   curl -sfL URL/install.sh | sudo sh
#   curl -sfL URL/install.sh | sudo sh -s -- --uninstall
#   sudo ./install.sh --demo          also deploy the demo function (checkout + Go)
#   sudo ./install.sh --uninstall     stop funcd, remove the binary and unit;
#                                     keep /var/lib/funcd and the functions
#   sudo ./install.sh --purge         also remove every function, the state,
#                                     settings and logs
#
# Environment:
#   FUNCD_BINARY=/path       install this funcd binary
#   FUNCD_RELEASE_URL=URL    where funcd-linux-ARCH and SHA256SUMS are
#                            downloaded from when there is no other binary
#   FUNCD_READY_WAIT=120     seconds to wait for funcd to be ready
#
# Without systemd as PID 1 (a container, a CI machine) funcd is installed the
# same way but runs in the background, with its log in /var/log/funcd, and
# does not come back after a reboot.
set -eu

PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
FUNCD_RELEASE_URL=${FUNCD_RELEASE_URL:-https://github.com/funcd/funcd/releases/latest/download}
ready_wait=${FUNCD_READY_WAIT:-120}

bin=/usr/local/bin/funcd
unit=/etc/systemd/system/funcd.service
defaults=/etc/default/funcd
logdir=/var/log/funcd
sysctl_file=/etc/sysctl.d/90-funcd.conf
# The pid of the funcd this script started where there is no systemd.
pidfile=/run/funcd-install.pid

say() { echo "install: $*"; }

# die REASON WHAT-TO-DO: one line on stderr, then exit 1.
die() {
	echo "install: error: $1; $2" >&2
	exit 1
}

usage() {
	cat <<'EOF'
usage: install.sh [--demo | --uninstall | --purge]
  (no flag)    install or upgrade funcd and start it
  --demo       also deploy the demo function "hello" (needs a checkout and Go)
  --uninstall  stop funcd, remove its binary and unit; keep its state and functions
  --purge      uninstall, then remove every function, the state, settings and logs
Environment: FUNCD_BINARY, FUNCD_RELEASE_URL, FUNCD_READY_WAIT (see the script's header).
EOF
}

# setting NAME DEFAULT prints the value of NAME in /etc/default/funcd
# (the last uncommented assignment, quotes removed), or DEFAULT.
setting() {
	v=""
	if [ -f "$defaults" ]; then
		v=$(sed -n "s/^[[:space:]]*$1=//p" "$defaults" | tail -n 1)
		v=${v#\"}; v=${v%\"}; v=${v#\'}; v=${v%\'}
	fi
	echo "${v:-$2}"
}

# export_settings exports every FUNCD_* assignment of /etc/default/funcd,
# as systemd's EnvironmentFile= would.
export_settings() {
	[ -f "$defaults" ] || return 0
	while IFS= read -r line; do
		case $line in
		FUNCD_*=*)
			name=${line%%=*}
			export "$name=$(setting "$name" "")"
			;;
		esac
	done <"$defaults"
}

# local_url turns a listen address (:8080, 0.0.0.0:8080, [::]:8080,
# 192.0.2.1:8080) into a URL this machine can reach it on.
local_url() {
	port=${1##*:}
	host=${1%:*}
	case $host in
	"" | 0.0.0.0 | "[::]") host=127.0.0.1 ;;
	esac
	echo "http://$host:$port"
}

detect_arch() {
	case $(uname -m) in
	x86_64 | amd64) arch=amd64 ;;
	aarch64 | arm64) arch=arm64 ;;
	armv7l | armv7*) arch=arm ;;
	*) die "unsupported architecture $(uname -m)" "funcd is built for x86_64, aarch64 and armv7l" ;;
	esac
}

# memory_cgroup warns when the kernel's memory controller is off, as
# Raspberry Pi OS boots by default: functions with a memory limit could
# not start, and --memory-budget could not be enforced.
memory_cgroup() {
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		grep -qw memory /sys/fs/cgroup/cgroup.controllers && return 0
	elif awk '$1 == "memory" && $4 == 1 { on = 1 } END { exit !on }' /proc/cgroups 2>/dev/null; then
		return 0
	fi
	say "warning: the kernel's memory cgroup is off, so functions with memory limits cannot start; add 'cgroup_enable=memory cgroup_memory=1' to the kernel command line (Raspberry Pi: /boot/firmware/cmdline.txt) and reboot"
}

# find_go prints the go command, if there is one.
find_go() {
	if command -v go >/dev/null 2>&1; then
		command -v go
	elif [ -x /usr/local/go/bin/go ]; then
		echo /usr/local/go/bin/go
	else
		return 1
	fi
}

# in_checkout reports whether this script sits in a funcd source checkout.
in_checkout() {
	[ -n "$here" ] && [ -f "$here/go.mod" ] && [ -d "$here/cmd/funcd" ] &&
		grep -q '^module github.com/funcd/funcd$' "$here/go.mod"
}

# resolve_binary sets src to the funcd binary to install: FUNCD_BINARY, the
# release tarball's bin/funcd-ARCH, a build of this checkout, or a verified
# download. Nothing on the machine changes here.
resolve_binary() {
	if [ -n "${FUNCD_BINARY:-}" ]; then
		[ -f "$FUNCD_BINARY" ] || die "FUNCD_BINARY=$FUNCD_BINARY does not exist" "point it at a funcd binary"
		src=$FUNCD_BINARY
		say "using the binary $src (FUNCD_BINARY)"
	elif [ -n "$here" ] && [ -f "$here/bin/funcd-$arch" ]; then
		src=$here/bin/funcd-$arch
		say "using the binary $src"
	elif in_checkout && gocmd=$(find_go); then
		build_binary
	else
		download_binary
	fi
	"$src" install --print-unit >/dev/null 2>&1 ||
		die "$src does not run here (wrong architecture, or too old to have 'funcd install')" "use a funcd built for linux/$arch"
}

# build_binary builds ./cmd/funcd of the checkout, stamped like `make build`.
build_binary() {
	# The checkout is often the sudo user's: let root's git (and go's) read it.
	export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0="$here"
	version=$(git -C "$here" describe --tags --always --dirty 2>/dev/null || echo dev)
	commit=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || true)
	say "building funcd $version from $here with $gocmd"
	(cd "$here" && CGO_ENABLED=0 "$gocmd" build -trimpath \
		-ldflags "-s -w -X main.version=$version -X main.commit=$commit" \
		-o "$tmp/funcd" ./cmd/funcd) ||
		die "go build failed" "fix the build, or set FUNCD_BINARY=/path/to/funcd"
	src=$tmp/funcd
}

# download_binary fetches funcd-linux-ARCH and SHA256SUMS and checks one
# against the other; a mismatch stops the install before anything changed.
download_binary() {
	asset=funcd-linux-$arch
	command -v curl >/dev/null 2>&1 ||
		die "curl is needed to download $asset" "install curl, or set FUNCD_BINARY=/path/to/funcd"
	command -v sha256sum >/dev/null 2>&1 ||
		die "sha256sum is needed to check the download" "install coreutils, or set FUNCD_BINARY=/path/to/funcd"
	say "downloading $asset and SHA256SUMS from $FUNCD_RELEASE_URL"
	curl -fsSL --retry 2 -o "$tmp/$asset" "$FUNCD_RELEASE_URL/$asset" ||
		die "could not download $FUNCD_RELEASE_URL/$asset" "check the network and FUNCD_RELEASE_URL, or set FUNCD_BINARY=/path/to/funcd"
	curl -fsSL --retry 2 -o "$tmp/SHA256SUMS" "$FUNCD_RELEASE_URL/SHA256SUMS" ||
		die "could not download $FUNCD_RELEASE_URL/SHA256SUMS" "check the network and FUNCD_RELEASE_URL"
	want=$(awk -v f="$asset" '$2 == f || $2 == "*" f { print $1 }' "$tmp/SHA256SUMS")
	[ -n "$want" ] || die "SHA256SUMS lists no $asset" "check FUNCD_RELEASE_URL points at a funcd release"
	got=$(sha256sum "$tmp/$asset" | cut -d ' ' -f 1)
	[ "$got" = "$want" ] ||
		die "$asset has sha256 $got but SHA256SUMS says $want; nothing was changed" "download again, or verify a binary by hand and set FUNCD_BINARY"
	chmod 755 "$tmp/$asset"
	src=$tmp/$asset
	say "verified $asset (sha256 $got)"
}

# cni_dir prints the directory holding the CNI plugins funcd uses.
cni_dir() {
	for d in /usr/lib/cni /opt/cni/bin /usr/libexec/cni; do
		if [ -x "$d/bridge" ] && [ -x "$d/host-local" ] && [ -x "$d/loopback" ] && [ -x "$d/firewall" ]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

# install_packages installs containerd, runc, the CNI plugins, iptables and
# curl from the distribution, each only when it is missing.
install_packages() {
	missing=""
	command -v containerd >/dev/null 2>&1 || missing="$missing containerd"
	command -v runc >/dev/null 2>&1 || missing="$missing runc"
	cni_dir >/dev/null || missing="$missing cni"
	command -v iptables >/dev/null 2>&1 || missing="$missing iptables"
	command -v curl >/dev/null 2>&1 || missing="$missing curl"
	if [ -z "$missing" ]; then
		say "containerd, runc, the CNI plugins and iptables are installed"
		return 0
	fi
	if command -v apt-get >/dev/null 2>&1; then
		pkgs=$(echo "$missing" | sed 's/ cni/ containernetworking-plugins/')
		say "installing$pkgs (apt)"
		export DEBIAN_FRONTEND=noninteractive
		# shellcheck disable=SC2086
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends $pkgs >/dev/null; } ||
			die "apt-get could not install$pkgs" "run 'apt-get install$pkgs' and look at its error"
	elif command -v dnf >/dev/null 2>&1; then
		pkgs=$(echo "$missing" | sed 's/ cni/ containernetworking-plugins/; s/ iptables/ iptables-nft/')
		say "installing$pkgs (dnf)"
		# shellcheck disable=SC2086
		dnf install -y -q $pkgs || die "dnf could not install$pkgs" "run 'dnf install$pkgs' and look at its error"
	elif command -v pacman >/dev/null 2>&1; then
		pkgs=$(echo "$missing" | sed 's/ cni/ cni-plugins/')
		say "installing$pkgs (pacman)"
		# shellcheck disable=SC2086
		pacman -S --needed --noconfirm $pkgs || die "pacman could not install$pkgs" "run 'pacman -S$pkgs' and look at its error"
	else
		die "no apt-get, dnf or pacman to install$missing" "install containerd, runc, the CNI plugins (bridge, host-local, loopback, firewall) and iptables by hand, then run install.sh again"
	fi
}

# use_cni_dir records the CNI plugin directory in /etc/default/funcd when it
# is not one funcd looks in by itself.
use_cni_dir() {
	d=$(cni_dir) || die "the CNI plugins are still missing" "install them (bridge, host-local, loopback, firewall) and run install.sh again"
	case $d in
	/usr/lib/cni | /opt/cni/bin) return 0 ;;
	esac
	if ! grep -q '^FUNCD_CNI_BIN_DIR=' "$defaults"; then
		say "setting FUNCD_CNI_BIN_DIR=$d in $defaults"
		echo "FUNCD_CNI_BIN_DIR=$d" >>"$defaults"
	fi
}

# containerd_up reports whether containerd answers on $sock. Without the
# socket, ctr would wait 10 s to say no.
containerd_up() {
	[ -S "$sock" ] && ctr --address "$sock" version >/dev/null 2>&1
}

# start_containerd makes sure containerd runs (and, with systemd, starts at
# boot).
start_containerd() {
	sock=$(setting FUNCD_CONTAINERD_ADDRESS /run/containerd/containerd.sock)
	if [ "$systemd" = 1 ]; then
		if ! systemctl is-enabled --quiet containerd 2>/dev/null || ! systemctl is-active --quiet containerd; then
			say "enabling and starting containerd"
			systemctl enable --now --quiet containerd ||
				die "containerd did not start" "see journalctl -u containerd -n 50"
		fi
	elif containerd_up; then
		say "containerd is running"
	else
		say "starting containerd in the background (no systemd), log in $logdir/containerd.log"
		mkdir -p "$logdir"
		setsid nohup containerd >>"$logdir/containerd.log" 2>&1 </dev/null &
	fi
	i=0
	until containerd_up; do
		i=$((i + 1))
		[ $i -le 150 ] || die "containerd does not answer on $sock" "see journalctl -u containerd or $logdir/containerd.log"
		sleep 0.2
	done
}

ip_forwarding() {
	if [ "$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null)" != 1 ]; then
		say "turning on IP forwarding"
		sysctl -q -w net.ipv4.ip_forward=1 >/dev/null ||
			die "could not set net.ipv4.ip_forward=1" "functions need it to reach the network; set it and run install.sh again"
	fi
	want="# funcd: functions reach the network through the host (install.sh)
net.ipv4.ip_forward = 1"
	if [ "$(cat "$sysctl_file" 2>/dev/null)" != "$want" ]; then
		mkdir -p "$(dirname "$sysctl_file")"
		echo "$want" >"$sysctl_file"
		say "wrote $sysctl_file (IP forwarding stays on after a reboot)"
	fi
}

# install_binary puts src at /usr/local/bin/funcd through a rename, so a
# running funcd keeps its old file; it sets changed=1 when it was different.
install_binary() {
	changed=0
	if [ -f "$bin" ] && cmp -s "$src" "$bin"; then
		say "$bin is up to date"
		return 0
	fi
	mkdir -p "$(dirname "$bin")"
	cp "$src" "$bin.new.$$"
	chmod 755 "$bin.new.$$"
	mv -f "$bin.new.$$" "$bin"
	changed=1
	say "installed $bin"
}

# running_outdated reports whether systemd's funcd runs a binary that has
# since been replaced.
running_outdated() {
	pid=$(systemctl show -p MainPID --value funcd 2>/dev/null || echo 0)
	[ "${pid:-0}" != 0 ] && case $(readlink "/proc/$pid/exe" 2>/dev/null) in *" (deleted)") true ;; *) false ;; esac
}

start_with_systemd() {
	systemctl daemon-reload
	systemctl enable --quiet funcd
	if ! systemctl is-active --quiet funcd; then
		say "starting funcd"
		systemctl start funcd || die "funcd did not start" "see journalctl -u funcd -n 50"
	elif [ "$changed" = 1 ] || running_outdated; then
		say "restarting funcd to upgrade it (functions keep running)"
		systemctl restart funcd || die "funcd did not restart" "see journalctl -u funcd -n 50"
	else
		say "funcd is running this version already"
	fi
}

# background_pid prints the pid of the funcd this script started earlier,
# if it still runs.
background_pid() {
	[ -f "$pidfile" ] || return 1
	pid=$(cat "$pidfile")
	[ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'funcd up' && echo "$pid"
}

stop_background() {
	pid=$(background_pid) || { rm -f "$pidfile"; return 0; }
	say "stopping the funcd started earlier (pid $pid; functions keep running)"
	kill -TERM "$pid" 2>/dev/null || true
	i=0
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 150 ]; then
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.2
	done
	rm -f "$pidfile"
}

start_in_background() {
	stop_background
	mkdir -p "$logdir"
	say "starting funcd in the background, log in $logdir/funcd.log"
	(
		export_settings
		cd /
		# The inner sh records its own pid, which funcd then takes over.
		# shellcheck disable=SC2016
		exec setsid nohup sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$pidfile" "$bin" up \
			>>"$logdir/funcd.log" 2>&1 </dev/null
	) &
}

wait_ready() {
	url=$(local_url "$(setting FUNCD_LISTEN :8080)")
	i=0
	until curl -fsS -o /dev/null --max-time 2 "$url/readyz" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt $((ready_wait * 5)) ]; then
			if [ "$systemd" = 1 ]; then
				die "funcd is not ready at $url/readyz after ${ready_wait}s" "see journalctl -u funcd -n 50"
			fi
			die "funcd is not ready at $url/readyz after ${ready_wait}s" "see $logdir/funcd.log"
		fi
		if [ "$systemd" = 0 ] && [ $i -gt 5 ] && ! background_pid >/dev/null; then
			die "funcd exited: $(tail -n 1 "$logdir/funcd.log" 2>/dev/null)" "see $logdir/funcd.log"
		fi
		sleep 0.2
	done
}

do_install() {
	started=$(date +%s)
	if [ "$demo" = 1 ] && { ! in_checkout || ! find_go >/dev/null; }; then
		die "--demo builds examples/hello and needs a funcd checkout with Go" "run ./install.sh --demo from a git checkout, or leave --demo out"
	fi
	resolve_binary
	memory_cgroup
	install_packages
	start_containerd
	ip_forwarding
	install_binary
	out=$("$bin" install --defaults "$defaults") ||
		die "funcd install could not write the unit or $defaults" "see the error above"
	echo "$out" | sed 's/^/install: /'
	use_cni_dir
	if [ "$systemd" = 1 ]; then
		start_with_systemd
	else
		start_in_background
	fi
	wait_ready
	state=$(setting FUNCD_STATE_DIR /var/lib/funcd)
	say "funcd is ready at $url ($(($(date +%s) - started))s)"
	say "admin password (user admin): $state/secrets/basic-auth-password"
	say "log in with: sudo cat $state/secrets/basic-auth-password | funcd login --gateway $url --password-stdin"
	say "         or: sudo cat $state/secrets/basic-auth-password | faas-cli login --gateway $url --password-stdin"
	if [ "$systemd" = 1 ]; then
		say "manage it with: systemctl status funcd; journalctl -u funcd"
	else
		say "no systemd here: funcd runs in the background (log $logdir/funcd.log) and will NOT come back after a reboot; run install.sh again after one"
	fi
	[ "$demo" = 0 ] || deploy_demo
}

# deploy_demo builds examples/hello into an image, imports it and deploys it,
# all offline.
deploy_demo() {
	gocmd=$(find_go)
	say "building the demo function from examples/hello"
	(cd "$here" && "$gocmd" run ./cmd/mkimage -pkg ./examples/hello -ref localhost/hello:0.1 -tar "$tmp/hello.tar" >/dev/null) ||
		die "could not build the demo image" "see the go error above"
	"$bin" login --gateway "$url" --password-stdin <"$state/secrets/basic-auth-password" >/dev/null
	"$bin" image import --gateway "$url" "$tmp/hello.tar" >/dev/null ||
		die "could not import the demo image" "see the error above and journalctl -u funcd"
	"$bin" deploy --gateway "$url" --name hello --image localhost/hello:0.1 >/dev/null ||
		die "could not deploy the demo function" "see the error above and journalctl -u funcd"
	say "deployed the demo function: curl -d world $url/function/hello"
}

do_uninstall() {
	if [ "$systemd" = 1 ] && [ -f "$unit" ]; then
		say "stopping and disabling funcd (functions keep running)"
		systemctl disable --now --quiet funcd || true
	fi
	stop_background
	if [ -f "$unit" ]; then
		rm -f "$unit"
		say "removed $unit"
	fi
	if [ "$systemd" = 1 ]; then
		systemctl daemon-reload
		systemctl reset-failed funcd 2>/dev/null || true
	fi
	if [ -f "$bin" ]; then
		rm -f "$bin"
		say "removed $bin"
	fi
}

do_purge() {
	# funcd purge needs a binary: the installed one, or one found as for an
	# install, before anything is stopped.
	if [ -x "$bin" ]; then
		cp "$bin" "$tmp/funcd"
		src=$tmp/funcd
	else
		resolve_binary
	fi
	"$src" purge --help >/dev/null 2>&1 ||
		die "$src has no 'funcd purge'" "use a newer funcd (FUNCD_BINARY=/path) for --purge"
	do_uninstall
	say "removing every function, its containers, images and network, and the state (funcd purge)"
	# funcd purge reads the same FUNCD_* settings as funcd up.
	out=$(export_settings && "$src" purge) ||
		die "funcd purge failed" "see the error above; run install.sh --purge again once it is fixed"
	[ -z "$out" ] || echo "$out" | sed 's/^/install: /'
	# Where live funcds claim their networks: with no claim left (a dot
	# file is not one), no other funcd runs here.
	set -- /run/funcd/*
	[ -e "$1" ] || rm -rf /run/funcd
	for f in "$defaults" "$sysctl_file"; do
		if [ -f "$f" ]; then
			rm -f "$f"
			say "removed $f"
		fi
	done
	if [ -d "$logdir" ]; then
		rm -rf "$logdir"
		say "removed $logdir"
	fi
	say "purged; IP forwarding stays on until a reboot, and containerd, runc, the CNI plugins and iptables stay installed"
}

mode=install
demo=0
for arg in "$@"; do
	case $arg in
	--uninstall) mode=uninstall ;;
	--purge) mode=purge ;;
	--demo) demo=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	*) die "unknown argument $arg" "see install.sh --help" ;;
	esac
done

[ "$(id -u)" = 0 ] || die "install.sh must run as root" "run it with sudo"
systemd=0
[ -d /run/systemd/system ] && systemd=1
detect_arch
here=""
case $0 in
*install.sh) [ -f "$0" ] && here=$(cd "$(dirname "$0")" && pwd) ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

case $mode in
install) do_install ;;
uninstall)
	do_uninstall
	say "kept $(setting FUNCD_STATE_DIR /var/lib/funcd) (functions, secrets, queue) and $defaults; install.sh --purge removes them"
	;;
purge) do_purge ;;
esac
