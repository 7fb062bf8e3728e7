package store

import (
	"context"
	"fmt"
	"sort"

	"github.com/uptrace/bun"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// AlertRecovery is one open incident that has an attached alert among those just
// resolved, and whether every alert attached to it is now resolved (issue 11).
type AlertRecovery struct {
	IncidentID string
	WorkflowID string
	// Alerts are the fingerprints (correlation IDs) of the incident's alerts, sorted.
	Alerts []string
	// Resolved are those with a resolved event stored after their last firing one.
	Resolved  []string
	Recovered bool
}

// AlertRecoveries pairs resolved alerts with their firing ones by fingerprint (the
// events' correlation ID): for every open incident with an attached event whose
// correlation ID is in fingerprints, it reports which of the incident's alerts have a
// "resolved" event later in the log than their last firing event.
func (s *Store) AlertRecoveries(ctx context.Context, fingerprints []string) ([]AlertRecovery, error) {
	if len(fingerprints) == 0 {
		return nil, nil
	}
	var ids []string
	err := s.DB.NewSelect().Model((*eventModel)(nil)).ColumnExpr("DISTINCT e.incident_id").
		Where("e.correlation_id IN (?)", bun.In(fingerprints)).
		Where("e.incident_id IS NOT NULL").
		Where("e.event_type <> ?", "resolved").
		Where("EXISTS (SELECT 1 FROM incidents AS i WHERE i.incident_id = e.incident_id AND i.status NOT IN (?))",
			bun.In([]string{string(schemas.StatusResolved), string(schemas.StatusClosed)})).
		Scan(ctx, &ids)
	if err != nil {
		return nil, fmt.Errorf("incidents of resolved alerts: %w", err)
	}
	sort.Strings(ids)
	var out []AlertRecovery
	for _, id := range ids {
		var firing []struct {
			CorrelationID string `bun:"correlation_id"`
			Seq           int64  `bun:"seq"`
		}
		if err := s.DB.NewSelect().Model((*eventModel)(nil)).ColumnExpr("e.correlation_id AS correlation_id, MAX(e.seq) AS seq").
			Where("e.incident_id = ?", id).Where("e.correlation_id <> ''").Where("e.event_type <> ?", "resolved").
			GroupExpr("e.correlation_id").Scan(ctx, &firing); err != nil {
			return nil, fmt.Errorf("alerts of %s: %w", id, err)
		}
		fps := make([]string, len(firing))
		for i, f := range firing {
			fps[i] = f.CorrelationID
		}
		var resolved []struct {
			CorrelationID string `bun:"correlation_id"`
			Seq           int64  `bun:"seq"`
		}
		if err := s.DB.NewSelect().Model((*eventModel)(nil)).ColumnExpr("e.correlation_id AS correlation_id, MAX(e.seq) AS seq").
			Where("e.correlation_id IN (?)", bun.In(fps)).Where("e.event_type = ?", "resolved").
			GroupExpr("e.correlation_id").Scan(ctx, &resolved); err != nil {
			return nil, fmt.Errorf("resolved alerts of %s: %w", id, err)
		}
		last := map[string]int64{}
		for _, r := range resolved {
			last[r.CorrelationID] = r.Seq
		}
		rec := AlertRecovery{IncidentID: id, Alerts: fps, Recovered: len(fps) > 0}
		for _, f := range firing {
			if last[f.CorrelationID] > f.Seq {
				rec.Resolved = append(rec.Resolved, f.CorrelationID)
			} else {
				rec.Recovered = false
			}
		}
		sort.Strings(rec.Alerts)
		sort.Strings(rec.Resolved)
		inc, err := s.GetIncident(ctx, id)
		if err != nil {
			return nil, err
		}
		rec.WorkflowID = inc.WorkflowID
		if rec.WorkflowID == "" {
			rec.WorkflowID = schemas.IncidentWorkflowID(inc.Fingerprint)
		}
		out = append(out, rec)
	}
	return out, nil
}
