// Package systemd holds funcd's end-to-end test on a real systemd: it
// boots a Debian 12 root filesystem with systemd-nspawn (a private network,
// the host's kernel), installs funcd there with install.sh and checks what
// an operator relies on: systemctl, restarts under load, a killed daemon,
// a reboot, an upgrade in place, uninstall and purge. A second test runs
// install.sh in the same root filesystem without systemd as PID 1, as on a
// CI machine or in a container.
//
// The root filesystem is built once with debootstrap and cached under
// /var/tmp/funcd-nspawn/; every test boots its own copy of it. The tests
// need root, systemd-nspawn, debootstrap (scripts/deps.sh test) and Go,
// and skip, saying why, where nspawn cannot run. There is no code here
// outside the _test.go files.
package systemd
