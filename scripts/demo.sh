#!/bin/sh
# Brings funcd up on this machine and deploys the demo function, offline:
# the same as `sudo ./install.sh --demo` (install.sh says what it does).
# Run as root from a checkout with Go.
set -eu
exec "$(dirname "$0")/../install.sh" --demo "$@"
