package activities

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// PostMortemData is everything a post-mortem is written from.
type PostMortemData struct {
	Incident    schemas.Incident
	Timeline    []schemas.TimelineEntry
	Actions     []schemas.ActionRecord
	Approvals   []schemas.Approval
	Events      []schemas.Event
	GeneratedAt time.Time
}

// postMortem writes and stores the incident's post-mortem.
func (a *Activities) postMortem(ctx context.Context, in StageInput) (StageResult, error) {
	id := in.Incident.IncidentID
	timeline, err := a.Store.Timeline(ctx, id)
	if err != nil {
		return StageResult{}, err
	}
	events, err := a.Store.ListEvents(ctx, store.EventFilter{IncidentID: id, Last: 10000})
	if err != nil {
		return StageResult{}, err
	}
	// The detector keeps the event counters in the store and tells the workflow of them
	// at most once per attach interval: the stored ones are the latest.
	inc := in.Incident
	stored, err := a.Store.GetIncident(ctx, id)
	if err != nil {
		return StageResult{}, err
	}
	if n := stored.EventCount - inc.EventCount; n > 0 {
		// Attached after the workflow's last report: the timeline says so too.
		late := schemas.TimelineEntry{IncidentID: id, At: time.Now().UTC(), Kind: schemas.TimelineEventsAdded,
			Actor: "mahavishnu", Message: fmt.Sprintf("+%s (%d in all)", schemas.EventsCount(n), stored.EventCount), Key: "events/postmortem"}
		if err := a.Store.AddTimeline(ctx, late); err != nil {
			return StageResult{}, err
		}
		timeline = append(timeline, late)
	}
	inc.EventCount = max(inc.EventCount, stored.EventCount)
	if len(stored.AffectedComponents) > len(inc.AffectedComponents) {
		inc.AffectedComponents = stored.AffectedComponents
	}
	if stored.LastEventAt != nil && (inc.LastEventAt == nil || stored.LastEventAt.After(*inc.LastEventAt)) {
		inc.LastEventAt = stored.LastEventAt
	}
	data := PostMortemData{Incident: inc, Timeline: timeline, Actions: in.Ran, Approvals: in.Approvals,
		Events: events, GeneratedAt: time.Now().UTC()}
	md := RenderPostMortem(data)
	if err := a.Store.SavePostMortem(ctx, id, md, data.GeneratedAt); err != nil {
		return StageResult{}, err
	}
	in.Incident = inc
	res := postMortemSummary(in)
	res.Summary = "post-mortem written (" + res.Summary + "): mahavishnu incidents postmortem " + id
	return res, nil
}

