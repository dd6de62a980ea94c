package trigger

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/robfig/cron/v3"

	"github.com/funcd/funcd/internal/api"
)

// CronTopic is the topic that runs a function on the schedule in its
// api.AnnotationSchedule annotation.
const CronTopic = "cron-function"

// topic is one entry of a function's topic annotation other than CronTopic.
type topic struct {
	mqtt     bool     // written as an MQTT topic filter
	subjects []string // the NATS subjects that carry it
}

// errReserved rejects topics in the subject spaces of the queue and of NATS
// itself.
var errReserved = errors.New("reserved: subjects starting with funcd, $ or _INBOX belong to funcd and NATS")

// Validate checks a function's trigger annotations at deploy: every topic
// must be a NATS subject or an MQTT topic filter outside the reserved
// subjects, and a function on CronTopic needs a schedule that parses. The
// error names the annotation and the value at fault.
func Validate(annotations map[string]string) error {
	onCron, _, err := parseTopics(annotations[api.AnnotationTopic])
	if err != nil {
		return fmt.Errorf("annotation %s: %w", api.AnnotationTopic, err)
	}
	if spec, ok := annotations[api.AnnotationSchedule]; ok || onCron {
		return checkSchedule(spec, ok)
	}
	return nil
}

// checkSchedule checks the schedule annotation of a function on CronTopic;
// has says whether the function has one.
func checkSchedule(spec string, has bool) error {
	if !has {
		return fmt.Errorf("annotation %s: required with topic %s", api.AnnotationSchedule, CronTopic)
	}
	if _, err := parseSchedule(spec); err != nil {
		return fmt.Errorf("annotation %s: %q: %w", api.AnnotationSchedule, spec, err)
	}
	return nil
}

// parseTopics reads a topic annotation: a comma-separated list, entries
// trimmed, empty ones skipped. onCron reports whether it names CronTopic.
// Valid entries are returned even when others are not; the error lists the
// bad ones.
func parseTopics(s string) (onCron bool, topics []topic, err error) {
	var bad []string
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		switch f {
		case "":
			continue
		case CronTopic:
			onCron = true
			continue
		}
		tp, err := parseTopic(f)
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		topics = append(topics, tp)
	}
	if len(bad) > 0 {
		err = errors.New(strings.Join(bad, "; "))
	}
	return onCron, topics, err
}

// parseTopic classifies one topic: with '/', '+' or '#' it is an MQTT topic
// filter, otherwise a NATS subject.
func parseTopic(s string) (topic, error) {
	if strings.ContainsAny(s, "/+#") {
		subjects, err := mqttSubjects(s)
		if err != nil {
			return topic{}, fmt.Errorf("MQTT topic %q: %w", s, err)
		}
		return topic{mqtt: true, subjects: subjects}, nil
	}
	if err := checkSubject(s); err != nil {
		return topic{}, fmt.Errorf("NATS subject %q: %w", s, err)
	}
	return topic{subjects: []string{s}}, nil
}

// checkSubject accepts a NATS subject a function may subscribe to.
func checkSubject(s string) error {
	if strings.IndexFunc(s, badRune) >= 0 {
		return errors.New("spaces and control characters are not allowed")
	}
	tokens := strings.Split(s, ".")
	for i, tok := range tokens {
		switch {
		case tok == "":
			return errors.New("empty token: a subject may not start or end with '.' or contain '..'")
		case tok == ">" && i < len(tokens)-1:
			return errors.New("'>' must be the last token")
		case tok != "*" && tok != ">" && strings.ContainsAny(tok, "*>"):
			return fmt.Errorf("token %q: the wildcards '*' and '>' must stand alone", tok)
		}
	}
	if reserved(s) {
		return errReserved
	}
	return nil
}

