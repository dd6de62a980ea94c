package trigger

import (
	"net/http"
	"testing"

	"github.com/funcd/funcd/internal/mqtttest"
	"github.com/funcd/funcd/internal/queue"
)

// mqttPublish connects to an MQTT server as a 3.1.1 client, publishes one
// message at QoS 0 and disconnects.
func mqttPublish(t *testing.T, addr, topic string, payload []byte) {
	t.Helper()
	c, err := mqtttest.Dial(addr, "funcd-test", "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Publish(topic, payload, 0); err != nil {
		t.Fatal(err)
	}
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
