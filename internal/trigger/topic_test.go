package trigger

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseTopic(t *testing.T) {
	tests := []struct {
		topic    string
		mqtt     bool
		subjects []string
		err      string // part of the error; "" for none
	}{
		{topic: "orders.created", subjects: []string{"orders.created"}},
		{topic: "orders", subjects: []string{"orders"}},
		{topic: "orders.*.eu", subjects: []string{"orders.*.eu"}},
		{topic: "orders.>", subjects: []string{"orders.>"}},
		{topic: ">", subjects: []string{">"}},
		{topic: "*", subjects: []string{"*"}},
		{topic: "funcdx.a", subjects: []string{"funcdx.a"}},
		{topic: "a.funcd", subjects: []string{"a.funcd"}},

		{topic: "sensors/kitchen/temp", mqtt: true, subjects: []string{"sensors.kitchen.temp"}},
		{topic: "sensors/+/temp", mqtt: true, subjects: []string{"sensors.*.temp"}},
		{topic: "home/#", mqtt: true, subjects: []string{"home", "home.>"}},
		{topic: "home/+/#", mqtt: true, subjects: []string{"home.*", "home.*.>"}},
		{topic: "#", mqtt: true, subjects: []string{">"}},
		{topic: "+", mqtt: true, subjects: []string{"*"}},
		{topic: "dev/v1.2/x", mqtt: true, subjects: []string{"dev.v1//2.x"}},
		{topic: "a/.b/c.", mqtt: true, subjects: []string{"a.//b.c//"}},

		{topic: "a..b", err: "empty token"},
		{topic: ".a", err: "empty token"},
		{topic: "a.", err: "empty token"},
		{topic: "a b", err: "spaces"},
		{topic: "a\x7fb", err: "control"},
		{topic: "a.>.b", err: "'>' must be the last token"},
		{topic: "a.b*", err: "must stand alone"},
		{topic: "a.>b", err: "must stand alone"},
		{topic: "funcd", err: "reserved"},
		{topic: "funcd.jobs.x", err: "reserved"},
		{topic: "$SYS.x", err: "reserved"},
		{topic: "$JS.API.>", err: "reserved"},
		{topic: "_INBOX.x", err: "reserved"},
		{topic: "_INBOX_custom.x", err: "reserved"},

		{topic: "/a", err: "empty level"},
		{topic: "a/", err: "empty level"},
		{topic: "a//b", err: "empty level"},
		{topic: "a/#/b", err: "'#' must be the last level"},
		{topic: "a/b#", err: "must stand alone"},
		{topic: "a/+b", err: "must stand alone"},
		{topic: "a/*", err: "NATS wildcards"},
		{topic: "a/>", err: "NATS wildcards"},
		{topic: "a/b c", err: "spaces"},
		{topic: "$SYS/broker", err: "reserved"},
		{topic: "funcd/x", err: "reserved"},
		{topic: "_INBOX/x", err: "reserved"},
	}
	for _, tt := range tests {
		t.Run(tt.topic, func(t *testing.T) {
			got, err := parseTopic(tt.topic)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("parseTopic(%q) = %+v, %v; want an error with %q", tt.topic, got, err, tt.err)
				}
				if !strings.Contains(err.Error(), strconv.Quote(tt.topic)) {
					t.Errorf("parseTopic(%q): error %q does not name the topic", tt.topic, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseTopic(%q): %v", tt.topic, err)
			}
			if got.mqtt != tt.mqtt || !slices.Equal(got.subjects, tt.subjects) {
				t.Errorf("parseTopic(%q) = %+v, want mqtt %v subjects %q", tt.topic, got, tt.mqtt, tt.subjects)
			}
		})
	}
}

