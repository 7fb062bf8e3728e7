package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/mahavishnu/mahavishnu/schemas"
)

const (
	// defaultListLimit is the page size of ListEvents and ListIncidents when none is given.
	defaultListLimit = 100
	// maxListLimit bounds one list call.
	maxListLimit = 10000
	// scanPageSize is how many events ScanEvents reads per query.
	scanPageSize = 500
	// writeChunk bounds the rows of one INSERT or the IDs of one IN list.
	writeChunk = 500
)

// eventModel is the bun model of table events.
type eventModel struct {
	bun.BaseModel `bun:"table:events,alias:e"`

	EventID       string         `bun:"event_id,pk"`
	Timestamp     dbTime         `bun:"timestamp"`
	ReceivedAt    dbTime         `bun:"received_at"`
	EventType     string         `bun:"event_type"`
	Source        string         `bun:"source"`
	Severity      string         `bun:"severity"`
	Message       string         `bun:"message"`
	Metadata      map[string]any `bun:"metadata,nullzero"`
	CorrelationID string         `bun:"correlation_id"`
	Component     string         `bun:"component"`
	IncidentID    string         `bun:"incident_id,nullzero"`
	SilenceID     string         `bun:"silence_id,nullzero"`
	// Seq is the event's place in the log (see AppendEvents).
	Seq int64 `bun:"seq,nullzero"`
}

func newEventModel(ev schemas.Event, receivedAt time.Time) eventModel {
	md := ev.Metadata
	if len(md) == 0 {
		md = nil
	}
	return eventModel{
		EventID:       ev.EventID,
		Timestamp:     newDBTime(ev.Timestamp),
		ReceivedAt:    newDBTime(receivedAt),
		EventType:     ev.EventType,
		Source:        ev.Source,
		Severity:      string(ev.Severity),
		Message:       ev.Message,
		Metadata:      md,
		CorrelationID: ev.CorrelationID,
		Component:     ev.Component,
		IncidentID:    ev.IncidentID,
		SilenceID:     ev.SilencedBy,
	}
}

// validate checks what the table needs; index is the position in the batch.
func (m *eventModel) validate(index int) error {
	fe := func(field string) error {
		return &schemas.FieldError{Index: index, Field: field, Message: "is required"}
	}
	switch {
	case m.EventID == "":
		return fe("event_id")
	case m.Timestamp.IsZero():
		return fe("timestamp")
	case m.EventType == "":
		return fe("event_type")
	case m.Source == "":
		return fe("source")
	case m.Severity == "":
		return fe("severity")
	}
	return nil
}

func (m *eventModel) event() schemas.Event {
	return schemas.Event{
		EventID:       m.EventID,
		Timestamp:     m.Timestamp.Time,
		EventType:     m.EventType,
		Source:        m.Source,
		Severity:      schemas.Severity(m.Severity),
		Message:       m.Message,
		Metadata:      m.Metadata,
		CorrelationID: m.CorrelationID,
		Component:     m.Component,
		IncidentID:    m.IncidentID,
		SilencedBy:    m.SilenceID,
	}
}

// InsertEvents stores a batch of normalized events in one transaction (AppendEvents with
// one batch). inserted lists, in input order, the IDs that were new.
func (s *Store) InsertEvents(ctx context.Context, events []schemas.Event, receivedAt time.Time) (inserted []string, err error) {
	res, err := s.AppendEvents(ctx, [][]schemas.Event{events}, receivedAt)
	if err != nil {
		return nil, err
	}
	return res[0], nil
}

