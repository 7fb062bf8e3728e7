package store

import (
	"context"
	"fmt"

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
