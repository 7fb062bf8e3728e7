package store

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// The outbox holds what Temporal must learn, written in the detector's transaction
// (Batch.Open, Batch.Attach) and delivered by the dispatcher, which deletes a row once
// Temporal accepted it. Rows survive restarts; a row that fails waits for its next attempt.

// Outbox row kinds.
const (
	// OutboxOpen starts an incident's workflow (SignalWithStartWorkflow).
	OutboxOpen = "open"
	// OutboxAttach signals an open incident that its counters changed (events_attached).
	OutboxAttach = "attach"
)

// outboxModel is the bun model of table outbox.
type outboxModel struct {
	bun.BaseModel `bun:"table:outbox,alias:o"`

	ID            int64  `bun:"id,pk,autoincrement"`
	Kind          string `bun:"kind"`
	IncidentID    string `bun:"incident_id"`
	WorkflowID    string `bun:"workflow_id"`
	Payload       string `bun:"payload"`
	Change        int64  `bun:"change"`
	Attempts      int    `bun:"attempts"`
	CreatedAt     dbTime `bun:"created_at"`
	NextAttemptAt dbTime `bun:"next_attempt_at"`
	LastError     string `bun:"last_error"`
}

// OutboxRow is one message waiting for Temporal.
type OutboxRow struct {
	ID         int64
	Kind       string
	IncidentID string
	WorkflowID string
	// Payload is the workflow input (JSON) of an open; empty for an attach.
	Payload []byte
	// Change identifies the row's content: a row changed since it was read is not deleted.
	Change    int64
	Attempts  int
	CreatedAt time.Time
	LastError string
}

func (b *Batch) enqueue(ctx context.Context, kind, incidentID, workflowID string, payload []byte) error {
	m := outboxModel{Kind: kind, IncidentID: incidentID, WorkflowID: workflowID, Payload: string(payload),
		Change: 1, CreatedAt: newDBTime(b.now), NextAttemptAt: newDBTime(b.now)}
	// A waiting attach row absorbs the new change: it is the same message, sent later.
	if _, err := b.tx.NewInsert().Model(&m).
		On("CONFLICT (incident_id, kind) DO UPDATE").
		Set("change = o.change + 1").
		Exec(ctx); err != nil {
		return fmt.Errorf("outbox %s for %s: %w", kind, incidentID, err)
	}
	return nil
}

// DueOutbox returns up to limit rows whose next attempt is due at now: opens first, then
// by age. An attach row waits while its incident's open row is still undelivered.
func (s *Store) DueOutbox(ctx context.Context, now time.Time, limit int) ([]OutboxRow, error) {
	var rows []outboxModel
	err := s.DB.NewSelect().Model(&rows).
		Where("o.next_attempt_at <= ?", newDBTime(now)).
		Where("o.kind = ? OR NOT EXISTS (SELECT 1 FROM outbox AS p WHERE p.incident_id = o.incident_id AND p.kind = ?)", OutboxOpen, OutboxOpen).
		OrderExpr("CASE WHEN o.kind = ? THEN 0 ELSE 1 END, o.id", OutboxOpen).
		Limit(limit).
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the outbox: %w", err)
	}
	out := make([]OutboxRow, len(rows))
	for i, r := range rows {
		out[i] = OutboxRow{ID: r.ID, Kind: r.Kind, IncidentID: r.IncidentID, WorkflowID: r.WorkflowID,
			Payload: []byte(r.Payload), Change: r.Change, Attempts: r.Attempts, CreatedAt: r.CreatedAt.Time, LastError: r.LastError}
	}
	return out, nil
}

// NextOutboxAttempt is when the earliest waiting row is due (zero when the outbox is empty).
func (s *Store) NextOutboxAttempt(ctx context.Context) (time.Time, error) {
	var next dbTime
	err := s.DB.NewSelect().Model((*outboxModel)(nil)).ColumnExpr("MIN(o.next_attempt_at)").Scan(ctx, &next)
	if err != nil {
		return time.Time{}, fmt.Errorf("read the outbox: %w", err)
	}
	return next.Time, nil
}

// CompleteOutbox deletes a delivered row, unless it changed since it was read (then it
// stays, to be delivered again with the new content). It reports whether it deleted.
func (s *Store) CompleteOutbox(ctx context.Context, r OutboxRow) (bool, error) {
	n, err := s.CompleteOutboxRows(ctx, []OutboxRow{r})
	return n > 0, err
}

