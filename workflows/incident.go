// Package workflows holds the incident workflow: one durable workflow per incident that
// runs the response stages as activities and waits on responders and timers. Deterministic
// code only: time, timers and concurrency come from the workflow package.
package workflows

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/mahavishnu/mahavishnu/activities"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// a is only used for activity method values; the worker registers the real instance.
var a *activities.Activities

// DefaultStabilizationWindow is how long no matching event must arrive before an
// auto-resolving incident counts as stable.
const DefaultStabilizationWindow = 5 * time.Minute

// SystemActor is the actor recorded for what the workflow does by itself.
const SystemActor = "mahavishnu"

var (
	saSeverity = temporal.NewSearchAttributeKeyKeyword(schemas.SearchAttrSeverity)
	saStatus   = temporal.NewSearchAttributeKeyKeyword(schemas.SearchAttrStatus)
	saType     = temporal.NewSearchAttributeKeyKeyword(schemas.SearchAttrType)
)

// SearchAttributes returns the search attributes an incident workflow starts with.
func SearchAttributes(in schemas.IncidentInput) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		saSeverity.ValueSet(string(in.Severity)),
		saStatus.ValueSet(string(schemas.StatusDetected)),
		saType.ValueSet(in.IncidentType),
	)
}

// storeActivityOptions (changeEventLog) time out store writes and stages sooner, so that an
// activity lost with a worker that died (kill -9) is retried after 20 s, not a minute.
var storeActivityOptions = func() workflow.ActivityOptions {
	o := activityOptions
	o.StartToCloseTimeout = 20 * time.Second
	return o
}()

var activityOptions = workflow.ActivityOptions{
	StartToCloseTimeout: time.Minute,
	// Store writes are retried until they succeed: an incident must not lose a change
	// because the database was briefly unavailable.
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    time.Minute,
	},
}

// IncidentWorkflow runs one incident from detection to post-mortem.
func IncidentWorkflow(ctx workflow.Context, in schemas.IncidentInput) (schemas.Incident, error) {
	w, err := setup(ctx, in)
	if err != nil {
		return schemas.Incident{}, err
	}
	return w.run(ctx)
}

type incident struct {
	in     schemas.IncidentInput
	inc    schemas.Incident
	logger log.Logger

	attachCh      workflow.ReceiveChannel
	pendingAttach []string
	// attachedCh carries events_attached: counters of the events the detector attached.
	attachedCh workflow.ReceiveChannel
	// maxEventSeverity is the highest event severity heard of (events_attached).
	maxEventSeverity schemas.Severity
	// unreported holds what events_attached added since the last "events added" entry.
	unreported      eventsNote
	lastEventsEntry time.Time
	// eventsSeen counts attach signals; a change restarts the stabilisation window.
	eventsSeen int
	resolved   bool

	// v2 is set for runs of the response-procedure version (see response.go).
	v2 bool
	// v3 is set for runs of the event-log version (see attached.go).
	v3 bool
	// i9 is set for runs of the policy version (see policy.go).
	i9 bool
	// inFlight marks the actions with a run in flight (i9).
	inFlight map[string]bool
	// manualStatus is the status a responder set by hand, and who (i9, see stageStatus).
	manualStatus   schemas.Status
	manualStatusBy string
	notifySeq      int
	approvals      []schemas.Approval
	approvalRan    map[int]bool
	actions        []schemas.ActionRecord
	// remediated is set once the Remediate stage is over: later approvals run at once.
	remediated bool
	// recent keeps the latest timeline entries for the timeline query.
	recent []schemas.TimelineEntry
	// outbox holds notifications waiting to be sent; sending is set while one goes out.
	outbox  []activities.NotifyInput
	sending bool

	// Issue 11 (escalation.go): vPeople and vRecovery are set for runs of
	// changeEscalationPeople and changeAMResolution; escCycle counts repeats of the
	// escalation policy, pages everyone paged, recovered the last recovery heard of.
	vPeople   bool
	vRecovery bool
	escCycle  int
	pages     []schemas.Page
	recovered *schemas.Recovered
}

// maxRecent bounds the timeline kept in workflow state; the store has all of it.
const maxRecent = 200