// AppendEvents appends several batches of normalized events to the event log in one
// transaction: the group commit of ingest. Each event gets the next sequence number, in
// input order; an event whose ID is already stored (a re-sent event) is ignored. For each
// batch it returns, in input order, the IDs that were new (an ID repeated across batches
// counts for the first). receivedAt defaults to now.
//
// Sequence numbers are assigned under the log's write lock (SQLite's single writer; on
// PostgreSQL a transaction-level advisory lock), so they are in commit order: a reader
// that sees seq N has seen every smaller one. On PostgreSQL the commit also notifies
// EventsChannel, which wakes the detector of another process.
func (s *Store) AppendEvents(ctx context.Context, batches [][]schemas.Event, receivedAt time.Time) (inserted [][]string, err error) {
	if receivedAt.IsZero() {
		receivedAt = time.Now()
	}
	total := 0
	for _, b := range batches {
		total += len(b)
	}
	inserted = make([][]string, len(batches))
	if total == 0 {
		return inserted, nil
	}
	models := make([]eventModel, 0, total)
	owner := make([]int, 0, total) // batch of each model
	seen := make(map[string]struct{}, total)
	for bi, batch := range batches {
		for i, ev := range batch {
			m := newEventModel(ev, receivedAt)
			if err := m.validate(i); err != nil {
				return nil, fmt.Errorf("insert events: %w", err)
			}
			if _, dup := seen[m.EventID]; dup {
				continue
			}
			seen[m.EventID] = struct{}{}
			models = append(models, m)
			owner = append(owner, bi)
		}
	}
	isNew := make(map[string]bool, len(models))
	err = s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if s.dialect == DialectPostgres {
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?, ?)", advisoryLockClassID, lockEventLog); err != nil {
				return fmt.Errorf("event log lock: %w", err)
			}
		}
		var head int64
		if err := tx.NewSelect().Model((*eventModel)(nil)).ColumnExpr("COALESCE(MAX(e.seq), 0)").Scan(ctx, &head); err != nil {
			return fmt.Errorf("event log head: %w", err)
		}
		for i := range models {
			models[i].Seq = head + int64(i) + 1
		}
		for chunk := range slices.Chunk(models, writeChunk) {
			var ids []string
			if err := tx.NewInsert().Model(&chunk).
				On("CONFLICT (event_id) DO NOTHING").
				Returning("event_id").
				Scan(ctx, &ids); err != nil {
				return err
			}
			for _, id := range ids {
				isNew[id] = true
			}
		}
		if s.dialect == DialectPostgres && len(isNew) > 0 {
			if _, err := tx.ExecContext(ctx, "SELECT pg_notify(?, '')", EventsChannel); err != nil {
				return fmt.Errorf("notify %s: %w", EventsChannel, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("insert %d events: %w", len(models), err)
	}
	for i, m := range models {
		if isNew[m.EventID] {
			inserted[owner[i]] = append(inserted[owner[i]], m.EventID)
		}
	}
	for bi := range inserted {
		if inserted[bi] == nil {
			inserted[bi] = []string{}
		}
	}
	return inserted, nil
}

// EventFilter selects events for ListEvents. Zero fields do not filter.
type EventFilter struct {
	// Last is how many of the newest matching events to return: 0 means 100, at most 10000.
	Last int
	// Type matches event_type exactly.
	Type string
	// Source matches source exactly.
	Source string
	// IncidentID selects the events attached to one incident.
	IncidentID string
	// Since keeps events with timestamp >= Since.
	Since time.Time
	// UnattachedOnly keeps events not attached to any incident.
	UnattachedOnly bool
}

func (f EventFilter) apply(q *bun.SelectQuery) *bun.SelectQuery {
	if f.Type != "" {
		q = q.Where("e.event_type = ?", f.Type)
	}
	if f.Source != "" {
		q = q.Where("e.source = ?", f.Source)
	}
	if f.IncidentID != "" {
		q = q.Where("e.incident_id = ?", f.IncidentID)
	}
	if !f.Since.IsZero() {
		q = q.Where("e.timestamp >= ?", newDBTime(f.Since))
	}
	if f.UnattachedOnly {
		q = q.Where("e.incident_id IS NULL")
	}
	return q
}

// ListEvents returns the newest matching events first (ties by event ID, descending).
func (s *Store) ListEvents(ctx context.Context, f EventFilter) ([]schemas.Event, error) {
	limit := clampLimit(f.Last)
	var rows []eventModel
	q := f.apply(s.DB.NewSelect().Model(&rows)).
		OrderExpr("e.timestamp DESC, e.event_id DESC").
		Limit(limit)
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	events := make([]schemas.Event, len(rows))
	for i := range rows {
		events[i] = rows[i].event()
	}
	return events, nil
}

// ScanEvents calls fn for every event with timestamp >= since (all events for a zero
// since), oldest first (ties by event ID), reading pages of 500 by keyset so that memory
// stays flat; unattachedOnly skips events attached to an incident. It stops at fn's first
// error and returns it.
func (s *Store) ScanEvents(ctx context.Context, since time.Time, unattachedOnly bool, fn func(schemas.Event) error) error {
	var last *eventModel
	for {
		var rows []eventModel
		q := EventFilter{Since: since, UnattachedOnly: unattachedOnly}.apply(s.DB.NewSelect().Model(&rows))
		if last != nil {
			q = q.Where("(e.timestamp > ? OR (e.timestamp = ? AND e.event_id > ?))", last.Timestamp, last.Timestamp, last.EventID)
		}
		if err := q.OrderExpr("e.timestamp ASC, e.event_id ASC").Limit(scanPageSize).Scan(ctx); err != nil {
			return fmt.Errorf("scan events: %w", err)
		}
		for i := range rows {
			if err := fn(rows[i].event()); err != nil {
				return err
			}
		}
		if len(rows) < scanPageSize {
			return nil
		}
		last = &rows[len(rows)-1]
	}
}

// AttachEvents sets incident_id on those of eventIDs that are not attached to an incident
// yet, in one transaction, and returns how many changed. Repeating it changes nothing.
func (s *Store) AttachEvents(ctx context.Context, incidentID string, eventIDs []string) (int, error) {
	if incidentID == "" {
		return 0, fmt.Errorf("attach events: incident_id is required")
	}
	if len(eventIDs) == 0 {
		return 0, nil
	}
	changed := 0
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		n, err := attachEvents(ctx, tx, incidentID, eventIDs)
		changed = n
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("attach %d events to incident %s: %w", len(eventIDs), incidentID, err)
	}
	return changed, nil
}

