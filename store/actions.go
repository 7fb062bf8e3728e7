package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// actionModel is the bun model of table actions: one row per remediation action run,
// keyed by incident, action and attempt so a retried activity never runs it twice.
type actionModel struct {
	bun.BaseModel `bun:"table:actions,alias:a"`

	Key        string `bun:"key,pk"`
	IncidentID string `bun:"incident_id"`
	Action     string `bun:"action"`
	Attempt    int    `bun:"attempt"`
	Status     string `bun:"status"`
	Output     string `bun:"output"`
	ExitCode   int    `bun:"exit_code"`
	DurationMS int64  `bun:"duration_ms"`
	Actor      string `bun:"actor"`
	ApprovedBy string `bun:"approved_by"`
	Error      string `bun:"error"`
	At         dbTime `bun:"at"`
}

// ActionRunning is the status of an action whose run has started and not finished.
const ActionRunning = "running"

func (m *actionModel) record() schemas.ActionRecord {
	return schemas.ActionRecord{
		Action: m.Action, Attempt: m.Attempt, Status: m.Status, Output: m.Output, ExitCode: m.ExitCode,
		DurationMS: m.DurationMS, Actor: m.Actor, ApprovedBy: m.ApprovedBy, Error: m.Error, At: m.At.Time,
	}
}

// ActionKey is the idempotency key of one action run.
func ActionKey(incidentID, action string, attempt int) string {
	return fmt.Sprintf("%s/%s/%d", incidentID, action, attempt)
}

// BeginAction claims the run of an action. It returns started=true when this caller
// must run it; otherwise the stored record (finished, or still marked running because an
// earlier attempt died mid-run: the caller must not run it again).
func (s *Store) BeginAction(ctx context.Context, incidentID string, rec schemas.ActionRecord) (stored schemas.ActionRecord, started bool, err error) {
	m := actionModel{
		Key: ActionKey(incidentID, rec.Action, rec.Attempt), IncidentID: incidentID, Action: rec.Action,
		Attempt: rec.Attempt, Status: ActionRunning, Actor: rec.Actor, ApprovedBy: rec.ApprovedBy, At: newDBTime(rec.At),
	}
	res, err := s.DB.NewInsert().Model(&m).On("CONFLICT (key) DO NOTHING").Returning("NULL").Exec(ctx)
	if err != nil {
		return stored, false, fmt.Errorf("begin action %s: %w", m.Key, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return m.record(), true, nil
	}
	var existing actionModel
	if err := s.DB.NewSelect().Model(&existing).Where("key = ?", m.Key).Scan(ctx); err != nil {
		return stored, false, fmt.Errorf("read action %s: %w", m.Key, err)
	}
	return existing.record(), false, nil
}

// FinishAction stores the outcome of a run begun with BeginAction.
func (s *Store) FinishAction(ctx context.Context, incidentID string, rec schemas.ActionRecord) error {
	m := actionModel{
		Key: ActionKey(incidentID, rec.Action, rec.Attempt), Status: rec.Status, Output: rec.Output,
		ExitCode: rec.ExitCode, DurationMS: rec.DurationMS, Error: rec.Error,
	}
	_, err := s.DB.NewUpdate().Model(&m).Column("status", "output", "exit_code", "duration_ms", "error").WherePK().Exec(ctx)
	if err != nil {
		return fmt.Errorf("finish action %s: %w", m.Key, err)
	}
	return nil
}

// ListActions returns the latest action runs of one incident (all incidents when empty),
// at most limit (default 100), oldest first.
func (s *Store) ListActions(ctx context.Context, incidentID string, since time.Time, limit int) ([]schemas.ActionRecord, []string, error) {
	var rows []actionModel
	q := s.DB.NewSelect().Model(&rows).OrderExpr("a.at DESC, a.key DESC").Limit(clampLimit(limit))
	if incidentID != "" {
		q = q.Where("a.incident_id = ?", incidentID)
	}
	if !since.IsZero() {
		q = q.Where("a.at >= ?", newDBTime(since))
	}
	if err := q.Scan(ctx); err != nil {
		return nil, nil, fmt.Errorf("list actions: %w", err)
	}
	recs := make([]schemas.ActionRecord, len(rows))
	ids := make([]string, len(rows))
	for i := range rows {
		j := len(rows) - 1 - i
		recs[j], ids[j] = rows[i].record(), rows[i].IncidentID
	}
	return recs, ids, nil
}

// postmortemModel is the bun model of table postmortems.
type postmortemModel struct {
	bun.BaseModel `bun:"table:postmortems,alias:p"`

	IncidentID  string `bun:"incident_id,pk"`
	Markdown    string `bun:"markdown"`
	GeneratedAt dbTime `bun:"generated_at"`
}

// SavePostMortem stores (or replaces) an incident's post-mortem.
func (s *Store) SavePostMortem(ctx context.Context, incidentID, markdown string, at time.Time) error {
	m := postmortemModel{IncidentID: incidentID, Markdown: markdown, GeneratedAt: newDBTime(at)}
	_, err := s.DB.NewInsert().Model(&m).
		On("CONFLICT (incident_id) DO UPDATE").Set("markdown = EXCLUDED.markdown").Set("generated_at = EXCLUDED.generated_at").
		Returning("NULL").Exec(ctx)
	if err != nil {
		return fmt.Errorf("save post-mortem of %s: %w", incidentID, err)
	}
	return nil
}

// PostMortem returns an incident's post-mortem, or an error wrapping ErrNotFound.
func (s *Store) PostMortem(ctx context.Context, incidentID string) (string, time.Time, error) {
	var m postmortemModel
	err := s.DB.NewSelect().Model(&m).Where("incident_id = ?", incidentID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, fmt.Errorf("post-mortem of incident %s: %w", incidentID, ErrNotFound)
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("read post-mortem of %s: %w", incidentID, err)
	}
	return m.Markdown, m.GeneratedAt.Time, nil
}

// HasTimeline reports whether the incident has a timeline entry with this key.
func (s *Store) HasTimeline(ctx context.Context, incidentID, key string) (bool, error) {
	n, err := s.DB.NewSelect().Model((*timelineModel)(nil)).
		Where("incident_id = ?", incidentID).Where(`"key" = ?`, key).Count(ctx)
	if err != nil {
		return false, fmt.Errorf("read timeline of %s: %w", incidentID, err)
	}
	return n > 0, nil
}

// CountTimeline counts the timeline entries of one kind at or after since, across
// incidents (for `incidents status`: notification failures of the last day).
func (s *Store) CountTimeline(ctx context.Context, kind string, since time.Time) (int, error) {
	n, err := s.DB.NewSelect().Model((*timelineModel)(nil)).
		Where("kind = ?", kind).Where("at >= ?", newDBTime(since)).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count %s timeline entries: %w", kind, err)
	}
	return n, nil
}
