package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// ActionTimelineKinds are the timeline kinds that record a remediation step taken on an
// incident: an action run, or a responder's approval or rejection of one. An incident
// resolved with none of them was "resolved without action".
var ActionTimelineKinds = []string{schemas.TimelineAction, schemas.TimelineApproved, schemas.TimelineRejected}

// RuleActivity sums up the incidents one rule opened in a period, for `rules review`.
type RuleActivity struct {
	RuleID string `json:"rule_id"`
	// Fired counts the incidents detected in the period.
	Fired int `json:"fired"`
	// Resolved counts those that are resolved or closed.
	Resolved int `json:"resolved"`
	// ResolvedWithoutAction counts the resolved ones with no remediation step on their
	// timeline (see ActionTimelineKinds).
	ResolvedWithoutAction int `json:"resolved_without_action"`
	// AckSeconds are the times to acknowledge of the acknowledged ones, ascending.
	AckSeconds []float64 `json:"ack_seconds,omitempty"`
}

// RuleActivity returns, per rule ID, the incidents detected at or after since.
func (s *Store) RuleActivity(ctx context.Context, since time.Time) (map[string]*RuleActivity, error) {
	var rows []incidentModel
	err := s.DB.NewSelect().Model(&rows).
		Column("incident_id", "rule_id", "status", "detected_at", "acknowledged_at", "mtta_seconds").
		Where("i.detected_at >= ?", newDBTime(since)).
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("rule activity: %w", err)
	}
	out := make(map[string]*RuleActivity)
	var resolved []string
	byIncident := make(map[string]*RuleActivity, len(rows))
	for _, r := range rows {
		a := out[r.RuleID]
		if a == nil {
			a = &RuleActivity{RuleID: r.RuleID}
			out[r.RuleID] = a
		}
		a.Fired++
		switch schemas.Status(r.Status) {
		case schemas.StatusResolved, schemas.StatusClosed:
			a.Resolved++
			a.ResolvedWithoutAction++ // until an action entry is found below
			resolved = append(resolved, r.IncidentID)
			byIncident[r.IncidentID] = a
		}
		switch {
		case r.MTTASeconds != nil:
			a.AckSeconds = append(a.AckSeconds, *r.MTTASeconds)
		case !r.AcknowledgedAt.IsZero():
			a.AckSeconds = append(a.AckSeconds, r.AcknowledgedAt.Sub(r.DetectedAt.Time).Seconds())
		}
	}
	acted, err := s.incidentsWithActions(ctx, resolved)
	if err != nil {
		return nil, err
	}
	for _, id := range acted {
		byIncident[id].ResolvedWithoutAction--
	}
	for _, a := range out {
		slices.Sort(a.AckSeconds)
	}
	return out, nil
}

// incidentsWithActions returns those of ids whose timeline records a remediation step.
func (s *Store) incidentsWithActions(ctx context.Context, ids []string) ([]string, error) {
	var out []string
	for chunk := range slices.Chunk(ids, writeChunk) {
		var found []string
		err := s.DB.NewSelect().Model((*timelineModel)(nil)).
			Distinct().
			Column("t.incident_id").
			Where("t.incident_id IN (?)", bun.In(chunk)).
			Where("t.kind IN (?)", bun.In(ActionTimelineKinds)).
			Scan(ctx, &found)
		if err != nil {
			return nil, fmt.Errorf("rule activity: timeline actions: %w", err)
		}
		out = append(out, found...)
	}
	return out, nil
}
