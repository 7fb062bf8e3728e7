package procedures

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/mahavishnu/mahavishnu/oncall"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/workflows"
)

// Recorded is what a real incident left in the store, the input of Record.
type Recorded struct {
	Incident schemas.Incident
	// Events are the incident's attached events, in any order.
	Events   []schemas.Event
	Timeline []schemas.TimelineEntry
	// PostMortem is the stored post-mortem (empty when none).
	PostMortem string
	// People and Schedules are the on-call directory and schedules as stored now; when the
	// incident paged people they become the scenario's oncall section, so the recorded
	// paged expectations can be met.
	People    []oncall.Person
	Schedules []oncall.Schedule
}

// Pages says whether a timeline paged people (issue 11), so Record needs the directory
// and schedules.
func Pages(timeline []schemas.TimelineEntry) bool {
	return slices.ContainsFunc(timeline, func(e schemas.TimelineEntry) bool { return e.Kind == schemas.TimelinePaged })
}

// onCallSpec writes the stored directory and schedules as a scenario's oncall section.
func onCallSpec(people []oncall.Person, schedules []oncall.Schedule) *OnCallSpec {
	if len(people) == 0 && len(schedules) == 0 {
		return nil
	}
	o := &OnCallSpec{}
	for _, p := range people {
		o.People = append(o.People, PersonSpec{Name: p.Name, Email: p.Email, SlackUser: p.SlackUser,
			ChatHandle: p.ChatHandle, Phone: p.Phone, TimeZone: p.TimeZone, Role: string(p.Role)})
	}
	for _, sc := range schedules {
		spec := ScheduleSpec{Name: sc.Name}
		for _, l := range sc.Layers {
			spec.Layers = append(spec.Layers, LayerSpec{People: l.People, Rotation: l.Rotation, Every: l.Every,
				Handoff: l.Handoff, TimeZone: l.TimeZone, Start: l.Start.UTC()})
		}
		// The oncall section's later overrides win, as the latest created does in the store.
		ovs := slices.Clone(sc.Overrides)
		slices.SortStableFunc(ovs, func(a, b oncall.Override) int { return a.CreatedAt.Compare(b.CreatedAt) })
		for _, ov := range ovs {
			spec.Overrides = append(spec.Overrides, OverrideSpec{Layer: ov.Layer, Person: ov.Person, From: ov.From.UTC(), To: ov.To.UTC()})
		}
		o.Schedules = append(o.Schedules, spec)
	}
	return o
}

// RecordSlack is added to every observed time a recorded expectation bounds: a real run
// has a little latency the time-skipping run has not.
const RecordSlack = time.Minute

var (
	reEscalated = regexp.MustCompile(`escalated to level (\d+) \(([^)]*)\)`)
	reApproval  = regexp.MustCompile(`^approval needed to run (\S+):`)
	reExpired   = regexp.MustCompile(`^approval request for (\S+) expired`)
	reNotified  = regexp.MustCompile(`^(\S+) notification sent to (\S+)$`)
	reAssigned  = regexp.MustCompile(`(?:^assigned to |^reassigned from .* to )(.+)$`)
)

