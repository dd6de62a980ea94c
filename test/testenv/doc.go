// Package testenv starts, and removes again, the private environment that
// funcd's end-to-end tests (test/) and its benchmark (test/bench) run in:
// a run directory on a disk filesystem, a containerd with its own config,
// root, state and socket there, docker-registry on 127.0.0.1 with function
// images built from this repository, and `funcd up` processes each on their
// own port, state directory, bridge and subnet. Everything it starts can run
// beside a live installation (funcd0, 10.62.0.0/16,
// /run/containerd/containerd.sock) and is cleaned up by PID, by path and by
// the recorded bridges and subnets, never by name patterns.
//
// The usual life of an environment:
//
//	env := testenv.New(testenv.Options{Base: "/var/tmp", Prefix: "funcd-e2e-", Images: imgs})
//	defer env.Close()                 // also after a failed or cancelled Setup
//	if err := env.Setup(ctx); err != nil { ... }
//	f, err := env.StartFuncd(ctx, testenv.FuncdOptions{Bridge: "fdt1", Subnet: subnet})
//	c, err := f.Client()              // API client with funcd's credentials
//	...
//	err = f.Stop()                    // SIGTERM; an error unless it exits 0 in 10s
//	err = env.CleanFuncd(ctx, f)      // empty containerd, remove f's bridge and rules
//
// Close kills what is left, empties and stops containerd, stops the
// registry, unmounts, removes the bridges, iptables rules and chains the run
// added and deletes the run directory. A run that died without Close (a
// panic, SIGKILL) is cleaned up by the next Setup with the same Base and
// Prefix, which reaps run directories whose process is gone.
//
// The pieces are usable alone too: StartContainerd, StartRegistry,
// BuildFuncd, StartFuncd, CleanRunDir, RemoveNetworks, StartProcess, Poll.
// StartPrometheus runs Debian's prometheus against targets of the caller's
// choosing; PrometheusImage (Registry.PushPrometheus) packs it as an image
// shaped like upstream's prom/prometheus for containers.
//
// It needs root, Linux, containerd 1.6, runc, the CNI plugins, iptables,
// ip and docker-registry (MissingPrerequisite says what is missing). It
// returns errors and must not import testing, so that a program can use it.
package testenv