// setup validates the input, builds the initial snapshot, registers the handlers and
// takes the events that came with the start (SignalWithStart delivers them first).
func setup(ctx workflow.Context, in schemas.IncidentInput) (*incident, error) {
	switch {
	case !strings.HasPrefix(in.IncidentID, schemas.IncidentIDPrefix):
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("incident_id %q: want prefix %q", in.IncidentID, schemas.IncidentIDPrefix), "InvalidInput", nil)
	case in.Fingerprint == "":
		return nil, temporal.NewNonRetryableApplicationError("fingerprint: is required", "InvalidInput", nil)
	case !in.Severity.Valid():
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("severity %q: invalid", in.Severity), "InvalidInput", nil)
	case in.DetectedAt.IsZero():
		return nil, temporal.NewNonRetryableApplicationError("detected_at: is required", "InvalidInput", nil)
	}
	info := workflow.GetInfo(ctx)
	w := &incident{
		in:     in,
		logger: log.With(workflow.GetLogger(ctx), "IncidentID", in.IncidentID),
		inc: schemas.Incident{
			IncidentID:         in.IncidentID,
			IncidentType:       in.IncidentType,
			Severity:           in.Severity,
			Status:             schemas.StatusDetected,
			Title:              in.Title,
			Description:        in.Description,
			RuleID:             in.RuleID,
			Fingerprint:        in.Fingerprint,
			Source:             in.Source,
			DetectedAt:         in.DetectedAt.UTC(),
			AffectedComponents: []string{},
			WorkflowID:         info.WorkflowExecution.ID,
			RunID:              info.FirstRunID,
			Version:            1,
		},
		attachCh:    workflow.GetSignalChannel(ctx, schemas.SignalAttachEvents),
		attachedCh:  workflow.GetSignalChannel(ctx, schemas.SignalEventsAttached),
		approvalRan: map[int]bool{},
	}
	w.addEvents(in.Events)
	w.drainAttach()
	if err := w.registerHandlers(ctx); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *incident) run(ctx workflow.Context) (schemas.Incident, error) {
	ctx = workflow.WithActivityOptions(ctx, activityOptions)
	w.v2 = workflow.GetVersion(ctx, changeResponseProcedure, workflow.DefaultVersion, 1) >= 1
	w.v3 = workflow.GetVersion(ctx, changeEventLog, workflow.DefaultVersion, 1) >= 1
	w.i9 = workflow.GetVersion(ctx, changePolicy, workflow.DefaultVersion, 1) >= 1
	w.onCall(ctx) // issue 11 versions (escalation.go)
	ctx = workflow.WithActivityOptions(ctx, w.storeOptions())
	if w.in.Resume != nil {
		return w.runResumed(ctx)
	}
	w.logger.Info("incident opened", "Fingerprint", w.in.Fingerprint, "Severity", w.inc.Severity)
	if err := w.sync(ctx, w.entry(ctx, schemas.TimelineDetected, SystemActor,
		fmt.Sprintf("%s incident detected by rule %s for %s (%d events)", strings.ToUpper(string(w.inc.Severity)), w.in.RuleID, w.in.Source, w.openingEvents()))); err != nil {
		return w.inc, err
	}

	workflow.Go(ctx, w.signalLoop)
	timerCtx, cancelTimer := workflow.WithCancel(ctx)
	workflow.Go(timerCtx, w.mttrTimer)
	if w.v2 {
		workflow.Go(timerCtx, w.escalate)
		workflow.Go(ctx, w.sendNotifications)
	}

	for _, st := range []struct {
		stage  activities.Stage
		status schemas.Status
	}{
		{activities.StageAssess, schemas.StatusAssessing},
		{activities.StageContain, schemas.StatusContaining},
		{activities.StageInvestigate, schemas.StatusInvestigating},
		{activities.StageRemediate, schemas.StatusRemediating},
		{activities.StageRecover, schemas.StatusRecovering},
	} {
		if w.resolved {
			break
		}
		if err := w.stageStatus(ctx, activities.StageTitle(st.stage), st.status); err != nil {
			return w.inc, err
		}
		if w.v2 && (st.stage == activities.StageContain || st.stage == activities.StageRemediate) {
			// These stages act (and wait) before their summary: show the status and the
			// stage's start first (RunStage finds the start already written, by its key).
			start := w.entry(ctx, schemas.TimelineStageStarted, "", activities.StageTitle(st.stage)+" started")
			start.Key = activities.StageStartedKey(st.stage)
			if err := w.sync(ctx, start); err != nil {
				return w.inc, err
			}
		}
		switch {
		case !w.v2:
		case st.stage == activities.StageContain:
			w.contain(ctx)
		case st.stage == activities.StageRemediate:
			if err := w.remediate(ctx); err != nil {
				return w.inc, err
			}
			w.remediated = true
		}
		res, err := w.runStage(ctx, st.stage)
		if err != nil {
			return w.inc, err
		}
		if st.stage == activities.StageAssess {
			w.addComponents(res.Components)
			w.notify(ctx, activities.NotifyOpened, fmt.Sprintf("%s incident detected: %s (%d events)",
				strings.ToUpper(string(w.inc.Severity)), w.inc.Title, w.inc.EventCount), nil)
		}
	}
	w.remediated = true
	if err := w.awaitResolution(ctx); err != nil {
		return w.inc, err
	}
	cancelTimer()
	return w.finish(ctx)
}

