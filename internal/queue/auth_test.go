package queue

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/funcd/funcd/internal/mqtttest"
)

// outsider is an outside NATS client that records the permission errors
// the server sends it.
type outsider struct {
	*nats.Conn
	mu     sync.Mutex
	errors []string
}

func (o *outsider) violations() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.errors, "\n")
}

// waitViolation waits until the server has refused what, e.g.
// `Subscription to "_INBOX.>"`.
func (o *outsider) waitViolation(t *testing.T, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(o.violations(), "Permissions Violation for "+what) {
		if time.Now().After(deadline) {
			t.Fatalf("no permissions violation for %s; got:\n%s", what, o.violations())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func dialOutsider(t *testing.T, url string, opts ...nats.Option) *outsider {
	t.Helper()
	o := &outsider{}
	opts = append([]nats.Option{nats.UserInfo(User, "pw"), nats.MaxReconnects(0),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			o.mu.Lock()
			o.errors = append(o.errors, err.Error())
			o.mu.Unlock()
		})}, opts...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connect as an outside client: %v", err)
	}
	t.Cleanup(nc.Close)
	o.Conn = nc
	return o
}

// withNkey makes a client prove a fresh nkey and use its inbox; it
// returns the key's public half.
func withNkey(t *testing.T) (string, []nats.Option) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub, []nats.Option{nats.Nkey(pub, kp.Sign), nats.CustomInboxPrefix(InboxPrefix(pub))}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestOutsideClientsReadNothing is the review's finding: an outside client
// subscribed to _INBOX.> received every queued invocation, headers and
// body. Outside clients may now subscribe to nothing but their own inbox,
// in an account the queue is not in, and may publish nowhere reserved.
func TestOutsideClientsReadNothing(t *testing.T) {
	fns := &fakeFunctions{}
	fns.set("f", nil)
	iv := &invoker{}
	mqttAddr := freeAddr(t)
	q := newQueue(t, t.TempDir(), iv, fns, func(c *Config) {
		c.NATSListen, c.MQTTListen, c.Password = "127.0.0.1:0", mqttAddr, "pw"
	})
	defer closeQueue(t, q)
	url := "nats://" + q.srv.ns.Addr().String()
	ctx := context.Background()

	spy := dialOutsider(t, url)
	got := make(chan *nats.Msg, 64)
	subjects := append([]string{">", "*", "*.>", "_INBOX.*", "orders.created"}, reserved...)
	for _, subject := range subjects {
		if _, err := spy.ChanSubscribe(subject, got); err != nil {
			t.Fatal(err)
		}
	}
	if err := spy.Flush(); err != nil {
		t.Fatal(err)
	}
	// What the reviewer saw leak: a queued invocation with credentials,
	// fetched by the worker through an _INBOX subject.
	if err := q.Enqueue(ctx, Job{CallID: "secret-call", Function: "f", Body: []byte("secret body"),
		Header: http.Header{"Authorization": {"Bearer X"}}, Callback: "http://127.0.0.1:1/"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the invocation", func() bool { return iv.count() == 1 })
	if err := spy.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		t.Fatalf("an outside client received %d bytes on %s: %.80q", len(m.Data), m.Subject, m.Data)
	default:
	}
	for _, subject := range subjects {
		spy.waitViolation(t, fmt.Sprintf("Subscription to %q", subject))
	}

	for _, subject := range []string{"$JS.API.STREAM.DELETE.FUNCD_INVOKE", "$JS.API.STREAM.DELETE.$MQTT_sess",
		"$SYS.REQ.SERVER.PING", "$KV.x.y", "$O.x.y", "$MQTT.sess.x", "$NRG.x", "funcd.invoke.openfaas-fn.f", "_INBOX.x.y"} {
		if err := spy.Publish(subject, []byte("x")); err != nil {
			t.Fatal(err)
		}
		spy.waitViolation(t, fmt.Sprintf("Publish to %q", subject))
	}

	// Request and reply: a client with an nkey gets the answer to its own
	// request; a client without one cannot make requests; nobody else
	// can read the answer, even knowing the requester's key.
	answered := make(chan string, 4)
	if _, err := q.Events().Subscribe("orders.created", func(m *nats.Msg) {
		answered <- m.Reply
		_ = m.Respond([]byte("answer"))
	}); err != nil {
		t.Fatal(err)
	}
	pub, opts := withNkey(t)
	requester := dialOutsider(t, url, opts...)
	_, snooperOpts := withNkey(t)
	snooper := dialOutsider(t, url, snooperOpts...)
	if _, err := snooper.ChanSubscribe(InboxPrefix(pub)+".>", got); err != nil {
		t.Fatal(err)
	}
	snooper.waitViolation(t, fmt.Sprintf("Subscription to %q", InboxPrefix(pub)+".>"))
	reply, err := requester.Request("orders.created", []byte("q"), 5*time.Second)
	if err != nil || string(reply.Data) != "answer" {
		t.Fatalf("Request with an nkey = %v, %v; want the answer", reply, err)
	}
	if r := <-answered; !strings.HasPrefix(r, InboxPrefix(pub)+".") {
		t.Errorf("reply subject %q is not in the requester's inbox", r)
	}
	anonymous := dialOutsider(t, url)
	if _, err := anonymous.Request("orders.created", []byte("q"), 500*time.Millisecond); err == nil {
		t.Error("a client without an nkey got an answer: it could subscribe to an inbox")
	}
	anonymous.waitViolation(t, "Subscription to \"_INBOX.")

	// A request whose reply subject names the JetStream API must not make
	// funcd's own connection delete a stream for the client.
	if err := requester.PublishRequest("orders.created", "$JS.API.STREAM.DELETE.$MQTT_sess", []byte("q")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-answered:
	case <-time.After(5 * time.Second):
		t.Fatal("the responder never saw the request")
	}

	// MQTT: the same rules for devices.
	dev, err := mqtttest.Dial(mqttAddr, "device-1", User, "pw")
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	for _, filter := range []string{"#", "+", "orders/created", "$JS/#", "$SYS/#", "$KV/#", "$O/#", "$MQTT/#", "funcd/#", "_INBOX/#"} {
		code, err := dev.Subscribe(filter, 1)
		if err != nil || code != mqtttest.SubackFailure {
			t.Errorf("MQTT subscribe %q = %#x, %v; want refused (%#x)", filter, code, err, mqtttest.SubackFailure)
		}
	}
	seen := make(chan string, 16)
	if _, err := q.Events().Subscribe(">", func(m *nats.Msg) { seen <- m.Subject }); err != nil {
		t.Fatal(err)
	}
	if err := q.Events().Flush(); err != nil {
		t.Fatal(err)
	}
	for i, topic := range []string{"funcd/invoke/openfaas-fn/f", "_INBOX/x/y", "$JS/API/STREAM/DELETE/$MQTT_sess"} {
		// A client ID each: the broker may still be ending the session of
		// the one before, and then refuses the same ID.
		d, err := mqtttest.Dial(mqttAddr, fmt.Sprintf("device-2-%d", i), User, "pw")
		if err != nil {
			t.Fatal(err)
		}
		_ = d.Publish(topic, []byte("x"), 1) // refused: the broker may drop it or hang up
		d.Close()
	}
	if err := dev.Publish("sensors/kitchen/temp", []byte("21.5"), 1); err != nil {
		t.Fatalf("MQTT publish of an event: %v", err)
	}
	select {
	case s := <-seen:
		if s != "sensors.kitchen.temp" {
			t.Errorf("first message funcd saw from devices is on %q, want only the event", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the device's event never arrived: MQTT broken by the attempts above")
	}

	select {
	case m := <-got:
		t.Fatalf("an outside client received %q on %s", m.Data, m.Subject)
	default:
	}
	// The queue's streams and the MQTT bridge's are intact.
	if _, err := q.invoke.Info(ctx); err != nil {
		t.Errorf("invoke stream: %v", err)
	}
	if n := iv.count(); n != 1 {
		t.Errorf("the function ran %d times, want 1: something outside reached the queue", n)
	}
}

// TestOutsideLogins: wrong passwords, forged nkeys and funcd's own users
// over the network are refused; with no listener there is no outside user.
func TestOutsideLogins(t *testing.T) {
	fns := &fakeFunctions{}
	q := newQueue(t, t.TempDir(), &invoker{}, fns, func(c *Config) {
		c.NATSListen, c.Password = "127.0.0.1:0", "pw"
	})
	defer closeQueue(t, q)
	url := "nats://" + q.srv.ns.Addr().String()
	kp, _ := nkeys.CreateUser()
	other, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	for name, opts := range map[string][]nats.Option{
		"wrong password":           {nats.UserInfo(User, "wrong")},
		"no password":              {nats.UserInfo(User, "")},
		"unknown user":             {nats.UserInfo("admin", "pw")},
		"queue user over TCP":      {nats.UserInfo(internalUser, q.srv.auth.internalPass)},
		"events user over TCP":     {nats.UserInfo(eventsUser, q.srv.auth.internalPass)},
		"nkey signed by other key": {nats.UserInfo(User, "pw"), nats.Nkey(pub, other.Sign)},
	} {
		opts = append(opts, nats.MaxReconnects(0))
		if nc, err := nats.Connect(url, opts...); err == nil {
			nc.Close()
			t.Errorf("%s: connected", name)
		}
	}
}

// TestUpgradeKeepsQueuedInvocations: a store written before the queue
// had its own account (streams under "$G") is moved, and what was queued
// then still runs.
func TestUpgradeKeepsQueuedInvocations(t *testing.T) {
	dir := t.TempDir()
	ns, err := server.NewServer(&server.Options{DontListen: true, JetStream: true, StoreDir: dir, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("old-style server did not start")
	}
	nc, err := nats.Connect("", nats.InProcessServer(ns))
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: invokeStream, Subjects: []string{invokePrefix + "*.*"},
		Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	old := Job{CallID: "from-before", Function: "f", Namespace: "openfaas-fn", Method: http.MethodPost, Body: []byte("old")}
	data, err := old.encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, invokePrefix+"openfaas-fn.f", data); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	ns.Shutdown()
	ns.WaitForShutdown()

	fns := &fakeFunctions{}
	fns.set("f", nil)
	iv := &invoker{}
	q := newQueue(t, dir, iv, fns, nil)
	defer closeQueue(t, q)
	eventually(t, "the invocation queued before the upgrade", func() bool { return iv.count() == 1 })
	if _, err := os.Stat(filepath.Join(dir, "jetstream", "$G")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the old account's store is still there: %v", err)
	}
}
