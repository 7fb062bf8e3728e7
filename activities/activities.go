// Package activities holds the side effects of the incident workflow: writing the read
// model, and the work of each response stage. Every method is idempotent, because Temporal
// retries activities: timeline entries carry keys and incident rows carry versions.
package activities

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/mahavishnu/mahavishnu/remediation"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// Activities holds the dependencies of every activity; worker/ registers one instance.
type Activities struct {
	Store  *store.Store
	Logger *slog.Logger
	// Remediation holds the configured remediation actions.
	Remediation *remediation.Registry
	// Notifications routes and delivers notifications; nil sends none.
	Notifications Notifications
	// Retention is what Housekeep deletes; nil fails Housekeep.
	Retention *RetentionSettings
}

// Stage names one response stage.
type Stage string

// The response stages, in order.
const (
	StageAssess      Stage = "assess"
	StageContain     Stage = "contain"
	StageInvestigate Stage = "investigate"
	StageRemediate   Stage = "remediate"
	StageRecover     Stage = "recover"
	StagePostMortem  Stage = "postmortem"
)

// SyncInput is a snapshot of the incident to write, with the timeline entries and event
// attachments that explain the change.
type SyncInput struct {
	Incident       schemas.Incident        `json:"incident"`
	Timeline       []schemas.TimelineEntry `json:"timeline,omitempty"`
	AttachEventIDs []string                `json:"attach_event_ids,omitempty"`
}

// SyncResult reports the store's view after a Sync.
type SyncResult struct {
	// EventCount is the number of events attached to the incident in the store: the
	// true count even when an event was sent twice (a detector restart) or the activity
	// ran twice (a retry).
	EventCount int `json:"event_count"`
}

// Sync writes an incident snapshot, attaches events and appends timeline entries.
func (a *Activities) Sync(ctx context.Context, in SyncInput) (SyncResult, error) {
	id := in.Incident.IncidentID
	if len(in.AttachEventIDs) > 0 {
		if _, err := a.Store.AttachEvents(ctx, id, in.AttachEventIDs); err != nil {
			return SyncResult{}, fmt.Errorf("attach %d events to %s: %w", len(in.AttachEventIDs), id, err)
		}
		n, err := a.Store.CountEvents(ctx, store.EventFilter{IncidentID: id})
		if err != nil {
			return SyncResult{}, fmt.Errorf("count events of %s: %w", id, err)
		}
		in.Incident.EventCount = n
	}
	in.Incident.UpdatedAt = time.Now().UTC()
	if err := a.Store.UpsertIncident(ctx, &in.Incident); err != nil {
		return SyncResult{}, fmt.Errorf("write incident %s: %w", id, err)
	}
	for i := range in.Timeline {
		in.Timeline[i].IncidentID = in.Incident.IncidentID
	}
	if err := a.Store.AddTimeline(ctx, in.Timeline...); err != nil {
		return SyncResult{}, fmt.Errorf("write timeline of %s: %w", id, err)
	}
	return SyncResult{EventCount: in.Incident.EventCount}, nil
}

// StageInput runs one stage for the incident snapshot it carries (whose status is the
// stage's status).
type StageInput struct {
	Incident schemas.Incident         `json:"incident"`
	Stage    Stage                    `json:"stage"`
	Actions  []string                 `json:"actions,omitempty"`
	Settings schemas.IncidentSettings `json:"settings"`
	// Ran and Approvals are the remediation so far (Contain, Remediate, Post-Mortem).
	Ran       []schemas.ActionRecord `json:"ran,omitempty"`
	Approvals []schemas.Approval     `json:"approvals,omitempty"`
}

// StageResult is what a stage found or did, in one line for the timeline.
type StageResult struct {
	Summary string `json:"summary"`
	// Components are the affected components found by Assess.
	Components []string `json:"components,omitempty"`
}

// RunStage runs a stage: records its start, does its work, records its result.
func (a *Activities) RunStage(ctx context.Context, in StageInput) (StageResult, error) {
	id := in.Incident.IncidentID
	now := time.Now().UTC()
	in.Incident.UpdatedAt = now
	if err := a.Store.UpsertIncident(ctx, &in.Incident); err != nil {
		return StageResult{}, fmt.Errorf("write incident %s: %w", id, err)
	}
	if err := a.Store.AddTimeline(ctx, schemas.TimelineEntry{
		IncidentID: id, At: now, Kind: schemas.TimelineStageStarted,
		Message: fmt.Sprintf("%s started", StageTitle(in.Stage)),
		Key:     StageStartedKey(in.Stage),
	}); err != nil {
		return StageResult{}, fmt.Errorf("write timeline of %s: %w", id, err)
	}
	var (
		res StageResult
		err error
	)
	switch in.Stage {
	case StageAssess:
		res, err = a.assess(ctx, in)
	case StageContain:
		res = contain(in)
	case StageInvestigate:
		res, err = a.investigate(ctx, in)
	case StageRemediate:
		res = remediateSummary(in)
	case StageRecover:
		res = recoverSummary(in)
	case StagePostMortem:
		res, err = a.postMortem(ctx, in)
	default:
		return StageResult{}, fmt.Errorf("unknown stage %q", in.Stage)
	}
	if err != nil {
		return StageResult{}, fmt.Errorf("%s of %s: %w", in.Stage, id, err)
	}
	if err := a.Store.AddTimeline(ctx, schemas.TimelineEntry{
		IncidentID: id, At: time.Now().UTC(), Kind: schemas.TimelineStageFinished,
		Message: fmt.Sprintf("%s finished: %s", StageTitle(in.Stage), res.Summary),
		Key:     "stage/" + string(in.Stage) + "/finished",
	}); err != nil {
		return StageResult{}, fmt.Errorf("write timeline of %s: %w", id, err)
	}
	return res, nil
}