// Record turns a real incident into a scenario: its events at their relative times, the
// responders' actions from its timeline, and what was observed as expectations (times
// bounded by what happened plus RecordSlack). The scenario runs with the user's current
// configuration: that is the point of a regression test.
func Record(r Recorded) (*Scenario, error) {
	inc := r.Incident
	if len(r.Events) == 0 {
		return nil, fmt.Errorf("incident %s has no stored events to replay (the event history may have been pruned by retention)", inc.IncidentID)
	}
	events := slices.Clone(r.Events)
	slices.SortStableFunc(events, func(a, b schemas.Event) int { return a.Timestamp.Compare(b.Timestamp) })
	start := events[0].Timestamp.UTC()
	sc := &Scenario{
		Name: fmt.Sprintf("recorded %s: %s", inc.IncidentID, inc.Title),
		Description: fmt.Sprintf("Recorded from incident %s (%s, detected %s) with `mahavishnu procedures record`.",
			inc.IncidentID, inc.IncidentType, inc.DetectedAt.UTC().Format(time.RFC3339)),
		Start: start,
	}
	if Pages(r.Timeline) {
		sc.OnCall = onCallSpec(r.People, r.Schedules)
	}
	for _, ev := range events {
		spec := EventSpec{At: Duration(ev.Timestamp.Sub(start)), EventType: ev.EventType, Source: ev.Source,
			Severity: string(ev.Severity), Message: ev.Message, CorrelationID: ev.CorrelationID, Metadata: ev.Metadata}
		if ev.Component != ev.Source {
			spec.Component = ev.Component
		}
		sc.Events = append(sc.Events, spec)
	}
	bound := func(at time.Time) *Duration {
		d := Duration(roundUp(max(at.Sub(inc.DetectedAt), 0)) + RecordSlack)
		return &d
	}
	from := func(at time.Time) *Duration {
		d := Duration(max(at.Sub(inc.DetectedAt)-RecordSlack, 0).Truncate(time.Second))
		return &d
	}
	// A step goes when it happened, to the millisecond: rounding could move it before
	// what the responder answered (an approval request), or past the next step.
	offset := func(at time.Time) Duration {
		return Duration(max(at.Sub(inc.DetectedAt), time.Millisecond).Truncate(time.Millisecond))
	}

	severity := inc.Severity
	stages := map[string]bool{}
	notified := map[string]bool{}
	// The people paged at each escalation: "paged" entries written with it, at its time.
	type pageKey struct {
		at    int64
		level string
	}
	paged := map[pageKey][]string{}
	for _, e := range r.Timeline {
		if m := rePaged.FindStringSubmatch(e.Message); e.Kind == schemas.TimelinePaged && m != nil {
			k := pageKey{e.At.UnixNano(), m[2]}
			if !slices.Contains(paged[k], m[1]) {
				paged[k] = append(paged[k], m[1])
			}
		}
	}
	var expect []Expect
	for _, e := range r.Timeline {
		switch e.Kind {
		case schemas.TimelineDetected:
			if f := strings.Fields(e.Message); len(f) > 0 {
				if sev, err := schemas.ParseSeverity(f[0]); err == nil {
					severity = sev
				}
			}
		case schemas.TimelineStageStarted:
			name := strings.TrimSuffix(strings.TrimPrefix(e.Key, "stage/"), "/started")
			if slices.Contains(stageNames, name) && !stages[name] {
				stages[name] = true
				expect = append(expect, Expect{Stage: &StageExpect{Name: name, When: When{Within: bound(e.At)}}})
			}
		case schemas.TimelineAcknowledged:
			sc.Responders = append(sc.Responders, Step{At: offset(e.At), Acknowledge: &AcknowledgeStep{By: e.Actor}})
			expect = append(expect, Expect{Acknowledged: &PersonExpect{By: e.Actor, When: When{Within: bound(e.At)}}})
		case schemas.TimelineAssigned:
			if m := reAssigned.FindStringSubmatch(e.Message); m != nil {
				sc.Responders = append(sc.Responders, Step{At: offset(e.At), Assign: &AssignStep{To: m[1], By: e.Actor}})
			}
		case schemas.TimelineApproved:
			action := strings.TrimSuffix(e.Message, " approved by "+e.Actor)
			if action != e.Message {
				sc.Responders = append(sc.Responders, Step{At: offset(e.At), Approve: &DecisionStep{Action: action, By: e.Actor}})
			}
		case schemas.TimelineRejected:
			if action, rest, ok := strings.Cut(e.Message, " rejected by "); ok {
				reason := ""
				if _, r, ok := strings.Cut(rest, ": "); ok {
					reason = r
				}
				sc.Responders = append(sc.Responders, Step{At: offset(e.At), Reject: &DecisionStep{Action: action, By: e.Actor, Reason: reason}})
			}
		case schemas.TimelineResolved:
			if e.Actor != workflows.SystemActor {
				sc.Responders = append(sc.Responders, Step{At: offset(e.At), Resolve: &ResolveStep{By: e.Actor, Notes: inc.ResolutionNotes}})
			}
			expect = append(expect, Expect{Resolved: &PersonExpect{By: e.Actor, When: When{Within: bound(e.At)}}})
		case schemas.TimelineEscalated:
			if m := reEscalated.FindStringSubmatch(e.Message); m != nil {
				var level int
				fmt.Sscanf(m[1], "%d", &level)
				expect = append(expect, Expect{Escalated: &EscalatedExpect{Level: &level, Name: m[2],
					Paged: paged[pageKey{e.At.UnixNano(), m[1]}], When: When{After: from(e.At), Within: bound(e.At)}}})
			} else if m := reOpeningPage.FindStringSubmatch(e.Message); m != nil {
				level := 0
				expect = append(expect, Expect{Escalated: &EscalatedExpect{Level: &level, Name: m[1],
					Paged: paged[pageKey{e.At.UnixNano(), "0"}], When: When{Within: bound(e.At)}}})
			}
		case schemas.TimelineApprovalReq:
			if m := reApproval.FindStringSubmatch(e.Message); m != nil {
				expect = append(expect, Expect{ApprovalRequested: &ApprovalExpect{Action: m[1], When: When{Within: bound(e.At)}}})
			}
		case schemas.TimelineApprovalExp:
			if m := reExpired.FindStringSubmatch(e.Message); m != nil {
				expect = append(expect, Expect{ApprovalExpired: &ApprovalExpect{Action: m[1],
					When: When{After: from(e.At), Within: bound(e.At)}}})
			}
		case schemas.TimelineAction:
			if action := strings.Fields(e.Message); len(action) > 0 {
				expect = append(expect, Expect{ActionRun: &ActionExpect{Action: action[0], Actor: e.Actor, When: When{Within: bound(e.At)}}})
			}
		case schemas.TimelineNotified:
			if m := reNotified.FindStringSubmatch(e.Message); m != nil && !notified[m[1]+"/"+m[2]] {
				notified[m[1]+"/"+m[2]] = true
				expect = append(expect, Expect{Notified: &NotifiedExpect{Kind: m[1], Channel: m[2], When: When{Within: bound(e.At)}}})
			}
		}
	}
	opened := Expect{Opened: &OpenedExpect{Type: inc.IncidentType, Severity: string(severity), Rule: inc.RuleID, Source: inc.Source}}
	if first := inc.FirstEventAt; first != nil {
		d := Duration(roundUp(max(inc.DetectedAt.Sub(start), 0)) + RecordSlack)
		opened.Opened.Within = &d
	}
	sc.Expect = append([]Expect{opened}, expect...)
	if r.PostMortem != "" {
		var sections []string
		for _, m := range heading.FindAllStringSubmatch(r.PostMortem, -1) {
			sections = append(sections, m[1])
		}
		if len(sections) > 0 {
			sc.Expect = append(sc.Expect, Expect{PostMortem: &PostMortemExpect{Sections: sections}})
		}
	}
	if inc.MTTASeconds != nil {
		d := Duration(roundUp(time.Duration(*inc.MTTASeconds*float64(time.Second))) + RecordSlack)
		sc.Expect = append(sc.Expect, Expect{MTTA: &MetricExpect{Max: &d}})
	}
	if inc.MTTRSeconds != nil {
		d := Duration(roundUp(time.Duration(*inc.MTTRSeconds*float64(time.Second))) + RecordSlack)
		sc.Expect = append(sc.Expect, Expect{MTTR: &MetricExpect{Max: &d}})
	}
	if err := sc.validate(); err != nil {
		return nil, fmt.Errorf("recorded scenario of %s: %w", inc.IncidentID, err)
	}
	return sc, nil
}

// roundUp rounds up to the whole second.
func roundUp(d time.Duration) time.Duration {
	if t := d.Truncate(time.Second); t != d {
		return t + time.Second
	}
	return d
}
