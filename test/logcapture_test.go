package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/namespaces"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/client"
)

// TestLogsChattyNotBlocked has a replica print far more than its pipes
// hold (8 MiB in one call): the collector keeps up, so the call answers
// and every line is stored, in order.
func TestLogsChattyNotBlocked(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t, WithArgs("--log-max-size", "64Mi")) // the whole burst stays in ID.log
	c := f.Client(t)
	deployReady(t, c, api.FunctionDeployment{Service: "chatty", Image: imageRef("testfn:v1")})

	const n = 8192
	text := strings.Repeat("x", 1000)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // a blocked function never answers
	defer cancel()
	code, body, err := call(ctx, c, "chatty", http.MethodGet, "/log?n="+strconv.Itoa(n)+"&text="+text, "")
	if err != nil || code != 200 {
		t.Fatalf("GET /log?n=%d = %d %q, %v", n, code, body, err)
	}
	last := fmt.Sprintf("%s %d", text, n-1)
	waitForLine(t, c, "chatty", last)
	got := logTexts(readLogs(t, c, "chatty", client.LogOptions{Tail: -1}))
	i := 0
	for _, l := range got {
		if strings.HasPrefix(l, text+" ") {
			if want := fmt.Sprintf("%s %d", text, i); l != want {
				t.Fatalf("line %d of the burst = %q…, want …%d", i, l[len(text):], i)
			}
			i++
		}
	}
	if i != n {
		t.Errorf("stored %d lines of the burst, want %d", i, n)
	}
}

// TestLogsOldDriverAdopted starts a replica the way funcd did before the
// collector (containerd's shim running `funcd --log-driver` for it),
// then funcd: the replica is adopted as it is and its output still
// reaches the log through the old driver; once it restarts it is read by
// the collector.
func TestLogsOldDriverAdopted(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	c := f.Client(t)
	deployReady(t, c, api.FunctionDeployment{Service: "legacy", Image: imageRef("testfn:v1")})
	var id string
	for id = range tasks(t, "legacy") {
	}
	stateDir, err := filepath.Abs(f.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(stateDir, "logs", fnNamespace, "legacy", id+".log")

	f.Kill9(t)
	ctx := namespaces.WithNamespace(t.Context(), fnNamespace)
	ctr, err := containerdClient(t).LoadContainer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if old, err := ctr.Task(ctx, nil); err == nil {
		if _, err := old.Delete(ctx, containerd.WithProcessKill); err != nil {
			t.Fatalf("delete the collector's task: %v", err)
		}
	}
	// An old funcd made no FIFOs.
	for _, fifo := range []string{logPath + ".stdout", logPath + ".stderr"} {
		if err := os.Remove(fifo); err != nil {
			t.Fatal(err)
		}
	}
	task, err := ctr.NewTask(ctx, cio.BinaryIO(f.Cmd.Path, map[string]string{
		"--log-driver": logPath, "--log-max-size": strconv.Itoa(1 << 20),
	}))
	if err != nil {
		t.Fatalf("create a task with the old log driver: %v", err)
	}
	if err := task.Start(ctx); err != nil {
		t.Fatal(err)
	}
	before := tasks(t, "legacy")
	f.Restart(t)
	c = f.Client(t)

	if after := tasks(t, "legacy"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("tasks after restart = %v, want %v (the old-driver task adopted as it is)", after, before)
	}
	if _, err := os.Lstat(logPath + ".stdout"); !os.IsNotExist(err) {
		t.Errorf("stat %s.stdout = %v, want no FIFO for a task of the old driver", logPath, err)
	}
	logText(t, c, "legacy", "through-old-driver", "stdout")
	waitForLine(t, c, "legacy", "through-old-driver")

	// It crashes; funcd's new task of it is read by the collector.
	if code, body, err := call(t.Context(), c, "legacy", http.MethodGet, "/exit?code=3", ""); err != nil || code != 200 {
		t.Fatalf("GET /exit = %d %q, %v", code, body, err)
	}
	logText(t, c, "legacy", "through-collector", "stdout") // held until the replica is back
	waitForLine(t, c, "legacy", "through-collector")
	if fi, err := os.Lstat(logPath + ".stdout"); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("stat %s.stdout = %v, %v; want the collector's FIFO after the restart", logPath, fi, err)
	}
}

// TestLogsWhileFuncdDown has the replica write a burst while funcd is
// stopped (SIGTERM) and while it is killed (SIGKILL): the output waits in
// the task's FIFOs and every line reaches the log, in order, once funcd
// is back.
func TestLogsWhileFuncdDown(t *testing.T) {
	requireE2E(t)
	f := startFuncd(t)
	c := f.Client(t)
	deployReady(t, c, api.FunctionDeployment{Service: "offline", Image: imageRef("testfn:v1")})
	direct := replicaURL(t, "offline")
	const n = 2000
	for _, down := range []struct {
		name string
		stop func(*testing.T)
	}{{"sigterm", f.Stop}, {"sigkill", f.Kill9}} {
		down.stop(t)
		resp, err := http.Get(direct + "/log?n=" + strconv.Itoa(n) + "&text=" + down.name)
		if err != nil {
			t.Fatalf("call the replica while funcd is down (%s): %v", down.name, err)
		}
		resp.Body.Close()
		f.Restart(t)
		c = f.Client(t)
		waitForLine(t, c, "offline", fmt.Sprintf("%s %d", down.name, n-1))
		i := 0
		for _, l := range logTexts(readLogs(t, c, "offline", client.LogOptions{Tail: -1})) {
			if rest, ok := strings.CutPrefix(l, down.name+" "); ok {
				if rest != strconv.Itoa(i) {
					t.Fatalf("after %s: line %d of the burst = %q, want %d", down.name, i, l, i)
				}
				i++
			}
		}
		if i != n {
			t.Errorf("after %s: %d lines of the burst stored, want %d", down.name, i, n)
		}
	}
}
