package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/mahavishnu/mahavishnu/activities"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// Issue 11 changes to the incident workflow, each behind its own version.
const (
	// changeEscalationPeople: escalation levels page people, directly or through
	// schedules asked when the level fires; level 0 is paged at the opening; the levels
	// repeat (escalation repeat); the resolution notifies everyone paged.
	changeEscalationPeople = "i11-escalation-people"
	// changeAMResolution: the recovered signal (every Alertmanager alert of the incident
	// resolved, or its heartbeat back) satisfies stabilisation at once.
	changeAMResolution = "i11-am-resolution"
)

var pagesOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 20 * time.Second,
	RetryPolicy:         activityOptions.RetryPolicy,
}

// onCall sets up the issue 11 versions; run calls it before the stages start.
func (w *incident) onCall(ctx workflow.Context) {
	w.vPeople = workflow.GetVersion(ctx, changeEscalationPeople, workflow.DefaultVersion, 1) >= 1
	w.vRecovery = workflow.GetVersion(ctx, changeAMResolution, workflow.DefaultVersion, 1) >= 1
	if w.vRecovery {
		ch := workflow.GetSignalChannel(ctx, schemas.SignalRecovered)
		workflow.Go(ctx, func(ctx workflow.Context) {
			for {
				var r schemas.Recovered
				if more := ch.Receive(ctx, &r); !more {
					return
				}
				w.recover(ctx, r)
			}
		})
	}
}

// carryOnCall and restoreOnCall keep the escalation and recovery across continue-as-new.
func (w *incident) carryOnCall(st *schemas.ResumeState) {
	st.EscalationCycle, st.Pages, st.Recovered = w.escCycle, w.pages, w.recovered
}

func (w *incident) restoreOnCall(st *schemas.ResumeState) {
	w.escCycle, w.pages, w.recovered = st.EscalationCycle, slices.Clone(st.Pages), st.Recovered
}

// pagesPeople reports whether a level names people or schedules.
func pagesPeople(l schemas.EscalationLevel) bool { return len(l.People) > 0 || len(l.Schedules) > 0 }

// escalatePeople is escalate for runs of changeEscalationPeople: level 0 is paged when
// the incident opens (when it names people or schedules), level 1 at the
// acknowledgement target, each next level after its delay, and the whole policy again
// EscalationRepeat times, until someone acknowledges or resolves.
func (w *incident) escalatePeople(ctx workflow.Context) {
	levels := w.in.Settings.Escalation
	repeat := w.in.Settings.EscalationRepeat
	target, ok := w.in.Settings.AckTargets[w.inc.Severity]
	if !ok || target <= 0 {
		target = schemas.DefaultAckTargets[w.inc.Severity]
	}
	done := func() bool { return w.inc.AcknowledgedAt != nil || w.resolved }
	resumed := w.in.Resume != nil
	if !resumed && len(levels) > 0 && pagesPeople(levels[0]) && !done() {
		w.fireLevel(ctx, 0, target, true)
	}
	next := w.inc.EscalationLevel + 1
	wait := w.inc.DetectedAt.Add(target).Sub(workflow.Now(ctx))
	if resumed && (w.inc.EscalationLevel > 0 || w.escCycle > 0) {
		wait = w.delayBefore(next, target)
	}
	for {
		if wait > 0 {
			stop, err := workflow.AwaitWithTimeout(ctx, wait, done)
			if err != nil || stop {
				return
			}
		}
		if done() {
			return
		}
		if next >= len(levels) {
			if w.escCycle >= repeat || len(levels) == 0 {
				w.noFurtherLevel(ctx, target)
				return
			}
			w.escCycle++
			next = 0
		}
		w.fireLevel(ctx, next, target, false)
		next++
		if next >= len(levels) && w.escCycle >= repeat {
			return
		}
		wait = w.delayBefore(next, target)
	}
}

// delayBefore is the wait before level i fires; level 0 of a repeat waits its own delay,
// or the acknowledgement target when it has none.
func (w *incident) delayBefore(i int, target time.Duration) time.Duration {
	levels := w.in.Settings.Escalation
	if i >= len(levels) {
		i = 0
	}
	if i == 0 && levels[0].Delay <= 0 {
		return target
	}
	return levels[i].Delay
}

func (w *incident) noFurtherLevel(ctx workflow.Context, target time.Duration) {
	text := fmt.Sprintf("not acknowledged within the %s target for %s incidents: the escalation policy has no further level", target, w.inc.Severity)
	w.inc.Version++
	if err := w.sync(ctx, w.entry(ctx, schemas.TimelineEscalated, SystemActor, text)); err != nil {
		w.logger.Error("recording escalation failed", "Error", err)
	}
	w.notify(ctx, activities.NotifyEscalated, text, nil)
}

