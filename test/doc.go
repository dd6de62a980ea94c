// Package e2e holds funcd's end-to-end tests: the real funcd binary against
// a real containerd, runc, CNI bridge and image registry, all private to the
// test run so it can run beside a live installation (funcd0, 10.62.0.0/16,
// /run/containerd/containerd.sock).
//
// # What TestMain sets up
//
//   - a run directory /var/tmp/funcd-e2e-* (FUNCD_E2E_TMPDIR overrides
//     /var/tmp; it must be a real filesystem that can hold overlayfs upper
//     directories, not overlayfs itself);
//   - a private containerd (own config.toml, root, state and socket in the
//     run directory, CRI disabled);
//   - docker-registry on 127.0.0.1:<free port>, storage in the run directory;
//   - function images built from this repository with internal/imagebuild
//     and pushed there: testfn:v1 and testfn:v2 (test/testfn, env VERSION
//     baked in) and hello:0.1 (examples/hello).
//
// The funcd binary is built from ./cmd/funcd on the first startFuncd call.
//
// # Helpers for tests
//
//	requireE2E(t)                      skip unless the environment is up
//	startFuncd(t, opts...) *Funcd      funcd up on its own port, state dir,
//	                                   bridge and subnet (a 10.199.X.0/24 no
//	                                   other test process or live funcd
//	                                   uses); waits for /healthz
//	h.FuncdBinary(ctx)                 the funcd executable, to run it by hand
//	WithArgs(flags...), WithEnv(kv...) options: more flags, more environment
//	(*Funcd).Stop, Kill9, Restart      SIGTERM / SIGKILL / start again on the
//	                                   same state dir, port and network
//	(*Funcd).Client(t) *client.Client  API client with funcd's credentials
//	f.URL, f.StateDir, f.Bridge,       where this funcd is
//	f.Subnet, f.LogPath, f.Cmd
//	containerdClient(t)                client of the private containerd
//	containerdAddress(t)               its socket
//	h.Containerd.Stop, Start, Running  stop the private containerd (SIGTERM
//	                                   to the daemon only: shims and tasks
//	                                   keep running) and start it again on
//	                                   the same socket, root and state; a
//	                                   test that stops it starts it again
//	                                   in its cleanup
//	imageRef("testfn:v1")              reference in the private registry
//	eventually(t, timeout, f)          poll f until it returns nil
//	recorded(t, c, name)               the calls testfn's /record saw
//	queueSettled(t, c, timeout)        wait until nothing is queued, running,
//	                                   retrying or waiting for a callback
//	freePort(t)                        a free TCP port on 127.0.0.1
//
// funcd runs with the test's environment minus FUNCD_* variables (funcd
// reads those as flag defaults). A Funcd's cleanup fails the test when
// funcd does not exit 0 within 10s of SIGTERM, and logs the end of its
// output when the test failed.
//
// Tests that start funcd must not call t.Parallel: they share one
// containerd, and a Funcd's cleanup deletes every container, task and image
// in it (and the Funcd's bridge and iptables rules) after stopping funcd.
//
// # Running
//
//	sudo go test ./test/ -v               # everything
//	sudo go test ./test/ -run Smoke -v    # the harness alone
//
// The tests skip (and `go test ./...` passes) when not run as root, when
// containerd, containerd-shim-runc-v2, runc, docker-registry, ip, iptables
// or the CNI plugins (/usr/lib/cni or /opt/cni/bin) are missing, with
// -short, or with FUNCD_E2E=0. TestTriggers also needs mosquitto_pub
// (mosquitto-clients; scripts/deps.sh test installs it) and fails without;
// TestUI needs Debian's chromium likewise. TestUI saves a screenshot of
// each page it visits: `go test -artifacts -outputdir DIR -run TestUI`
// keeps them under DIR.
//
// # Cleanup
//
// At the end TestMain deletes every task, container and image in the
// private containerd, stops containerd and the registry, kills any process
// still running from the run directory (shims, functions), unmounts what is
// mounted under it, deletes the test bridges and the iptables rules and
// chains for the test subnets, and removes the directory. A run that dies
// without cleaning up (a -timeout panic, SIGKILL) is cleaned up by the next
// run, which reaps run directories whose harness process is gone.
package e2e
