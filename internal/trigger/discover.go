package trigger

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/funcd/funcd/internal/api"
)

// function names one function.
type function struct{ name, namespace string }

func (f function) String() string { return f.name + "." + f.namespace }

func compareFunctions(a, b function) int {
	return cmp.Or(cmp.Compare(a.namespace, b.namespace), cmp.Compare(a.name, b.name))
}

// target is a function subscribed to a subject.
type target struct {
	fn   function
	mqtt bool // its topic was written as an MQTT topic filter
}

// plan is what the function list asks for.
type plan struct {
	subjects  map[string][]target // each sorted by namespace, then name
	schedules map[function]string // cron specs
}

// reconcile reads the function list and brings subscriptions and
// schedules in line with it. When nothing changed it makes no NATS call
// and touches no schedule. A subscription that fails is logged and tried
// again on the next poll.
func (t *Triggers) reconcile(ctx context.Context) {
	p := t.plan()
	for subject, s := range t.subs {
		if _, ok := p.subjects[subject]; !ok {
			t.unsubscribe(s)
			delete(t.subs, subject)
		}
	}
	for subject, targets := range p.subjects {
		if s, ok := t.subs[subject]; ok {
			if !slices.Equal(*s.targets.Load(), targets) {
				s.targets.Store(&targets)
			}
			continue
		}
		s, err := t.subscribe(ctx, subject, targets)
		if err != nil {
			t.log.Error("subscribe", "subject", subject, "err", err)
			continue
		}
		t.subs[subject] = s
	}

	for fn, c := range t.crons {
		if p.schedules[fn] != c.spec {
			c.stop()
			delete(t.crons, fn)
		}
	}
	for fn, spec := range p.schedules {
		if _, ok := t.crons[fn]; ok {
			continue
		}
		sched, err := parseSchedule(spec)
		if err != nil {
			continue // plan logged it
		}
		t.crons[fn] = t.startCron(ctx, fn, spec, sched)
	}
}

// plan reads every namespace's functions. A function whose annotations are
// bad (Validate refuses them at deploy, but they may predate it) keeps
// what is valid; the rest is logged once per annotation value.
func (t *Triggers) plan() plan {
	p := plan{subjects: map[string][]target{}, schedules: map[function]string{}}
	warned := make(map[function]string, len(t.warned))
	for _, ns := range t.functions.Namespaces() {
		for _, st := range t.functions.List(ns) {
			fn := function{name: st.Name, namespace: cmp.Or(st.Namespace, ns, api.DefaultNamespace)}
			if err := t.add(&p, fn, st.Annotations); err != nil {
				key := st.Annotations[api.AnnotationTopic] + "\x00" + st.Annotations[api.AnnotationSchedule]
				if t.warned[fn] != key {
					t.log.Warn("bad trigger annotations; skipping what is wrong", "function", fn.String(), "err", err)
				}
				warned[fn] = key
			}
		}
	}
	for subject, targets := range p.subjects {
		slices.SortStableFunc(targets, func(a, b target) int { return compareFunctions(a.fn, b.fn) })
		p.subjects[subject] = slices.CompactFunc(targets, func(a, b target) bool { return a.fn == b.fn })
	}
	t.warned = warned
	return p
}

// add puts a function's topics and schedule into p.
func (t *Triggers) add(p *plan, fn function, annotations map[string]string) error {
	topics, ok := annotations[api.AnnotationTopic]
	if !ok {
		return nil
	}
	onCron, parsed, err := parseTopics(topics)
	if err != nil {
		err = fmt.Errorf("annotation %s: %w", api.AnnotationTopic, err)
	}
	for _, tp := range parsed {
		for _, subject := range tp.subjects {
			p.subjects[subject] = append(p.subjects[subject], target{fn: fn, mqtt: tp.mqtt})
		}
	}
	if !onCron {
		return err
	}
	spec, hasSpec := annotations[api.AnnotationSchedule]
	if c, ok := t.crons[fn]; ok && c.spec == spec {
		p.schedules[fn] = spec // running, hence valid
	} else if serr := checkSchedule(spec, hasSpec); serr != nil {
		err = errors.Join(err, serr)
	} else {
		p.schedules[fn] = spec
	}
	return err
}