// runResumed continues an incident carried over by continue-as-new: straight back to
// waiting for the resolution, with its timers started again.
func (w *incident) runResumed(ctx workflow.Context) (schemas.Incident, error) {
	if err := w.resume(ctx); err != nil {
		return w.inc, err
	}
	w.remediated = true
	workflow.Go(ctx, w.signalLoop)
	timerCtx, cancelTimer := workflow.WithCancel(ctx)
	workflow.Go(timerCtx, w.mttrTimer)
	workflow.Go(timerCtx, w.escalate)
	workflow.Go(ctx, w.sendNotifications)
	if err := w.awaitResolution(ctx); err != nil {
		return w.inc, err
	}
	cancelTimer()
	return w.finish(ctx)
}

// finish writes the post-mortem and lets running handlers end.
func (w *incident) finish(ctx workflow.Context) (schemas.Incident, error) {
	if _, err := w.runStage(ctx, activities.StagePostMortem); err != nil {
		return w.inc, err
	}
	// Let update handlers that are still writing, and the notifications still queued,
	// finish before the workflow completes.
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) && w.notificationsSent() }); err != nil {
		return w.inc, err
	}
	w.logger.Info("incident workflow finished", "Status", w.inc.Status)
	return w.inc, nil
}

// awaitResolution waits for the resolve signal/update, or, with auto-resolution, for a
// stabilisation window without a new event.
func (w *incident) awaitResolution(ctx workflow.Context) error {
	if !w.in.Settings.AutoResolution {
		if w.v2 {
			return w.awaitResolve(ctx)
		}
		return workflow.Await(ctx, func() bool { return w.resolved })
	}
	window := w.in.Settings.StabilizationWindow
	if window <= 0 {
		window = DefaultStabilizationWindow
	}
	for !w.resolved {
		seen := w.eventsSeen
		changed, err := workflow.AwaitWithTimeout(ctx, window, func() bool { return w.resolved || w.eventsSeen != seen || w.recoveredNow() })
		if err != nil {
			return err
		}
		if w.recoveredNow() { // issue 11: recovery satisfies stabilisation at once
			return w.resolve(ctx, schemas.Resolve{By: SystemActor, Notes: "auto-resolved: " + w.recovered.Reason})
		}
		if !changed {
			return w.resolve(ctx, schemas.Resolve{By: SystemActor,
				Notes: fmt.Sprintf("auto-resolved: no matching event for %s", window)})
		}
	}
	return nil
}

// mttrTimer records a breach when the incident is not resolved by the MTTR target.
func (w *incident) mttrTimer(ctx workflow.Context) {
	target := w.in.Settings.MTTRTarget
	if target <= 0 {
		target = schemas.DefaultMTTRTarget
	}
	if wait := w.inc.DetectedAt.Add(target).Sub(workflow.Now(ctx)); wait > 0 {
		if err := workflow.Sleep(ctx, wait); err != nil {
			return // cancelled: resolved in time
		}
	}
	if w.resolved {
		return
	}
	w.inc.MTTRBreached = true
	w.inc.Version++
	w.logger.Warn("MTTR target breached", "Target", target)
	// The write must survive the timer's cancellation by a resolve arriving meanwhile.
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	text := fmt.Sprintf("MTTR target of %s breached: not resolved yet", target)
	if err := w.sync(dctx, w.entry(ctx, schemas.TimelineMTTRBreached, SystemActor, text)); err != nil {
		w.logger.Error("recording MTTR breach failed", "Error", err)
	}
	w.notify(dctx, activities.NotifyMTTRBreached, text, nil)
}

