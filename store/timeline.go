package store

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// timelineModel is the bun model of table timeline.
type timelineModel struct {
	bun.BaseModel `bun:"table:timeline,alias:t"`

	ID         int64  `bun:"id,pk,autoincrement"`
	IncidentID string `bun:"incident_id"`
	At         dbTime `bun:"at"`
	Kind       string `bun:"kind"`
	Actor      string `bun:"actor"`
	Message    string `bun:"message"`
	Key        string `bun:"key"`
}

func (m *timelineModel) validate(index int) error {
	switch {
	case m.IncidentID == "":
		return fmt.Errorf("entries[%d].incident_id is required", index)
	case m.Kind == "":
		return fmt.Errorf("entries[%d].kind is required", index)
	case m.At.IsZero():
		return fmt.Errorf("entries[%d].at is required", index)
	}
	return nil
}

func (m *timelineModel) entry() schemas.TimelineEntry {
	return schemas.TimelineEntry{
		IncidentID: m.IncidentID,
		At:         m.At.Time,
		Kind:       m.Kind,
		Actor:      m.Actor,
		Message:    m.Message,
		Key:        m.Key,
	}
}

// AddTimeline appends entries in one statement. An entry with a non-empty Key that is
// already stored for its incident (a retried activity) is skipped; entries without a Key
// are always added.
func (s *Store) AddTimeline(ctx context.Context, entries ...schemas.TimelineEntry) error {
	if err := addTimeline(ctx, s.DB, entries); err != nil {
		return fmt.Errorf("add timeline: %w", err)
	}
	return nil
}

func addTimeline(ctx context.Context, db bun.IDB, entries []schemas.TimelineEntry) error {
	if len(entries) == 0 {
		return nil
	}
	rows := make([]timelineModel, len(entries))
	for i, e := range entries {
		rows[i] = timelineModel{
			IncidentID: e.IncidentID,
			At:         newDBTime(e.At),
			Kind:       e.Kind,
			Actor:      e.Actor,
			Message:    e.Message,
			Key:        e.Key,
		}
		if err := rows[i].validate(i); err != nil {
			return err
		}
	}
	// The conflict target names the partial unique index timeline_incident_key_idx.
	_, err := db.NewInsert().Model(&rows).
		On(`CONFLICT (incident_id, "key") WHERE "key" <> '' DO NOTHING`).
		Returning("NULL").
		Exec(ctx)
	return err
}

// Timeline returns the incident's entries, oldest first (ties in insertion order).
func (s *Store) Timeline(ctx context.Context, incidentID string) ([]schemas.TimelineEntry, error) {
	var rows []timelineModel
	err := s.DB.NewSelect().Model(&rows).
		Where("t.incident_id = ?", incidentID).
		OrderExpr("t.at ASC, t.id ASC").
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("timeline of incident %s: %w", incidentID, err)
	}
	out := make([]schemas.TimelineEntry, len(rows))
	for i := range rows {
		out[i] = rows[i].entry()
	}
	return out, nil
}

// ActivityFilter selects timeline entries across incidents (`incidents history`).
type ActivityFilter struct {
	// IncidentID limits the entries to one incident; empty means every incident.
	IncidentID string
	// Since drops entries before it (zero: none dropped).
	Since time.Time
	// Kinds keeps only these kinds; empty keeps every kind but ExcludeKinds.
	Kinds []string
	// ExcludeKinds drops these kinds.
	ExcludeKinds []string
	// Last is how many of the latest entries to return (default 100, at most 10,000).
	Last int
}

// Activity returns the latest entries matching f, oldest first (ties in insertion order).
func (s *Store) Activity(ctx context.Context, f ActivityFilter) ([]schemas.TimelineEntry, error) {
	var rows []timelineModel
	q := s.DB.NewSelect().Model(&rows).OrderExpr("t.at DESC, t.id DESC").Limit(clampLimit(f.Last))
	if f.IncidentID != "" {
		q = q.Where("t.incident_id = ?", f.IncidentID)
	}
	if !f.Since.IsZero() {
		q = q.Where("t.at >= ?", newDBTime(f.Since))
	}
	if len(f.Kinds) > 0 {
		q = q.Where("t.kind IN (?)", bun.In(f.Kinds))
	}
	if len(f.ExcludeKinds) > 0 {
		q = q.Where("t.kind NOT IN (?)", bun.In(f.ExcludeKinds))
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("activity: %w", err)
	}
	out := make([]schemas.TimelineEntry, len(rows))
	for i := range rows {
		out[len(rows)-1-i] = rows[i].entry()
	}
	return out, nil
}