// StageStartedKey is the timeline key of a stage's start.
func StageStartedKey(s Stage) string { return "stage/" + string(s) + "/started" }

// StageTitle names a stage for people: "Assess", "Post-Mortem".
func StageTitle(s Stage) string {
	if s == StagePostMortem {
		return "Post-Mortem"
	}
	return strings.ToUpper(string(s[:1])) + string(s[1:])
}

// assess counts the attached events by type and source and lists the affected components.
func (a *Activities) assess(ctx context.Context, in StageInput) (StageResult, error) {
	events, err := a.Store.ListEvents(ctx, store.EventFilter{IncidentID: in.Incident.IncidentID, Last: 10000})
	if err != nil {
		return StageResult{}, err
	}
	byType, bySource, components := map[string]int{}, map[string]int{}, map[string]bool{}
	for _, ev := range events {
		byType[ev.EventType]++
		bySource[ev.Source]++
		components[ev.Component] = true
	}
	comps := make([]string, 0, len(components))
	for c := range components {
		comps = append(comps, c)
	}
	sort.Strings(comps)
	return StageResult{
		Summary: fmt.Sprintf("%d events; by type: %s; by source: %s; components: %s; severity %s",
			len(events), countList(byType), countList(bySource), strings.Join(comps, ", "), in.Incident.Severity),
		Components: comps,
	}, nil
}

func (a *Activities) investigate(ctx context.Context, in StageInput) (StageResult, error) {
	events, err := a.Store.ListEvents(ctx, store.EventFilter{IncidentID: in.Incident.IncidentID, Last: 10000})
	if err != nil {
		return StageResult{}, err
	}
	if len(events) == 0 {
		return StageResult{Summary: "no events attached"}, nil
	}
	first, last := events[len(events)-1], events[0] // newest first
	return StageResult{Summary: fmt.Sprintf("%d events from %s to %s; first: %q; last: %q",
		len(events), first.Timestamp.Format(time.RFC3339), last.Timestamp.Format(time.RFC3339),
		first.Message, last.Message)}, nil
}

// contain summarises what was run and what waits for approval.
func contain(in StageInput) StageResult {
	if len(in.Actions) == 0 {
		return StageResult{Summary: "no containment actions for " + in.Incident.IncidentType + "; notifications only"}
	}
	var parts []string
	for _, r := range in.Ran {
		parts = append(parts, fmt.Sprintf("%s %s", r.Action, r.Status))
	}
	for _, ap := range in.Approvals {
		if ap.Status == schemas.ApprovalPending {
			parts = append(parts, ap.Action+" awaiting approval")
		}
	}
	if len(parts) == 0 {
		return StageResult{Summary: "recommended actions: " + strings.Join(in.Actions, ", ")}
	}
	return StageResult{Summary: strings.Join(parts, "; ")}
}

// remediateSummary reports the decided approvals.
func remediateSummary(in StageInput) StageResult {
	var parts []string
	for _, ap := range in.Approvals {
		parts = append(parts, fmt.Sprintf("%s %s", ap.Action, ap.Status))
	}
	if len(parts) == 0 {
		return StageResult{Summary: "no action waited for approval"}
	}
	return StageResult{Summary: strings.Join(parts, "; ")}
}

func recoverSummary(in StageInput) StageResult {
	if in.Incident.ResolvedAt != nil {
		return StageResult{Summary: "incident resolved"}
	}
	if in.Settings.AutoResolution {
		return StageResult{Summary: "waiting for the incident to stabilise (auto-resolution on)"}
	}
	return StageResult{Summary: "waiting for a responder to resolve the incident"}
}

func postMortemSummary(in StageInput) StageResult {
	inc := in.Incident
	parts := []string{fmt.Sprintf("%d events", inc.EventCount)}
	if inc.MTTDSeconds != nil {
		parts = append(parts, fmt.Sprintf("MTTD %s", seconds(*inc.MTTDSeconds)))
	}
	if inc.MTTRSeconds != nil {
		parts = append(parts, fmt.Sprintf("MTTR %s", seconds(*inc.MTTRSeconds)))
	}
	if inc.ResolutionNotes != "" {
		parts = append(parts, "resolution: "+inc.ResolutionNotes)
	}
	return StageResult{Summary: strings.Join(parts, "; ")}
}

func seconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Second).String()
}

func countList(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}