func (w *incident) runStage(ctx workflow.Context, stage activities.Stage) (activities.StageResult, error) {
	var res activities.StageResult
	err := workflow.ExecuteActivity(ctx, a.RunStage, activities.StageInput{
		Incident: w.inc, Stage: stage, Actions: w.in.Actions, Settings: w.in.Settings,
		Ran: w.actions, Approvals: w.approvals,
	}).Get(ctx, &res)
	if err != nil {
		return res, fmt.Errorf("stage %s: %w", stage, err)
	}
	return res, nil
}

func (w *incident) setStatus(ctx workflow.Context, st schemas.Status) {
	w.inc.Status = st
	w.inc.Version++
	if err := workflow.UpsertTypedSearchAttributes(ctx, saStatus.ValueSet(string(st))); err != nil {
		w.logger.Warn("search attribute update failed", "Error", err)
	}
}

// sync writes the current snapshot with the given timeline entries and pending
// attachments. The event count comes back from the store, which attaches each event once.
func (w *incident) sync(ctx workflow.Context, entries ...schemas.TimelineEntry) error {
	if e, ok := w.eventsEntry(ctx); ok {
		entries = append([]schemas.TimelineEntry{e}, entries...)
	}
	in := activities.SyncInput{Incident: w.inc, Timeline: entries, AttachEventIDs: w.pendingAttach}
	w.pendingAttach = nil
	var res activities.SyncResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, w.storeOptions()), a.Sync, in).Get(ctx, &res)
	if err == nil && len(in.AttachEventIDs) > 0 && res.EventCount > w.inc.EventCount {
		w.inc.EventCount = res.EventCount
	}
	return err
}

// storeOptions are the options of the store-writing activities (Sync, RunStage).
func (w *incident) storeOptions() workflow.ActivityOptions {
	if w.v3 {
		return storeActivityOptions
	}
	return activityOptions
}

func (w *incident) entry(ctx workflow.Context, kind, actor, msg string) schemas.TimelineEntry {
	e := schemas.TimelineEntry{
		IncidentID: w.inc.IncidentID,
		At:         workflow.Now(ctx).UTC(),
		Kind:       kind,
		Actor:      actor,
		Message:    msg,
		Key:        fmt.Sprintf("%s/%d", kind, w.inc.Version),
	}
	w.recent = append(w.recent, e)
	if len(w.recent) > maxRecent {
		w.recent = w.recent[len(w.recent)-maxRecent:]
	}
	return e
}

// addEvents folds a batch of attached events into the snapshot.
// An opening of the event-log detector carries the counters without IDs (the events are
// attached in the store already).
func (w *incident) addEvents(b schemas.AttachEvents) {
	if len(b.EventIDs) == 0 && b.FirstAt.IsZero() && len(b.Components) == 0 {
		return
	}
	if len(b.EventIDs) > 0 {
		w.eventsSeen++
		w.pendingAttach = append(w.pendingAttach, b.EventIDs...)
	}
	if !b.FirstAt.IsZero() && (w.inc.FirstEventAt == nil || b.FirstAt.Before(*w.inc.FirstEventAt)) {
		first := b.FirstAt.UTC()
		w.inc.FirstEventAt = &first
		mttd := w.inc.DetectedAt.Sub(first).Seconds()
		if mttd < 0 {
			mttd = 0
		}
		w.inc.MTTDSeconds = &mttd
	}
	if !b.LastAt.IsZero() && (w.inc.LastEventAt == nil || b.LastAt.After(*w.inc.LastEventAt)) {
		last := b.LastAt.UTC()
		w.inc.LastEventAt = &last
	}
	w.addComponents(b.Components)
	if b.Severity.Rank() > w.inc.Severity.Rank() {
		w.inc.Severity = b.Severity
	}
	w.inc.Version++
}

func (w *incident) addComponents(components []string) {
	seen := make(map[string]bool, len(w.inc.AffectedComponents))
	for _, c := range w.inc.AffectedComponents {
		seen[c] = true
	}
	for _, c := range components {
		if c != "" && !seen[c] {
			seen[c] = true
			w.inc.AffectedComponents = append(w.inc.AffectedComponents, c)
		}
	}
	sort.Strings(w.inc.AffectedComponents)
}