// fireLevel pages level i: it asks the schedules who is on call now, records the
// escalation and one "paged" entry per person, and notifies the level's channels and the
// people on theirs.
func (w *incident) fireLevel(ctx workflow.Context, i int, target time.Duration, opening bool) {
	level := w.in.Settings.Escalation[i]
	var res activities.PagesResult
	if pagesPeople(level) {
		err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, pagesOptions), a.ResolvePages, activities.PagesInput{
			Schedules: level.Schedules, People: level.People, At: workflow.Now(ctx).UTC(),
		}).Get(ctx, &res)
		if err != nil {
			res.Problems = append(res.Problems, "who to page could not be resolved: "+err.Error())
		}
	}
	if !opening {
		w.inc.EscalationLevel, w.inc.EscalationName = i, level.Name
	}
	w.inc.Version++
	var text string
	if opening {
		text = fmt.Sprintf("paging level 0 (%s) for the new incident", level.Name)
	} else {
		text = fmt.Sprintf("not acknowledged within the %s target for %s incidents: escalated to level %d (%s)", target, w.inc.Severity, i, level.Name)
		if w.escCycle > 0 {
			text += fmt.Sprintf(", repeat %d of %d", w.escCycle, w.in.Settings.EscalationRepeat)
		}
	}
	names := slices.Clone(level.Targets)
	for _, t := range res.Targets {
		names = append(names, t.Contact.Name)
	}
	if len(names) > 0 {
		text += ": " + strings.Join(names, ", ")
	}
	if len(res.Problems) > 0 {
		text += " (" + strings.Join(res.Problems, "; ") + ")"
	}
	now := workflow.Now(ctx).UTC()
	entries := []schemas.TimelineEntry{w.entry(ctx, schemas.TimelineEscalated, SystemActor, text)}
	if opening {
		entries[0].Key = fmt.Sprintf("%s/opening/%d", schemas.TimelineEscalated, w.inc.Version)
	}
	var contacts []schemas.Contact
	for _, t := range res.Targets {
		p := schemas.Page{Level: i, Cycle: w.escCycle, Name: level.Name, Via: t.Via, Person: t.Contact, At: now}
		w.pages = append(w.pages, p)
		contacts = append(contacts, t.Contact)
		e := w.entry(ctx, schemas.TimelinePaged, SystemActor, fmt.Sprintf("paged %s at level %d (%s) via %s", t.Contact.Name, i, level.Name, t.Via))
		e.Key = fmt.Sprintf("%s/%d/%d/%s", schemas.TimelinePaged, w.escCycle, i, t.Contact.Name)
		entries = append(entries, e)
	}
	if err := w.sync(ctx, entries...); err != nil {
		w.logger.Error("recording escalation failed", "Error", err)
	}
	w.notify(ctx, activities.NotifyEscalated, text, &level)
	w.withPeople(contacts)
}

// withPeople addresses the notification queued last to the people too.
func (w *incident) withPeople(people []schemas.Contact) {
	if len(people) > 0 && len(w.outbox) > 0 {
		w.outbox[len(w.outbox)-1].People = people
	}
}

// pagedPeople returns everyone paged so far, each once.
func (w *incident) pagedPeople() []schemas.Contact {
	var out []schemas.Contact
	for _, p := range w.pages {
		if !slices.ContainsFunc(out, func(c schemas.Contact) bool { return c.Name == p.Person.Name }) {
			out = append(out, p.Person)
		}
	}
	return out
}

// notifyPaged tells everyone paged about the resolution (changeEscalationPeople).
func (w *incident) notifyPaged(kind string) {
	if w.vPeople && kind == activities.NotifyResolved {
		w.withPeople(w.pagedPeople())
	}
}

// recover records a recovery; awaitResolution resolves at once when auto-resolution is
// on (recoveredNow).
func (w *incident) recover(ctx workflow.Context, r schemas.Recovered) {
	if w.resolved {
		return
	}
	if r.At.IsZero() {
		r.At = workflow.Now(ctx).UTC()
	}
	w.recovered = &r
	w.inc.Version++
	text := "recovered: " + r.Reason
	if w.in.Settings.AutoResolution {
		text += " (stabilisation satisfied)"
	}
	if err := w.sync(ctx, w.entry(ctx, schemas.TimelineRecovered, r.By, text)); err != nil {
		w.logger.Error("recording recovery failed", "Error", err)
	}
}

// recoveredNow reports a recovery newer than the last event heard of.
func (w *incident) recoveredNow() bool {
	if !w.vRecovery || w.recovered == nil || w.resolved {
		return false
	}
	return w.inc.LastEventAt == nil || !w.recovered.At.Before(*w.inc.LastEventAt)
}
