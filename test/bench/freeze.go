package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"text/tabwriter"
	"time"

	"github.com/containerd/containerd/namespaces"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/cgroups"
	"github.com/funcd/funcd/test/testenv"
)

// The freeze section: a function annotated com.funcd.idle=pause, frozen by
// funcd after a second idle, woken by a request through funcd; against the
// floors of the same replica's group, with no funcd in the way: frozen and
// thawed by writing its freezer file, and paused and resumed by
// containerd (task.Pause/Resume, i.e. runc pause/resume), each timed from
// the thaw to the first 200 on a connection already open to the replica.
// The three alternate, round by round.
const (
	freezeName    = "frozen"
	maxFreezeWake = 20 * time.Millisecond // wake-to-first-200 p50, at most
)

// freezeResults are the freeze figures.
type freezeResults struct {
	funcd       []time.Duration // a request through funcd to the frozen function, to its 200
	floor       []time.Duration // thaw by the freezer file to the first 200
	ctrd        []time.Duration // containerd task.Resume to the first 200
	floorFreeze []time.Duration // freezing by the freezer file, until frozen
	ctrdPause   []time.Duration // containerd task.Pause
}

// measureFreeze deploys the pausing function and runs n rounds.
func measureFreeze(ctx context.Context, env *testenv.Env, t *target, n int) (freezeResults, error) {
	var res freezeResults
	err := t.deployWith(ctx, api.FunctionDeployment{Service: freezeName, Image: t.image,
		Labels:      map[string]string{"com.openfaas.scale.zero": "true", "com.openfaas.scale.zero-duration": "1s"},
		Annotations: map[string]string{"com.funcd.idle": "pause"}})
	if err != nil {
		return res, err
	}
	cctx := namespaces.WithNamespace(ctx, api.DefaultNamespace)
	ctrs, err := env.Containerd.Client.Containers(cctx, fmt.Sprintf("labels.%q==%q", "io.funcd.function", freezeName))
	if err != nil || len(ctrs) != 1 {
		return res, fmt.Errorf("the %s container: %d found, %v", freezeName, len(ctrs), err)
	}
	labels, err := ctrs[0].Labels(cctx)
	if err != nil {
		return res, err
	}
	ip, err := netip.ParseAddr(labels["io.funcd.ip"])
	if err != nil {
		return res, fmt.Errorf("label io.funcd.ip: %w", err)
	}
	task, err := ctrs[0].Task(cctx, nil)
	if err != nil {
		return res, err
	}
	fz, err := cgroups.Reader{}.Freezer(task.Pid())
	if err != nil {
		return res, err
	}
	addr := netip.AddrPortFrom(ip, 8080).String()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return res, err
	}
	defer conn.Close()
	kc := &keptConn{conn: conn, br: bufio.NewReader(conn), addr: addr}
	hc := &http.Client{Timeout: 30 * time.Second} // keeps its connection to funcd
	url := t.funcd.URL + "/function/" + freezeName + benchPath
	for i := 0; i <= n; i++ { // round 0 is not counted: caches warm
		if err := waitFrozen(ctx, fz); err != nil {
			return res, err
		}
		t0 := time.Now()
		if err := get(ctx, hc, url); err != nil {
			return res, fmt.Errorf("wake %d: %w", i, err)
		}
		wake := time.Since(t0)
		if err := kc.get(benchPath); err != nil { // thawed: the floors start from a warm connection
			return res, err
		}
		t0 = time.Now()
		if err := fz.Freeze(ctx); err != nil {
			return res, err
		}
		froze := time.Since(t0)
		t0 = time.Now()
		if err := fz.Thaw(); err != nil {
			return res, err
		}
		if err := kc.get(benchPath); err != nil {
			return res, err
		}
		floor := time.Since(t0)
		t0 = time.Now()
		if err := task.Pause(cctx); err != nil {
			return res, fmt.Errorf("containerd pause: %w", err)
		}
		paused := time.Since(t0)
		t0 = time.Now()
		if err := task.Resume(cctx); err != nil {
			return res, fmt.Errorf("containerd resume: %w", err)
		}
		if err := kc.get(benchPath); err != nil {
			return res, err
		}
		ctrd := time.Since(t0)
		if i > 0 {
			res.funcd, res.floor, res.ctrd = append(res.funcd, wake), append(res.floor, floor), append(res.ctrd, ctrd)
			res.floorFreeze, res.ctrdPause = append(res.floorFreeze, froze), append(res.ctrdPause, paused)
		}
	}
	return res, nil
}

// waitFrozen waits until funcd has frozen the group (a second of idle,
// then the scaler's next tick).
func waitFrozen(ctx context.Context, fz cgroups.Freezer) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return testenv.Poll(ctx, func() error {
		frozen, err := fz.Frozen()
		if err == nil && !frozen {
			err = fmt.Errorf("%s: not frozen", fz.Dir)
		}
		return err
	})
}

// keptConn is one kept-alive HTTP/1.1 connection to a replica.
type keptConn struct {
	conn net.Conn
	br   *bufio.Reader
	addr string
}

// get sends GET path and wants a 200, keeping the connection open.
func (k *keptConn) get(path string) error {
	_ = k.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(k.conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, k.addr); err != nil {
		return fmt.Errorf("GET %s%s: %w", k.addr, path, err)
	}
	res, err := http.ReadResponse(k.br, nil)
	if err != nil {
		return fmt.Errorf("GET %s%s: %w", k.addr, path, err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s%s: %s", k.addr, path, res.Status)
	}
	return nil
}

// reportFreeze prints the freeze figures: p50, p99 and range of each way
// back from frozen, and of each way into it.
func reportFreeze(w io.Writer, r freezeResults) {
	fmt.Fprintf(w, "freeze (com.funcd.idle=pause): %d alternating rounds, one replica of %s\n", len(r.funcd), freezeName)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\tp50\tp99\tmin\tmax\t")
	for _, row := range []struct {
		name string
		ds   []time.Duration
	}{
		{"wake through funcd, to the first 200", r.funcd},
		{"floor: thaw (freezer file) to the first 200", r.floor},
		{"containerd task.Resume to the first 200", r.ctrd},
		{"freeze (freezer file, until frozen)", r.floorFreeze},
		{"containerd task.Pause", r.ctrdPause},
	} {
		s := summarize(row.ds)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", row.name, millis(s.p50), millis(s.p99), millis(s.min), millis(s.max))
	}
	tw.Flush()
	s := summarize(r.funcd)
	fmt.Fprintf(w, "wake p50 %s, target <= %s: %s\n", millis(s.p50), millis(maxFreezeWake), verdict(s.n > 0 && s.p50 <= maxFreezeWake))
}
