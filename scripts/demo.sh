#!/bin/sh
# Brings funcd up on this machine and deploys a demo function, offline:
# installs what is missing (containerd, runc, CNI plugins, iptables), builds
# funcd, starts containerd if it is not running, builds the demo function
# from examples/hello into an image archive, starts `funcd up` in the
# background, imports the archive (funcd image import: no registry) and
# deploys the function.
#
# Run as root. Environment: FUNCD_LISTEN (default 127.0.0.1:8080),
# FUNCD_STATE_DIR (default /var/lib/funcd).
set -eu
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
listen=${FUNCD_LISTEN:-127.0.0.1:8080}
state=${FUNCD_STATE_DIR:-/var/lib/funcd}
sock=/run/containerd/containerd.sock
logdir=/var/log/funcd
gateway="http://$listen"

[ "$(id -u)" = 0 ] || { echo "demo: run as root" >&2; exit 1; }
scripts/deps.sh runtime
mkdir -p "$logdir" bin

echo "demo: building funcd"
go build -o bin/funcd ./cmd/funcd

if ! ctr --address "$sock" version >/dev/null 2>&1; then
	if [ -d /run/systemd/system ]; then
		systemctl enable --now containerd
	else
		echo "demo: starting containerd (no systemd here), log in $logdir/containerd.log"
		nohup containerd >"$logdir/containerd.log" 2>&1 &
	fi
	i=0
	until ctr --address "$sock" version >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 100 ] || { echo "demo: containerd did not start" >&2; exit 1; }
		sleep 0.1
	done
fi

echo "demo: building the hello function image from examples/hello"
go run ./cmd/mkimage -pkg ./examples/hello -ref localhost/hello:0.1 -tar bin/hello.tar >/dev/null

if ! curl -fsS "$gateway/healthz" >/dev/null 2>&1; then
	echo "demo: starting funcd on $listen, log in $logdir/funcd.log"
	nohup bin/funcd up --listen "$listen" --state-dir "$state" >"$logdir/funcd.log" 2>&1 &
	i=0
	until curl -fsS "$gateway/healthz" >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 300 ] || { echo "demo: funcd did not come up; see $logdir/funcd.log" >&2; exit 1; }
		sleep 0.1
	done
fi

bin/funcd login --gateway "$gateway" --password-stdin <"$state/secrets/basic-auth-password"
bin/funcd image import --gateway "$gateway" bin/hello.tar
bin/funcd deploy --gateway "$gateway" --name hello --image localhost/hello:0.1

cat <<MSG

funcd is up and "hello" is deployed. Try:

  curl -d 'world' $gateway/function/hello
  echo world | bin/funcd invoke --gateway $gateway hello
  bin/funcd list --gateway $gateway
  curl -i -d 'later' $gateway/async-function/hello     # queued: 202 now, runs at once
  bin/funcd queue stats --gateway $gateway

Admin password: $state/secrets/basic-auth-password (user admin).
Stop funcd with: kill \$(pidof funcd)   (functions keep running; 'funcd up' adopts them)
MSG