func attachEvents(ctx context.Context, db bun.IDB, incidentID string, eventIDs []string) (int, error) {
	changed := 0
	for chunk := range slices.Chunk(eventIDs, writeChunk) {
		res, err := attachQuery(db, incidentID, chunk).Exec(ctx)
		if err != nil {
			return changed, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return changed, err
		}
		changed += int(n)
	}
	return changed, nil
}

// CountEvents counts the events the filter selects (Last is ignored); an empty filter
// counts every event.
func (s *Store) CountEvents(ctx context.Context, f EventFilter) (int, error) {
	q := f.apply(s.DB.NewSelect().Model((*eventModel)(nil)))
	n, err := q.Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count events: %w", err)
	}
	return n, nil
}

// attachQuery sets incident_id on the events of ids that have none.
func attachQuery(db bun.IDB, incidentID string, ids []string) *bun.UpdateQuery {
	return db.NewUpdate().Model((*eventModel)(nil)).
		Set("incident_id = ?", incidentID).
		Where("event_id IN (?)", bun.In(ids)).
		Where(unindexed(db, "incident_id") + " IS NULL")
}

// unindexed keeps SQLite's planner from using the index on col for this term. Without
// statistics it takes "incident_id IS NULL" (every unattached event) for a selective index
// once an IN list of IDs is longer than a few dozen, and scans every unattached event for
// each attachment: measured, the storm fell from 19,000 to 540 events/s with 200,000
// unattached events stored. PostgreSQL plans from statistics: col is left as it is.
func unindexed(db bun.IDB, col string) string {
	if db.Dialect().Name() == dialect.SQLite {
		return "+" + col
	}
	return col
}

func clampLimit(n int) int {
	switch {
	case n <= 0:
		return defaultListLimit
	case n > maxListLimit:
		return maxListLimit
	}
	return n
}
