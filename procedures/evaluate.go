package procedures

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/mahavishnu/mahavishnu/activities"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/workflows"
)

// evaluate checks one expectation against what happened.
func evaluate(e *Expect, o *runObs) Check {
	c := Check{Kind: e.Kind()}
	if o.input == nil && e.Opened == nil {
		c.Name = e.Kind()
		c.Expected, c.Happened = e.Kind(), "no incident was opened"
		if w := e.when(); w != nil && w.Never {
			c.Passed, c.Expected = true, "no "+e.Kind()
		}
		return c
	}
	var what string
	var occ []occurrence
	var w *When
	switch {
	case e.Opened != nil:
		x := e.Opened
		what, w = "incident", &x.When
		what += attrs("type", x.Type, "severity", x.Severity, "rule", x.Rule, "source", x.Source)
		if o.input != nil {
			in := o.input
			occ = append(occ, occurrence{at: o.detectedAt.Sub(o.start),
				desc: fmt.Sprintf("%s %s incident (rule %s, source %s)", in.Severity, in.IncidentType, in.RuleID, in.Source),
				miss: differs("type", x.Type, in.IncidentType, "severity", x.Severity, string(in.Severity),
					"rule", x.Rule, in.RuleID, "source", x.Source, in.Source)})
		}
	case e.Stage != nil:
		what, w = "stage "+e.Stage.Name, &e.Stage.When
		for _, s := range stageNames {
			if at, ok := o.stages[s]; ok {
				miss := ""
				if s != e.Stage.Name {
					miss = "another stage"
				}
				occ = append(occ, occurrence{at: at.Sub(o.detectedAt), desc: "stage " + s, miss: miss})
			}
		}
		slices.SortFunc(occ, func(a, b occurrence) int { return int(a.at - b.at) })
	case e.Acknowledged != nil:
		what, w = "acknowledgement"+attrs("by", e.Acknowledged.By), &e.Acknowledged.When
		if inc := o.final; inc.AcknowledgedAt != nil {
			occ = append(occ, occurrence{at: inc.AcknowledgedAt.Sub(o.detectedAt), desc: "acknowledged by " + inc.AcknowledgedBy,
				miss: differs("by", e.Acknowledged.By, inc.AcknowledgedBy)})
		}
	case e.Resolved != nil:
		what, w = "resolution"+attrs("by", e.Resolved.By), &e.Resolved.When
		if inc := o.final; inc.ResolvedAt != nil {
			occ = append(occ, occurrence{at: inc.ResolvedAt.Sub(o.detectedAt), desc: "resolved by " + inc.ResolvedBy,
				miss: differs("by", e.Resolved.By, inc.ResolvedBy)})
		}
	case e.Escalated != nil:
		x := e.Escalated
		level := *x.Level
		what, w = fmt.Sprintf("escalation to level %d", level), &x.When
		what += attrs("name", x.Name, "channels", strings.Join(x.Channels, ", "), "targets", strings.Join(x.Targets, ", "))
		if x.Paged != nil {
			what += " paging " + orNobody(x.Paged)
		}
		for _, esc := range o.escalations() {
			miss := ""
			switch {
			case esc.level != level:
				miss = fmt.Sprintf("level %d, not %d", esc.level, level)
			case x.Name != "" && !strings.EqualFold(x.Name, esc.name):
				miss = fmt.Sprintf("name %s, not %s", orNone(esc.name), x.Name)
			case len(missing(x.Channels, esc.channels)) > 0:
				miss = "not sent to " + strings.Join(missing(x.Channels, esc.channels), ", ")
			case len(missing(x.Targets, esc.targets)) > 0:
				miss = strings.Join(missing(x.Targets, esc.targets), ", ") + " not paged"
			case x.Paged != nil && !sameSet(x.Paged, esc.paged):
				miss = "paged " + orNobody(esc.paged) + ", not " + orNobody(x.Paged)
			}
			occ = append(occ, occurrence{at: esc.at.Sub(o.detectedAt), desc: esc.describe(), miss: miss})
		}
	case e.ApprovalRequested != nil:
		x := e.ApprovalRequested
		what, w = "approval request for "+x.Action, &x.When
		for _, ap := range o.approvals {
			occ = append(occ, occurrence{at: ap.RequestedAt.Sub(o.detectedAt), desc: "approval of " + ap.Action + " requested",
				miss: differs("action", x.Action, ap.Action)})
		}
	case e.ApprovalExpired != nil:
		x := e.ApprovalExpired
		what, w = "expired approval of "+x.Action, &x.When
		for _, ap := range o.approvals {
			desc := fmt.Sprintf("approval of %s %s", ap.Action, ap.Status)
			if ap.By != "" && ap.By != workflows.SystemActor {
				desc += " by " + ap.By
			}
			if ap.Reason != "" && ap.Status == schemas.ApprovalExpired {
				desc += " (" + ap.Reason + ")"
			}
			at := ap.At
			if ap.Status == schemas.ApprovalPending {
				at = ap.RequestedAt
			}
			occ = append(occ, occurrence{at: at.Sub(o.detectedAt), desc: desc,
				miss: differs("action", x.Action, ap.Action, "status", schemas.ApprovalExpired, ap.Status)})
		}
	case e.ActionRun != nil:
		x := e.ActionRun
		what, w = "run of "+x.Action, &x.When
		what += attrs("status", x.Status, "actor", x.Actor, "approved_by", x.ApprovedBy)
		for _, a := range o.actions {
			status := a.record.Status
			if !a.done {
				status = "unfinished"
			}
			desc := fmt.Sprintf("%s %s by %s", a.in.Action, status, a.in.Actor)
			if a.in.ApprovedBy != "" {
				desc += " approved by " + a.in.ApprovedBy
			}
			occ = append(occ, occurrence{at: a.at.Sub(o.detectedAt), desc: desc,
				miss: differs("action", x.Action, a.in.Action, "status", x.Status, status, "actor", x.Actor, a.in.Actor,
					"approved_by", x.ApprovedBy, a.in.ApprovedBy)})
		}
	case e.Notified != nil:
		x := e.Notified
		what, w = "notification"+attrs("kind", x.Kind)+" sent to "+x.Channel, &x.When
		if x.Contains != "" {
			what += fmt.Sprintf(" containing %q", x.Contains)
		}
		for _, n := range o.notes {
			for _, ch := range n.channels() {
				miss := differs("channel", x.Channel, ch.name, "kind", x.Kind, n.in.Kind)
				if miss == "" && ch.outcome != "sent" {
					miss = ch.outcome
				}
				if miss == "" && x.Contains != "" && !strings.Contains(strings.ToLower(n.in.Text), strings.ToLower(x.Contains)) {
					miss = fmt.Sprintf("text %q", n.in.Text)
				}
				desc := fmt.Sprintf("%s to %s", n.in.Kind, ch.name)
				if ch.outcome != "sent" {
					desc += " (" + ch.outcome + ")"
				}
				occ = append(occ, occurrence{at: n.in.At.Sub(o.detectedAt), desc: desc, miss: miss})
			}
		}
	case e.PostMortem != nil:
		return postMortemCheck(e.PostMortem, o)
	case e.MTTA != nil:
		return metricCheck("mtta", "MTTA", e.MTTA, o.final.MTTASeconds)
	case e.MTTR != nil:
		return metricCheck("mttr", "MTTR", e.MTTR, o.final.MTTRSeconds)
	}
	c.Name = what
	c.Passed, c.Expected, c.Happened = judge(w, what, occ)
	if !c.Passed && o.input == nil {
		c.Happened = "no incident was opened"
	}
	return c
}