// CompleteOutboxRows is CompleteOutbox for several rows in one transaction; it returns how
// many it deleted.
func (s *Store) CompleteOutboxRows(ctx context.Context, rows []OutboxRow) (int, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	deleted := 0
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		deleted = 0
		for _, r := range rows {
			res, err := tx.NewDelete().Model((*outboxModel)(nil)).
				Where("id = ? AND change = ?", r.ID, r.Change).
				Exec(ctx)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			deleted += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("complete %d outbox rows: %w", len(rows), err)
	}
	return deleted, nil
}

// RetryOutbox records a failed delivery and when to try again.
func (s *Store) RetryOutbox(ctx context.Context, r OutboxRow, next time.Time, cause string) error {
	if len(cause) > 500 {
		cause = cause[:500]
	}
	_, err := s.DB.NewUpdate().Model((*outboxModel)(nil)).
		Set("attempts = attempts + 1").
		Set("next_attempt_at = ?", newDBTime(next)).
		Set("last_error = ?", cause).
		Where("id = ?", r.ID).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("retry outbox row %d: %w", r.ID, err)
	}
	return nil
}

// RetryOutboxNow makes the rows waiting after a failed attempt due at now (Temporal came
// back; their backoff no longer applies). Rows deferred by the attach interval keep waiting.
func (s *Store) RetryOutboxNow(ctx context.Context, now time.Time) error {
	_, err := s.DB.NewUpdate().Model((*outboxModel)(nil)).
		Set("next_attempt_at = ?", newDBTime(now)).
		Where("attempts > 0 AND next_attempt_at > ?", newDBTime(now)).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("retry the outbox now: %w", err)
	}
	return nil
}

// DeferOutbox moves a row's next attempt to next without counting a failure (the attach
// signal interval of its incident has not passed yet).
func (s *Store) DeferOutbox(ctx context.Context, r OutboxRow, next time.Time) error {
	_, err := s.DB.NewUpdate().Model((*outboxModel)(nil)).
		Set("next_attempt_at = ?", newDBTime(next)).
		Where("id = ?", r.ID).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("defer outbox row %d: %w", r.ID, err)
	}
	return nil
}

// OutboxStats describes the outbox for /healthz and /metrics.
type OutboxStats struct {
	Depth        int       `json:"depth"`
	PendingOpens int       `json:"pending_opens"`
	Oldest       time.Time `json:"-"`
}

// OutboxStats counts the waiting rows and finds the oldest.
func (s *Store) OutboxStats(ctx context.Context) (OutboxStats, error) {
	var row struct {
		Depth  int    `bun:"depth"`
		Opens  int    `bun:"opens"`
		Oldest dbTime `bun:"oldest"`
	}
	err := s.DB.NewSelect().Model((*outboxModel)(nil)).
		ColumnExpr("COUNT(*) AS depth").
		ColumnExpr("COALESCE(SUM(CASE WHEN o.kind = ? THEN 1 ELSE 0 END), 0) AS opens", OutboxOpen).
		ColumnExpr("MIN(o.created_at) AS oldest").
		Scan(ctx, &row)
	if err != nil {
		return OutboxStats{}, fmt.Errorf("outbox stats: %w", err)
	}
	return OutboxStats{Depth: row.Depth, PendingOpens: row.Opens, Oldest: row.Oldest.Time}, nil
}

// IncidentCounters returns the events_attached payload of each incident, read from its row.
func (s *Store) IncidentCounters(ctx context.Context, ids []string) (map[string]schemas.EventsAttached, error) {
	out := make(map[string]schemas.EventsAttached, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []incidentModel
	if err := s.DB.NewSelect().Model(&rows).
		Column("incident_id", "event_count", "first_event_at", "last_event_at", "affected_components", "max_event_severity").
		Where("i.incident_id IN (?)", bun.In(ids)).
		Scan(ctx); err != nil {
		return nil, fmt.Errorf("incident counters: %w", err)
	}
	for _, r := range rows {
		out[r.IncidentID] = schemas.EventsAttached{IncidentID: r.IncidentID, EventCount: r.EventCount,
			FirstAt: r.FirstEventAt.Time, LastAt: r.LastEventAt.Time, Components: r.AffectedComponents,
			MaxEventSeverity: schemas.Severity(r.MaxEventSeverity)}
	}
	return out, nil
}