// PeakRate returns the most events in any one minute (events at most a minute apart from
// the first of the window), and when that minute started.
func PeakRate(events []schemas.Event) (int, time.Time) {
	ts := make([]time.Time, len(events))
	for i, ev := range events {
		ts[i] = ev.Timestamp
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	best, at, lo := 0, time.Time{}, 0
	for hi := range ts {
		for ts[hi].Sub(ts[lo]) >= time.Minute {
			lo++
		}
		if n := hi - lo + 1; n > best {
			best, at = n, ts[lo]
		}
	}
	return best, at
}

// RenderPostMortem writes the post-mortem in Markdown with the quickstart's sections.
func RenderPostMortem(d PostMortemData) string {
	inc := d.Incident
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	dur := func(s *float64) string {
		if s == nil {
			return "n/a"
		}
		return (time.Duration(*s * float64(time.Second))).Round(time.Second).String()
	}
	ts := func(t *time.Time) string {
		if t == nil {
			return "n/a"
		}
		return t.UTC().Format(time.RFC3339)
	}
	cell := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ") }

	p("# Post-mortem: %s", inc.Title)
	p("")
	p("Incident `%s` · %s · %s · generated %s", inc.IncidentID, strings.ToUpper(string(inc.Severity)), inc.IncidentType, d.GeneratedAt.Format(time.RFC3339))
	p("")
	p("## Summary")
	p("")
	p("A %s %s incident was detected by rule `%s` for `%s` at %s and resolved at %s by %s.",
		inc.Severity, inc.IncidentType, inc.RuleID, inc.Source, inc.DetectedAt.UTC().Format(time.RFC3339), ts(inc.ResolvedAt), orNone(inc.ResolvedBy))
	if inc.Description != "" {
		p("")
		p("%s", inc.Description)
	}
	p("")
	p("## Impact")
	p("")
	p("- Affected components: %s", orNone(strings.Join(inc.AffectedComponents, ", ")))
	p("- Total events: %d", inc.EventCount)
	peak, peakAt := PeakRate(d.Events)
	if peak > 0 {
		p("- Peak event rate: %d events/minute (from %s)", peak, peakAt.UTC().Format(time.RFC3339))
	} else {
		p("- Peak event rate: n/a")
	}
	if inc.EscalationLevel > 0 {
		p("- Escalated to level %d (%s)", inc.EscalationLevel, inc.EscalationName)
	}
	if inc.MTTRBreached {
		p("- The MTTR target was breached")
	}
	p("")
	p("## Metrics")
	p("")
	p("| metric | value |")
	p("|---|---|")
	p("| MTTD (first event to detection) | %s |", dur(inc.MTTDSeconds))
	p("| MTTA (detection to acknowledgement) | %s |", dur(inc.MTTASeconds))
	p("| MTTR (detection to resolution) | %s |", dur(inc.MTTRSeconds))
	p("| Total events | %d |", inc.EventCount)
	p("| Peak event rate | %d/min |", peak)
	p("")
	p("## Timeline")
	p("")
	p("| time (UTC) | what | who | details |")
	p("|---|---|---|---|")
	for _, e := range d.Timeline {
		p("| %s | %s | %s | %s |", e.At.UTC().Format("2006-01-02 15:04:05"), e.Kind, cell(orNone(e.Actor)), cell(e.Message))
	}
	p("")
	p("## Root cause")
	p("")
	p("Detected as `%s` (rule `%s`): %d matching events from `%s`.", inc.IncidentType, inc.RuleID, inc.EventCount, inc.Source)
	if len(d.Events) > 0 {
		first := d.Events[len(d.Events)-1]
		p("The first event: %s `%s` from `%s`: %q.", first.Timestamp.UTC().Format(time.RFC3339), first.EventType, first.Source, first.Message)
	}
	p("")
	p("_To be completed by the responders: the underlying cause and why it was not caught earlier._")
	p("")
	p("## Resolution")
	p("")
	p("%s", orNone(inc.ResolutionNotes))
	p("")
	p("## Remediation actions")
	p("")
	if len(d.Actions) == 0 && len(d.Approvals) == 0 {
		p("None were run.")
	} else {
		p("| action | status | run by | approved by | duration | details |")
		p("|---|---|---|---|---|---|")
		for _, r := range d.Actions {
			details := r.Error
			if details == "" {
				details = strings.SplitN(r.Output, "\n", 2)[0]
			}
			p("| %s | %s | %s | %s | %s | %s |", r.Action, r.Status, cell(orNone(r.Actor)), cell(orNone(r.ApprovedBy)),
				(time.Duration(r.DurationMS) * time.Millisecond).String(), cell(details))
		}
		for _, ap := range d.Approvals {
			if ap.Status == schemas.ApprovalRejected || ap.Status == schemas.ApprovalExpired {
				p("| %s | approval %s | - | %s | - | %s |", ap.Action, ap.Status, cell(orNone(ap.By)), cell(ap.Reason))
			}
		}
	}
	p("")
	p("## Follow-up items")
	p("")
	p("- [ ] Confirm the root cause and record it above")
	for _, r := range d.Actions {
		if r.Status != schemas.ActionSucceeded {
			p("- [ ] Fix remediation action `%s` (%s)", r.Action, r.Status)
		}
	}
	if inc.MTTRBreached {
		p("- [ ] Review why the MTTR target was missed")
	}
	if inc.EscalationLevel > 0 {
		p("- [ ] Review why the incident was not acknowledged in time")
	}
	p("- [ ] Review rule `%s` thresholds (`mahavishnu incidents rules show %s`)", inc.RuleID, inc.RuleID)
	p("")
	p("_Generated at %s by Mahavishnu._", d.GeneratedAt.Format(time.RFC3339))
	return b.String()
}

func orNone(s string) string {
	if strings.TrimSpace(s) == "" {
		return "none"
	}
	return s
}