// attrs writes " (type error_burst, severity high)" for the attributes given.
func attrs(pairs ...string) string {
	var parts []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			parts = append(parts, pairs[i]+" "+pairs[i+1])
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

type escalation struct {
	at       time.Time
	level    int
	name     string
	channels []string
	targets  []string
	paged    []string
	last     bool
}

// rePaged reads a "paged" timeline entry: "paged bob at level 1 (secondary) via ...".
var reOpeningPage = regexp.MustCompile(`^paging level 0 \(([^)]*)\) for the new incident`)

var rePaged = regexp.MustCompile(`^paged (\S+) at level (\d+) `)

// orNobody lists people, or says nobody.
func orNobody(people []string) string {
	if len(people) == 0 {
		return "nobody"
	}
	return strings.Join(people, ", ")
}

// sameSet says whether a and b hold the same names (case-insensitive), in any order.
func sameSet(a, b []string) bool {
	return len(missing(a, b)) == 0 && len(missing(b, a)) == 0
}

func (e escalation) describe() string {
	if e.last {
		return fmt.Sprintf("escalation with no further level (stayed at level %d)", e.level)
	}
	s := fmt.Sprintf("level %d", e.level)
	if e.name != "" {
		s += " (" + e.name + ")"
	}
	if len(e.channels) > 0 {
		s += " via " + strings.Join(e.channels, ", ")
	}
	if len(e.targets) > 0 {
		s += " to " + strings.Join(e.targets, ", ")
	}
	if len(e.paged) > 0 {
		s += " paging " + strings.Join(e.paged, ", ")
	}
	return s
}

// escalations pairs each escalation the workflow recorded with its notification.
func (o *observed) escalations() []escalation {
	var out []escalation
	prev := 0
	for _, s := range o.syncs {
		for _, e := range s.entries {
			if e.Kind != schemas.TimelineEscalated {
				continue
			}
			esc := escalation{at: e.At, level: s.incident.EscalationLevel, name: s.incident.EscalationName,
				last: s.incident.EscalationLevel == prev}
			prev = s.incident.EscalationLevel
			// Level 0 paged when the incident opened (issue 11) is no "no further level".
			if m := reOpeningPage.FindStringSubmatch(e.Message); m != nil && strings.HasPrefix(e.Key, schemas.TimelineEscalated+"/opening/") {
				esc.level, esc.name, esc.last = 0, m[1], false
			}
			for _, p := range s.entries {
				if m := rePaged.FindStringSubmatch(p.Message); p.Kind == schemas.TimelinePaged && m != nil {
					esc.paged = append(esc.paged, m[1])
				}
			}
			for _, n := range o.notes {
				if n.in.Kind == activities.NotifyEscalated && n.in.At.Equal(e.At) {
					esc.targets = n.in.Targets
					for _, ch := range n.channels() {
						if ch.outcome == "sent" {
							esc.channels = append(esc.channels, ch.name)
						}
					}
				}
			}
			out = append(out, esc)
		}
	}
	return out
}

type channelOutcome struct{ name, outcome string }

// channels says what became of the notification on each channel it was routed to.
func (n notifyObs) channels() []channelOutcome {
	var out []channelOutcome
	for _, ch := range n.result.Sent {
		out = append(out, channelOutcome{ch, "sent"})
	}
	for _, ch := range n.result.Suppressed {
		out = append(out, channelOutcome{ch, "suppressed by the throttle"})
	}
	for _, ch := range n.result.Failed {
		out = append(out, channelOutcome{ch, "failed"})
	}
	return out
}

var heading = regexp.MustCompile(`(?m)^##\s+(.+?)\s*$`)

func postMortemCheck(x *PostMortemExpect, o *runObs) Check {
	c := Check{Kind: "postmortem", Name: "post-mortem written"}
	var want []string
	if len(x.Sections) > 0 {
		want = append(want, "sections "+strings.Join(x.Sections, ", "))
	}
	for _, s := range x.Contains {
		want = append(want, fmt.Sprintf("containing %q", s))
	}
	c.Expected = "post-mortem with " + strings.Join(want, " and ")
	if o.postMortem == "" {
		c.Happened = "no post-mortem was written (the incident was not resolved)"
		return c
	}
	var have []string
	for _, m := range heading.FindAllStringSubmatch(o.postMortem, -1) {
		have = append(have, m[1])
	}
	var problems []string
	if miss := missing(x.Sections, have); len(miss) > 0 {
		problems = append(problems, "missing sections "+strings.Join(miss, ", ")+" (has "+strings.Join(have, ", ")+")")
	}
	for _, s := range x.Contains {
		if !strings.Contains(strings.ToLower(o.postMortem), strings.ToLower(s)) {
			problems = append(problems, fmt.Sprintf("no %q in it", s))
		}
	}
	if len(problems) > 0 {
		c.Happened = strings.Join(problems, "; ")
		return c
	}
	c.Passed, c.Happened = true, "post-mortem with sections "+strings.Join(have, ", ")
	return c
}

func metricCheck(kind, label string, x *MetricExpect, secs *float64) Check {
	c := Check{Kind: kind}
	var want []string
	if x.Equals != nil {
		want = append(want, "= "+trimPlus(x.Equals))
	}
	if x.Min != nil {
		want = append(want, ">= "+trimPlus(x.Min))
	}
	if x.Max != nil {
		want = append(want, "<= "+trimPlus(x.Max))
	}
	c.Name = label + " " + strings.Join(want, " and ")
	c.Expected = c.Name
	if secs == nil {
		c.Happened = label + " unknown: the incident was never " + map[string]string{"mtta": "acknowledged", "mttr": "resolved"}[kind]
		return c
	}
	got := time.Duration(*secs * float64(time.Second)).Round(time.Millisecond)
	c.Happened = label + " " + strings.TrimPrefix(FormatOffset(got), "+")
	c.Passed = (x.Equals == nil || absDur(got-x.Equals.D()) <= time.Second) &&
		(x.Min == nil || got >= x.Min.D()) && (x.Max == nil || got <= x.Max.D())
	return c
}

func trimPlus(d *Duration) string { return strings.TrimPrefix(d.String(), "+") }

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
