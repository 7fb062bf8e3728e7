package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// Events reach an incident in two ways. Incidents opened before the event log existed
// get attach_events signals with event IDs and attach them in the store themselves
// (addEvents, sync). Newer incidents get events_attached: the detector already attached
// the events in the store and sent the incident's counters, at most once a second; the
// workflow uses them for stabilisation, severity escalation and the timeline.

// eventsReportEvery bounds how often the timeline records "+N events" when nothing else
// changed (changeEventLog).
const eventsReportEvery = time.Minute

// eventsNote is what events_attached added since the last timeline entry about it.
type eventsNote struct {
	events     int
	components []string
	severity   schemas.Severity
}

// drainAttach takes the attachment signals already delivered (SignalWithStart delivers its
// signal before the first workflow task).
func (w *incident) drainAttach() {
	for {
		var b schemas.AttachEvents
		if !w.attachCh.ReceiveAsync(&b) {
			break
		}
		w.addEvents(b)
	}
	for {
		var b schemas.EventsAttached
		if !w.attachedCh.ReceiveAsync(&b) {
			break
		}
		w.applyAttached(b)
	}
	// What came with the opening is in the "detected" entry, not a separate one.
	w.unreported = eventsNote{}
}

// openingEvents is the event count of the "detected" timeline entry.
func (w *incident) openingEvents() int {
	if len(w.pendingAttach) > 0 {
		return len(w.pendingAttach)
	}
	return w.inc.EventCount
}

// applyAttached folds the counters of an events_attached signal into the snapshot. The
// counters are absolute, so an old or repeated signal changes nothing.
func (w *incident) applyAttached(b schemas.EventsAttached) (severityRaised bool, before schemas.Severity) {
	before = w.inc.Severity
	changed := false
	if b.EventCount > w.inc.EventCount {
		w.unreported.events += b.EventCount - w.inc.EventCount
		w.inc.EventCount = b.EventCount
		w.eventsSeen++ // restarts the stabilisation window
		changed = true
	}
	if !b.FirstAt.IsZero() && (w.inc.FirstEventAt == nil || b.FirstAt.Before(*w.inc.FirstEventAt)) {
		first := b.FirstAt.UTC()
		w.inc.FirstEventAt = &first
		mttd := max(w.inc.DetectedAt.Sub(first).Seconds(), 0)
		w.inc.MTTDSeconds = &mttd
		changed = true
	}
	if !b.LastAt.IsZero() && (w.inc.LastEventAt == nil || b.LastAt.After(*w.inc.LastEventAt)) {
		last := b.LastAt.UTC()
		w.inc.LastEventAt = &last
		changed = true
	}
	known := len(w.inc.AffectedComponents)
	seen := make(map[string]bool, known)
	for _, c := range w.inc.AffectedComponents {
		seen[c] = true
	}
	for _, c := range b.Components {
		if c != "" && !seen[c] {
			w.unreported.components = append(w.unreported.components, c)
		}
	}
	w.addComponents(b.Components)
	changed = changed || len(w.inc.AffectedComponents) != known
	// A rise of the highest event severity raises the incident's; a responder may lower
	// the incident's severity by hand without the same events raising it again.
	if b.MaxEventSeverity.Rank() > w.maxEventSeverity.Rank() {
		w.maxEventSeverity = b.MaxEventSeverity
		if b.MaxEventSeverity.Rank() > w.inc.Severity.Rank() {
			w.inc.Severity = b.MaxEventSeverity
			w.unreported.severity = b.MaxEventSeverity
			severityRaised = true
		}
		changed = true
	}
	if changed {
		w.inc.Version++
	}
	return severityRaised, before
}

// attachedSignal handles events_attached after the start: the snapshot and timeline are
// written when the severity rose or components are new, else at most once a minute.
func (w *incident) attachedSignal(ctx workflow.Context, b schemas.EventsAttached) {
	raised, before := w.applyAttached(b)
	if raised {
		if err := workflow.UpsertTypedSearchAttributes(ctx, saSeverity.ValueSet(string(w.inc.Severity))); err != nil {
			w.logger.Warn("search attribute update failed", "Error", err)
		}
	}
	due := w.unreported.events > 0 && workflow.Now(ctx).Sub(w.lastEventsEntry) >= eventsReportEvery
	if w.v3 && !raised && len(w.unreported.components) == 0 && !due {
		return // the store already has the counters; the timeline hears of them later
	}
	if w.unreported.events == 0 && len(w.unreported.components) == 0 && !raised {
		return
	}
	var entries []schemas.TimelineEntry
	if raised {
		entries = append(entries, w.entry(ctx, "severity_raised", SystemActor,
			fmt.Sprintf("severity raised from %s to %s by an attached event", before, w.inc.Severity)))
	}
	if err := w.sync(ctx, entries...); err != nil {
		w.logger.Error("recording attached events failed", "Error", err)
	}
}

// eventsEntry turns what events_attached added since the last report into a timeline
// entry ("+340 events (1,203 in all), new component db-2"), and clears it.
func (w *incident) eventsEntry(ctx workflow.Context) (schemas.TimelineEntry, bool) {
	n := w.unreported
	if n.events == 0 && len(n.components) == 0 {
		return schemas.TimelineEntry{}, false
	}
	var parts []string
	if n.events > 0 {
		parts = append(parts, fmt.Sprintf("+%s (%d in all)", schemas.EventsCount(n.events), w.inc.EventCount))
	}
	switch len(n.components) {
	case 0:
	case 1:
		parts = append(parts, "new component "+n.components[0])
	default:
		parts = append(parts, "new components "+strings.Join(n.components, ", "))
	}
	w.unreported = eventsNote{}
	w.lastEventsEntry = workflow.Now(ctx)
	return w.entry(ctx, schemas.TimelineEventsAdded, SystemActor, strings.Join(parts, ", ")), true
}