func TestParseTopics(t *testing.T) {
	onCron, topics, err := parseTopics(" orders.created ,, cron-function,bad topic, a/b,")
	if !onCron {
		t.Errorf("onCron = false, want true")
	}
	var subjects []string
	for _, tp := range topics {
		subjects = append(subjects, tp.subjects...)
	}
	if want := []string{"orders.created", "a.b"}; !slices.Equal(subjects, want) {
		t.Errorf("subjects = %q, want %q", subjects, want)
	}
	if err == nil || !strings.Contains(err.Error(), `"bad topic"`) {
		t.Errorf("err = %v, want one naming \"bad topic\"", err)
	}
}

func TestMQTTTopic(t *testing.T) {
	tests := []struct{ subject, want string }{
		{"sensors.kitchen.temp", "sensors/kitchen/temp"},
		{"home", "home"},
		{"dev.v1//2.x", "dev/v1.2/x"},
		// Empty levels, as nats-server's MQTT bridge encodes them.
		{"/.a", "/a"},
		{"a./", "a/"},
		{"a./.b", "a//b"},
	}
	for _, tt := range tests {
		if got := mqttTopic(tt.subject); got != tt.want {
			t.Errorf("mqttTopic(%q) = %q, want %q", tt.subject, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name        string
		annotations map[string]string
		err         []string // parts of the error; none for no error
	}{
		{"none", nil, nil},
		{"unrelated", map[string]string{"com.openfaas.scale.min": "2"}, nil},
		{"subjects", map[string]string{"topic": "orders.created, sensors/+/temp"}, nil},
		{"five fields", map[string]string{"topic": "cron-function", "schedule": "*/5 * * * *"}, nil},
		{"six fields", map[string]string{"topic": "cron-function", "schedule": "*/10 * * * * *"}, nil},
		{"every", map[string]string{"topic": "cron-function", "schedule": "@every 90s"}, nil},
		{"hourly", map[string]string{"topic": "cron-function,orders", "schedule": "@hourly"}, nil},
		{"zone", map[string]string{"topic": "cron-function", "schedule": "CRON_TZ=UTC 0 9 * * 1-5"}, nil},

		{"bad topic", map[string]string{"topic": "a..b"}, []string{"annotation topic", `"a..b"`}},
		{"reserved", map[string]string{"topic": "funcd.jobs"}, []string{"annotation topic", "reserved"}},
		{"no schedule", map[string]string{"topic": "cron-function"}, []string{"annotation schedule", "required"}},
		{"bad schedule", map[string]string{"topic": "cron-function", "schedule": "61 * * * *"}, []string{"annotation schedule", `"61 * * * *"`}},
		{"empty schedule", map[string]string{"topic": "cron-function", "schedule": " "}, []string{"annotation schedule", "empty"}},
		{"zone only", map[string]string{"topic": "cron-function", "schedule": "TZ=UTC"}, []string{"annotation schedule", "time zone"}},
		{"never", map[string]string{"topic": "cron-function", "schedule": "0 0 30 2 *"}, []string{"annotation schedule", "never"}},
		{"bad schedule without cron topic", map[string]string{"schedule": "every day"}, []string{"annotation schedule"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.annotations)
			if len(tt.err) == 0 {
				if err != nil {
					t.Errorf("Validate(%v) = %v, want nil", tt.annotations, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate(%v) = nil, want an error with %q", tt.annotations, tt.err)
			}
			for _, part := range tt.err {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("Validate(%v) = %v, want an error with %q", tt.annotations, err, part)
				}
			}
		})
	}
}

// FuzzParseSchedule guards against the cron parser panicking on input
// that reaches it from a deploy request.
func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"* * * * *", "@every 1m", "TZ=UTC", "CRON_TZ=UTC 0 9 * * *", "1-2/0 * * * *"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) { _, _ = parseSchedule(spec) })
}

// FuzzValidateTopic: any topic annotation from a deploy request is
// accepted or refused with an error, never a panic.
func FuzzValidateTopic(f *testing.F) {
	for _, s := range []string{"orders.created", "sensors/+/temp", "a/#", "cron-function", "a..b", "$JS.x", "a/b.c", ">", "#", "+/+"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		_ = Validate(map[string]string{"topic": topic})
	})
}
