package trigger

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/funcd/funcd/internal/queue"
)

// mqttPublish connects to an MQTT server as a 3.1.1 client, publishes one
// message at QoS 0 and disconnects.
func mqttPublish(t *testing.T, addr, topic string, payload []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	send := func(kind byte, body []byte) {
		pkt := []byte{kind}
		for n := len(body); ; n >>= 7 { // remaining length, 7 bits a byte
			if n < 0x80 {
				pkt = append(pkt, byte(n))
				break
			}
			pkt = append(pkt, byte(n&0x7f|0x80))
		}
		if _, err := c.Write(append(pkt, body...)); err != nil {
			t.Fatal(err)
		}
	}
	str := func(s string) []byte { return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...) }

	// CONNECT: protocol name, level 4, clean session, keep-alive 30s, client id.
	connect := append(str("MQTT"), 4, 0x02, 0, 30)
	send(0x10, append(connect, str("funcd-test")...))
	ack := make([]byte, 4)
	if _, err := io.ReadFull(c, ack); err != nil {
		t.Fatalf("read CONNACK: %v", err)
	}
	if ack[0] != 0x20 || ack[3] != 0 {
		t.Fatalf("CONNACK % x, want 20 02 00 00", ack)
	}
	send(0x30, append(str(topic), payload...)) // PUBLISH, QoS 0
	send(0xe0, nil)                            // DISCONNECT
}

func TestMQTT(t *testing.T) {
	h := newHarness(t)
	h.fns.set(
		fn("sensor", "topic", "sensors/+/temp"),
		fn("nats", "topic", "sensors.kitchen.temp"),
		fn("home", "topic", "home/#"),
		fn("dotted", "topic", "dev/v1.2/+"),
	)
	h.start()
	h.waitSubs(5) // sensors.*.temp, sensors.kitchen.temp, home, home.>, dev.v1//2.*

	tests := []struct {
		publish string
		want    map[string]string // function → X-Topic
	}{
		{"sensors/kitchen/temp", map[string]string{"sensor": "sensors/kitchen/temp", "nats": "sensors.kitchen.temp"}},
		{"home", map[string]string{"home": "home"}},
		{"home/hall/light", map[string]string{"home": "home/hall/light"}},
		{"dev/v1.2/x", map[string]string{"dotted": "dev/v1.2/x"}},
	}
	for _, tt := range tests {
		before := len(h.queue.Jobs())
		mqttPublish(t, h.mqttAddr, tt.publish, []byte("21.5"))
		jobs := h.queue.waitJobs(t, before+len(tt.want))[before:]
		got := map[string]string{}
		for _, j := range jobs {
			got[j.Function] = j.Header.Get("X-Topic")
			wantSource, wantConnector := queue.SourceMQTT, "funcd-mqtt"
			if j.Function == "nats" {
				wantSource, wantConnector = queue.SourceNATS, "funcd-nats"
			}
			if j.Source != wantSource || j.Header.Get("X-Connector") != wantConnector ||
				j.Method != http.MethodPost || string(j.Body) != "21.5" {
				t.Errorf("publish %s: job %+v, want a POST of 21.5 from %s", tt.publish, j, wantSource)
			}
			if len(j.Header) != 3 { // X-Topic, X-Connector, Content-Type; no Nmqtt-*
				t.Errorf("publish %s: header %v, want only X-Topic, X-Connector, Content-Type", tt.publish, j.Header)
			}
		}
		if len(got) != len(tt.want) {
			t.Errorf("publish %s: jobs for %v, want %v", tt.publish, got, tt.want)
		}
		for f, topic := range tt.want {
			if got[f] != topic {
				t.Errorf("publish %s: %s got X-Topic %q, want %q", tt.publish, f, got[f], topic)
			}
		}
	}
	if got := h.counter("funcd_trigger_invocations_total", "mqtt"); got != 4 {
		t.Errorf("funcd_trigger_invocations_total{trigger=mqtt} = %v, want 4", got)
	}
}
