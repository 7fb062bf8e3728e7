package store

import (
	"context"
	"fmt"
	"time"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// IncidentGroup sums up the incidents of one (severity, status, type), computed in SQL so
// that statistics count every incident, however many there are.
type IncidentGroup struct {
	Severity     string `bun:"severity" json:"severity"`
	Status       string `bun:"status" json:"status"`
	IncidentType string `bun:"incident_type" json:"incident_type"`
	Count        int    `bun:"n" json:"count"`
	// Sums and counts of the incidents that have each time, for exact means.
	MTTDSum   float64 `bun:"mttd_sum" json:"mttd_sum"`
	MTTDCount int     `bun:"mttd_n" json:"mttd_count"`
	MTTASum   float64 `bun:"mtta_sum" json:"mtta_sum"`
	MTTACount int     `bun:"mtta_n" json:"mtta_count"`
	MTTRSum   float64 `bun:"mttr_sum" json:"mttr_sum"`
	MTTRCount int     `bun:"mttr_n" json:"mttr_count"`
	Breached  int     `bun:"breached" json:"breached"`
	// Resolved counts those with a resolution time; AutoResolved those the workflow
	// resolved by itself (resolved_by autoResolver).
	Resolved     int `bun:"resolved" json:"resolved"`
	AutoResolved int `bun:"auto_resolved" json:"auto_resolved"`
}

// IncidentGroups returns the groups of the incidents detected at or after since (all for a
// zero since) whose severity is severity (all for "").
func (s *Store) IncidentGroups(ctx context.Context, since time.Time, severity schemas.Severity, autoResolver string) ([]IncidentGroup, error) {
	var rows []IncidentGroup
	q := s.DB.NewSelect().Model((*incidentModel)(nil)).
		ColumnExpr("i.severity AS severity, i.status AS status, i.incident_type AS incident_type, COUNT(*) AS n").
		ColumnExpr("COALESCE(SUM(i.mttd_seconds), 0.0) AS mttd_sum, COUNT(i.mttd_seconds) AS mttd_n").
		ColumnExpr("COALESCE(SUM(i.mtta_seconds), 0.0) AS mtta_sum, COUNT(i.mtta_seconds) AS mtta_n").
		ColumnExpr("COALESCE(SUM(i.mttr_seconds), 0.0) AS mttr_sum, COUNT(i.mttr_seconds) AS mttr_n").
		ColumnExpr("SUM(CASE WHEN i.mttr_breached THEN 1 ELSE 0 END) AS breached").
		ColumnExpr("COUNT(i.resolved_at) AS resolved").
		ColumnExpr("SUM(CASE WHEN i.resolved_at IS NOT NULL AND i.resolved_by = ? THEN 1 ELSE 0 END) AS auto_resolved", autoResolver).
		GroupExpr("i.severity, i.status, i.incident_type")
	if !since.IsZero() {
		q = q.Where("i.detected_at >= ?", newDBTime(since))
	}
	if severity != "" {
		q = q.Where("i.severity = ?", string(severity))
	}
	if err := q.Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("incident statistics: %w", err)
	}
	return rows, nil
}

// ScanIncidentEvents calls fn for every event attached to incidentID, oldest first, reading
// pages of 500 by keyset, so that an incident with any number of events is listed whole.
func (s *Store) ScanIncidentEvents(ctx context.Context, incidentID string, fn func(schemas.Event) error) error {
	var after int64 = -1
	for {
		var rows []eventModel
		if err := s.DB.NewSelect().Model(&rows).
			Where("e.incident_id = ?", incidentID).
			Where("e.seq > ?", after).
			OrderExpr("e.seq ASC").Limit(500).Scan(ctx); err != nil {
			return fmt.Errorf("events of %s: %w", incidentID, err)
		}
		for i := range rows {
			if err := fn(rows[i].event()); err != nil {
				return err
			}
		}
		if len(rows) < 500 {
			return nil
		}
		after = rows[len(rows)-1].Seq
	}
}

// ScanIncidents calls fn for every incident matching f (f.Limit is ignored), most recently
// detected first, reading pages of 500 by keyset so that memory stays flat.
func (s *Store) ScanIncidents(ctx context.Context, f IncidentFilter, fn func(schemas.Incident) error) error {
	var last *incidentModel
	for {
		var rows []incidentModel
		q, err := f.apply(s.DB.NewSelect().Model(&rows))
		if err != nil {
			return err
		}
		if last != nil {
			q = q.Where("(i.detected_at < ? OR (i.detected_at = ? AND i.incident_id < ?))", last.DetectedAt, last.DetectedAt, last.IncidentID)
		}
		if err := q.OrderExpr("i.detected_at DESC, i.incident_id DESC").Limit(500).Scan(ctx); err != nil {
			return fmt.Errorf("scan incidents: %w", err)
		}
		for i := range rows {
			if err := fn(*rows[i].incident()); err != nil {
				return err
			}
		}
		if len(rows) < 500 {
			return nil
		}
		last = &rows[len(rows)-1]
	}
}

// InsertIncidents writes incidents in multi-row batches of 500, for imports and tests that
// need many; an existing incident ID is an error. Use UpsertIncident for workflow snapshots.
func (s *Store) InsertIncidents(ctx context.Context, incs []schemas.Incident) error {
	for start := 0; start < len(incs); start += 500 {
		batch := incs[start:min(start+500, len(incs))]
		rows := make([]incidentModel, len(batch))
		for i := range batch {
			rows[i] = newIncidentModel(&batch[i])
			if err := rows[i].validate(); err != nil {
				return err
			}
		}
		if _, err := s.DB.NewInsert().Model(&rows).Returning("NULL").Exec(ctx); err != nil {
			return fmt.Errorf("insert %d incidents: %w", len(rows), err)
		}
	}
	return nil
}