// mqttSubjects converts an MQTT topic filter to the NATS subjects that
// nats-server's MQTT bridge delivers it on: levels become tokens, '+'
// becomes '*', '#' becomes '>' and a '.' inside a level becomes "//".
// Since MQTT's "a/#" also matches "a" itself and NATS's "a.>" does not, such
// a filter gives two subjects, "a" and "a.>", as the bridge does.
//
// The bridge also maps empty levels (a leading, trailing or doubled '/')
// to tokens of its own; those rarely mean what their writer thinks, so
// they are refused here instead.
func mqttSubjects(filter string) ([]string, error) {
	if strings.IndexFunc(filter, badRune) >= 0 {
		return nil, errors.New("spaces and control characters are not allowed")
	}
	levels := strings.Split(filter, "/")
	tokens := make([]string, len(levels))
	for i, l := range levels {
		switch {
		case l == "":
			return nil, errors.New("empty level: a topic may not start or end with '/' or contain '//'")
		case l == "#" && i < len(levels)-1:
			return nil, errors.New("'#' must be the last level")
		case l == "#":
			tokens[i] = ">"
		case l == "+":
			tokens[i] = "*"
		case strings.ContainsAny(l, "+#"):
			return nil, fmt.Errorf("level %q: the wildcards '+' and '#' must stand alone", l)
		case strings.ContainsAny(l, "*>"):
			return nil, fmt.Errorf("level %q: '*' and '>' are NATS wildcards and cannot be used in an MQTT topic", l)
		default:
			tokens[i] = strings.ReplaceAll(l, ".", "//")
		}
	}
	subject := strings.Join(tokens, ".")
	if reserved(subject) {
		return nil, errReserved
	}
	if n := len(tokens); n > 1 && tokens[n-1] == ">" {
		return []string{strings.Join(tokens[:n-1], "."), subject}, nil
	}
	return []string{subject}, nil
}

// mqttTopic turns the subject of a message back into the MQTT topic it was
// (or would have been) published on, undoing the bridge's mapping: '.'
// separates levels, "//" is a '.' inside a level, "/." and a lone '/' mark
// empty levels.
func mqttTopic(subject string) string {
	if !strings.ContainsAny(subject, "./") {
		return subject
	}
	var b strings.Builder
	b.Grow(len(subject))
	for i := 0; i < len(subject); i++ {
		switch c := subject[i]; c {
		case '.':
			b.WriteByte('/')
		case '/':
			if i+1 < len(subject) {
				switch subject[i+1] {
				case '/':
					b.WriteByte('.')
					i++
				case '.':
					b.WriteByte('/')
					i++
				}
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// reserved reports whether a subject belongs to the queue (funcd.…) or to
// NATS itself ($JS, $MQTT, $SYS…, _INBOX…). Functions may not subscribe to
// such subjects, and messages on them are never delivered to functions,
// even through a bare wildcard.
// inboxPrefix starts the only reply subjects funcd answers.
const inboxPrefix = "_INBOX."

func reserved(subject string) bool {
	first, _, _ := strings.Cut(subject, ".")
	return first == "funcd" || strings.HasPrefix(first, "$") || strings.HasPrefix(first, "_INBOX")
}

func badRune(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }

// scheduleParser reads standard 5-field cron specs, 6 fields with a leading
// seconds field, descriptors (@hourly, @every 90s) and an optional
// CRON_TZ=Zone prefix. Specs without a zone are in time.Local.
var scheduleParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour |
	cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// parseSchedule parses a schedule annotation.
func parseSchedule(spec string) (cron.Schedule, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("empty schedule")
	}
	// The parser panics on a zone prefix with nothing after it.
	if (strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=")) && !strings.Contains(spec, " ") {
		return nil, errors.New("a time zone must be followed by a schedule")
	}
	s, err := scheduleParser.Parse(spec)
	if err != nil {
		return nil, err
	}
	if s.Next(time.Now()).IsZero() {
		return nil, errors.New("the schedule never fires")
	}
	return s, nil
}
