package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/funcd/funcd/internal/api"
	"github.com/funcd/funcd/internal/client"
	"github.com/funcd/funcd/internal/queue"
)

// TestTriggers maps events to functions by their topic annotation: a
// NATS message (published by an outside client), a NATS request (answered
// by the function), an MQTT message from Debian's mosquitto_pub, and a
// cron schedule with seconds.
func TestTriggers(t *testing.T) {
	pub, err := exec.LookPath("mosquitto_pub")
	if err != nil {
		t.Fatal("mosquitto_pub not found: scripts/deps.sh test installs mosquitto-clients")
	}
	natsPort, mqttPort := freePort(t), freePort(t)
	f := startFuncd(t, WithArgs("--nats-listen", fmt.Sprintf("127.0.0.1:%d", natsPort),
		"--mqtt-listen", fmt.Sprintf("127.0.0.1:%d", mqttPort)))
	c := f.Client(t)
	ctx := t.Context()
	record := map[string]string{"ROOT_PATH": "/record"}
	deployReady(t, c, api.FunctionDeployment{Service: "events", Image: imageRef("testfn:v1"), EnvVars: record,
		Annotations: map[string]string{api.AnnotationTopic: "orders.created, sensors/+/temp"}})
	deployReady(t, c, api.FunctionDeployment{Service: "ticker", Image: imageRef("testfn:v1"), EnvVars: record,
		Annotations: map[string]string{api.AnnotationTopic: "cron-function", api.AnnotationSchedule: "* * * * * *"}})

	pw, err := os.ReadFile(filepath.Join(f.StateDir, "secrets", "nats-password"))
	if err != nil {
		t.Fatal(err)
	}
	password := strings.TrimSpace(string(pw))
	url := fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	if nc, err := nats.Connect(url, nats.UserInfo("funcd", "wrong")); err == nil {
		nc.Close()
		t.Error("NATS accepted a wrong password")
	}
	denied := make(chan error, 4)
	nc, err := nats.Connect(url, nats.UserInfo("funcd", password),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { denied <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	// Outside clients may not read the queue or touch JetStream.
	if _, err := nc.SubscribeSync("funcd.>"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-denied:
		if !strings.Contains(strings.ToLower(err.Error()), "permission") {
			t.Errorf("subscribing to funcd.>: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("an outside client could subscribe to the queue's subjects")
	}
	if _, err := nc.Request("$JS.API.STREAM.DELETE.FUNCD_INVOKE", nil, time.Second); err == nil {
		t.Error("an outside client reached the JetStream API")
	}

	// The subscription follows the function list; publish until it is there.
	eventually(t, 10*time.Second, func() error {
		if err := nc.Publish("orders.created", []byte("order-1")); err != nil {
			return err
		}
		return findCall(t, c, "events", "order-1", "orders.created", "funcd-nats")
	})

	// Requests need an nkey: the answer goes to the key's own inbox,
	// which no other client may read.
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pubKey, _ := kp.PublicKey()
	rc, err := nats.Connect(url, nats.UserInfo("funcd", password), nats.Nkey(pubKey, kp.Sign),
		nats.CustomInboxPrefix(queue.InboxPrefix(pubKey)))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	reply, err := rc.Request("orders.created", []byte("question"), 10*time.Second)
	if err != nil {
		t.Fatalf("NATS request: %v", err)
	}
	if string(reply.Data) != "recorded question\n" || reply.Header.Get("X-Function-Status") != "200" {
		t.Errorf("reply %q %v", reply.Data, reply.Header)
	}

	out, err := exec.CommandContext(ctx, pub, "-h", "127.0.0.1", "-p", fmt.Sprint(mqttPort), "-u", "funcd", "-P", password,
		"-i", "e2e-sensor", "-q", "1", "-t", "sensors/kitchen/temp", "-m", "21.5").CombinedOutput()
	if err != nil {
		t.Fatalf("mosquitto_pub: %v: %s", err, out)
	}
	eventually(t, 10*time.Second, func() error {
		return findCall(t, c, "events", "21.5", "sensors/kitchen/temp", "funcd-mqtt")
	})
	if out, err := exec.CommandContext(ctx, pub, "-h", "127.0.0.1", "-p", fmt.Sprint(mqttPort), "-u", "funcd", "-P", "wrong",
		"-t", "sensors/kitchen/temp", "-m", "x").CombinedOutput(); err == nil {
		t.Errorf("MQTT accepted a wrong password: %s", out)
	}
	// Devices publish; they do not read: a subscription to everything is
	// refused, and sees nothing of the events or invocations meanwhile.
	if out, err := exec.CommandContext(ctx, "mosquitto_sub", "-h", "127.0.0.1", "-p", fmt.Sprint(mqttPort), "-u", "funcd",
		"-P", password, "-t", "#", "-t", "$SYS/#", "-t", "_INBOX/#", "-C", "1", "-W", "3").CombinedOutput(); string(out) != "All subscription requests were denied.\n" {
		t.Errorf("mosquitto_sub -t '#' = %v: %q; want every subscription denied and nothing received", err, out)
	}

	// Cron, every second: two runs within a few seconds, one call id each.
	eventually(t, 10*time.Second, func() error {
		ids := map[string]bool{}
		for _, cl := range recorded(t, c, "ticker") {
			if cl.Connector == "funcd-cron" && cl.Topic == "cron-function" {
				ids[cl.CallID] = true
			}
		}
		if len(ids) < 2 {
			return fmt.Errorf("%d cron runs", len(ids))
		}
		return nil
	})

	// Bad topics and schedules are refused at deploy.
	for _, ann := range []map[string]string{
		{api.AnnotationTopic: "cron-function", api.AnnotationSchedule: "every tuesday"},
		{api.AnnotationTopic: "funcd.invoke.x"},
	} {
		err := c.Deploy(ctx, api.FunctionDeployment{Service: "badtrigger", Image: imageRef("testfn:v1"), Annotations: ann})
		var se *client.StatusError
		if !errors.As(err, &se) || se.Code != 400 {
			t.Errorf("deploy with %v = %v, want 400", ann, err)
		}
	}

	metrics := get(t, f.URL+"/metrics")
	for _, trig := range []string{"nats", "mqtt", "cron"} {
		if !strings.Contains(metrics, fmt.Sprintf(`funcd_trigger_invocations_total{trigger=%q}`, trig)) {
			t.Errorf("no funcd_trigger_invocations_total for %s", trig)
		}
	}
	if !strings.Contains(metrics, `funcd_queue_enqueued_total{function_name="events.openfaas-fn",source="mqtt"} 1`) {
		t.Error("the MQTT message did not go through the queue")
	}

	// While funcd is down nothing runs; after the restart the schedule
	// goes on from the present instead of making up the missed runs.
	f.Stop(t)
	down := time.Now()
	time.Sleep(3 * time.Second)
	if err := f.Funcd.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	eventually(t, 10*time.Second, func() error {
		for _, cl := range recorded(t, c, "ticker") {
			if sec := cronSecond(t, cl.CallID); sec >= up.Unix() {
				return nil
			}
		}
		return errors.New("no cron run since the restart")
	})
	for _, cl := range recorded(t, c, "ticker") {
		if sec := cronSecond(t, cl.CallID); sec > down.Unix()+1 && sec < up.Unix()-1 {
			t.Errorf("run %s was scheduled while funcd was down (%s..%s) and made up afterwards",
				cl.CallID, down.Format(time.TimeOnly), up.Format(time.TimeOnly))
		}
	}
}

// findCall returns nil once function name recorded a call with body,
// topic and connector.
func findCall(t *testing.T, c *client.Client, name, body, topic, connector string) error {
	calls := recorded(t, c, name)
	for _, cl := range calls {
		if cl.Body == body && cl.Topic == topic && cl.Connector == connector {
			return nil
		}
	}
	return fmt.Errorf("no call with body %q, topic %q, connector %q among %+v", body, topic, connector, calls)
}

// cronSecond reads the scheduled Unix second from a cron call id,
// "cron-NAME.NS-SECOND".
func cronSecond(t *testing.T, id string) int64 {
	t.Helper()
	i := strings.LastIndexByte(id, '-')
	sec, err := strconv.ParseInt(id[i+1:], 10, 64)
	if !strings.HasPrefix(id, "cron-") || err != nil {
		t.Fatalf("cron call id %q: want cron-NAME.NS-SECOND", id)
	}
	return sec
}
