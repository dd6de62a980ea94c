package e2e

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/api"
)

// notifySocket is a stand-in for systemd's notification socket: it
// collects what funcd sends, descriptors included.
type notifySocket struct {
	path string
	conn *net.UnixConn
}

func newNotifySocket(t *testing.T) *notifySocket {
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &notifySocket{path: path, conn: conn}
}

// stored waits for FDSTORE=1 messages naming each of names and returns
// their descriptors in that order.
func (n *notifySocket) stored(t *testing.T, names ...string) []*os.File {
	t.Helper()
	got := map[string]*os.File{}
	n.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf, oob := make([]byte, 4096), make([]byte, 1024)
	for len(got) < len(names) {
		m, oobn, _, _, err := n.conn.ReadMsgUnix(buf, oob)
		if err != nil {
			t.Fatalf("waiting for FDSTORE messages for %v (have %v): %v", names, got, err)
		}
		msg := string(buf[:m])
		if !strings.Contains(msg, "FDSTORE=1") {
			continue
		}
		msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			t.Fatalf("FDSTORE message %q without one descriptor: %v", msg, err)
		}
		fds, err := syscall.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			t.Fatalf("FDSTORE message %q: %v %v", msg, fds, err)
		}
		name := strings.TrimPrefix(msg[strings.Index(msg, "FDNAME="):], "FDNAME=")
		got[name] = os.NewFile(uintptr(fds[0]), name)
	}
	out := make([]*os.File, len(names))
	for i, name := range names {
		if out[i] = got[name]; out[i] == nil {
			t.Fatalf("no descriptor stored as %q (have %v)", name, got)
		}
		t.Cleanup(func() { out[i].Close() })
	}
	return out
}

// TestRestartKeepsListeningSocket plays systemd's part in a restart: funcd
// stores its listening sockets, the test holds them while funcd is down
// (as systemd's store does), and requests made meanwhile wait in the
// socket's backlog and are served by the next funcd instead of being
// refused.
func TestRestartKeepsListeningSocket(t *testing.T) {
	requireE2E(t)
	ns := newNotifySocket(t)
	f := startFuncd(t, WithEnv("NOTIFY_SOCKET="+ns.path))
	c := f.Client(t)
	deployReady(t, c, api.FunctionDeployment{Service: "steady", Image: imageRef("testfn:v1")})
	files := ns.stored(t, "api", "bridge")

	f.Stop(t)
	const n = 5
	codes := make(chan int, n)
	for range n {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.URL+"/function/steady", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Logf("request while funcd was down: %v", err)
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	time.Sleep(300 * time.Millisecond) // the requests are in the backlog now
	if err := f.RestartPassing(t.Context(), files, []string{"api", "bridge"}); err != nil {
		t.Fatal(err)
	}
	for range n {
		if code := <-codes; code != http.StatusOK {
			t.Errorf("request made while funcd restarted = %d, want 200", code)
		}
	}
	if log, _ := os.ReadFile(f.LogPath); !strings.Contains(string(log), "took over the listening socket kept by systemd") {
		t.Error("funcd did not say it took over the kept socket")
	}
}
