package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// The event log: every stored event has a sequence number (events.seq, assigned by
// AppendEvents in commit order), and the detector consumes the log in that order from a
// cursor stored beside it (table detector_state). What the detector decides for a batch
// of events, and its new cursor, are written in one transaction (RecordDetections), so a
// restart resumes exactly where the last committed batch ended.

// EventsChannel is the PostgreSQL notification channel that AppendEvents notifies on
// commit; a detector in another process LISTENs on it.
const EventsChannel = "mahavishnu_events"

// AdvisoryLockClass is the first key of Mahavishnu's PostgreSQL advisory locks ("MAHA").
const AdvisoryLockClass = advisoryLockClassID

// Second keys of the PostgreSQL advisory locks (the first is AdvisoryLockClass).
const (
	// lockEventLog serialises appends to the log (transaction-level).
	lockEventLog = 2
	// LockDetector is held, session-level, by the one active detector.
	LockDetector = 3
)

// ErrFenced means another detector took the role over: this one must stop writing.
var ErrFenced = errors.New("the detector role was taken over by another process")

// detectorStateModel is the one row of table detector_state.
type detectorStateModel struct {
	bun.BaseModel `bun:"table:detector_state,alias:ds"`

	ID        int64  `bun:"id,pk"`
	Cursor    int64  `bun:"cursor"`
	Epoch     int64  `bun:"epoch"`
	Holder    string `bun:"holder"`
	UpdatedAt dbTime `bun:"updated_at"`
}

// LoggedEvent is a stored event with its place in the log.
type LoggedEvent struct {
	Seq   int64
	Event schemas.Event
}

// ReadLog returns up to limit events with seq > after, in seq order.
func (s *Store) ReadLog(ctx context.Context, after int64, limit int) ([]LoggedEvent, error) {
	var rows []eventModel
	if err := s.DB.NewSelect().Model(&rows).
		Where("e.seq > ?", after).
		OrderExpr("e.seq ASC").
		Limit(limit).
		Scan(ctx); err != nil {
		return nil, fmt.Errorf("read event log after %d: %w", after, err)
	}
	out := make([]LoggedEvent, len(rows))
	for i := range rows {
		out[i] = LoggedEvent{Seq: rows[i].Seq, Event: rows[i].event()}
	}
	return out, nil
}

// ReadDetectable returns, in seq order, up to limit events with after < seq <= upTo whose
// type is one of types and that no silence muted, reading only the columns detection uses
// (no metadata). next is how far the log was read: upTo when fewer than limit events
// matched, else the last one's seq. Events of other types are skipped in the database.
func (s *Store) ReadDetectable(ctx context.Context, after, upTo int64, types []string, limit int) (events []LoggedEvent, next int64, err error) {
	if upTo <= after {
		return nil, after, nil
	}
	if len(types) == 0 {
		return nil, upTo, nil
	}
	var rows []eventModel
	// The unary plus keeps SQLite on the seq range (the type index would need a sort).
	if err := s.DB.NewSelect().Model(&rows).
		Column("event_id", "timestamp", "event_type", "source", "severity", "message", "component", "seq").
		Where("e.seq > ? AND e.seq <= ?", after, upTo).
		Where(unindexed(s.DB, "e.event_type")+" IN (?)", bun.In(types)).
		Where(unindexed(s.DB, "e.silence_id") + " IS NULL").
		OrderExpr("e.seq ASC").
		Limit(limit).
		Scan(ctx); err != nil {
		return nil, after, fmt.Errorf("read event log after %d: %w", after, err)
	}
	events = make([]LoggedEvent, len(rows))
	for i := range rows {
		events[i] = LoggedEvent{Seq: rows[i].Seq, Event: rows[i].event()}
	}
	next = upTo
	if len(rows) == limit {
		next = rows[len(rows)-1].Seq
	}
	return events, next, nil
}

// ScanLogTail calls fn, in seq order, for the events with seq <= upTo and timestamp >=
// since that no incident holds and no silence muted: what the detector's windows held
// when it last wrote its cursor. It reads pages of 500.
func (s *Store) ScanLogTail(ctx context.Context, since time.Time, upTo int64, fn func(schemas.Event) error) error {
	// Start at the first event of the window rather than at the start of the log. The
	// unary plus makes both planners find the window by its timestamps (an index range)
	// instead of walking the log from its start.
	var first int64
	if err := s.DB.NewSelect().Model((*eventModel)(nil)).ColumnExpr("COALESCE(MIN(+e.seq), 0)").
		Where("e.timestamp >= ?", newDBTime(since)).Scan(ctx, &first); err != nil {
		return fmt.Errorf("scan event log tail: %w", err)
	}
	after := first - 1
	for {
		var rows []eventModel
		if err := s.DB.NewSelect().Model(&rows).
			Where("e.seq > ? AND e.seq <= ?", after, upTo).
			Where("e.timestamp >= ?", newDBTime(since)).
			Where(unindexed(s.DB, "e.incident_id") + " IS NULL AND " + unindexed(s.DB, "e.silence_id") + " IS NULL").
			OrderExpr("e.seq ASC").
			Limit(scanPageSize).
			Scan(ctx); err != nil {
			return fmt.Errorf("scan event log tail: %w", err)
		}
		for i := range rows {
			if err := fn(rows[i].event()); err != nil {
				return err
			}
		}
		if len(rows) < scanPageSize {
			return nil
		}
		after = rows[len(rows)-1].Seq
	}
}

// LogHead is the highest sequence number in the log (0 when it is empty).
func (s *Store) LogHead(ctx context.Context) (int64, error) {
	var head int64
	if err := s.DB.NewSelect().Model((*eventModel)(nil)).ColumnExpr("COALESCE(MAX(e.seq), 0)").Scan(ctx, &head); err != nil {
		return 0, fmt.Errorf("event log head: %w", err)
	}
	return head, nil
}

// DetectorCursor returns the detector's cursor: every event with seq <= cursor has been
// detected.
func (s *Store) DetectorCursor(ctx context.Context) (int64, error) {
	m := new(detectorStateModel)
	if err := s.DB.NewSelect().Model(m).Where("ds.id = 1").Scan(ctx); err != nil {
		return 0, fmt.Errorf("detector cursor: %w", err)
	}
	return m.Cursor, nil
}

// ClaimDetector makes holder the detector: it raises the fencing epoch, so that a previous
// holder still running can no longer move the cursor, and returns the new epoch and the
// cursor to resume from. Callers hold the detector lock first (LockDetector).
func (s *Store) ClaimDetector(ctx context.Context, holder string) (epoch, cursor int64, err error) {
	m := new(detectorStateModel)
	err = s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewUpdate().Model((*detectorStateModel)(nil)).
			Set("epoch = epoch + 1").
			Set("holder = ?", holder).
			Set("updated_at = ?", newDBTime(time.Now())).
			Where("id = 1").
			Exec(ctx); err != nil {
			return err
		}
		return tx.NewSelect().Model(m).Where("ds.id = 1").Scan(ctx)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("claim the detector role: %w", err)
	}
	return m.Epoch, m.Cursor, nil
}

// OpenIncident is an incident the detector knows to be open, with the counters it keeps.
type OpenIncident struct {
	IncidentID       string
	Fingerprint      string
	Components       []string
	MaxEventSeverity schemas.Severity
}

// OpenIncidents lists the incidents that are neither resolved nor closed, oldest first.
// Should two share a fingerprint, both are listed; the later one is the one to use.
func (s *Store) OpenIncidents(ctx context.Context) ([]OpenIncident, error) {
	var rows []incidentModel
	err := s.DB.NewSelect().Model(&rows).
		Column("incident_id", "fingerprint", "affected_components", "max_event_severity").
		Where("i.status NOT IN (?)", bun.In([]string{string(schemas.StatusResolved), string(schemas.StatusClosed)})).
		OrderExpr("i.detected_at ASC, i.incident_id ASC").
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("open incidents: %w", err)
	}
	out := make([]OpenIncident, len(rows))
	for i, r := range rows {
		out[i] = OpenIncident{IncidentID: r.IncidentID, Fingerprint: r.Fingerprint,
			Components: r.AffectedComponents, MaxEventSeverity: schemas.Severity(r.MaxEventSeverity)}
	}
	return out, nil
}

// RecordDetections runs fn in one transaction with a Batch to record what the detector
// decided, then moves the cursor to cursor (never backwards). now stamps the rows. It fails with ErrFenced,
// writing nothing, when epoch is no longer the detector's (another process claimed it).
func (s *Store) RecordDetections(ctx context.Context, epoch, cursor int64, now time.Time, fn func(ctx context.Context, b *Batch) error) error {
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		b := &Batch{tx: tx, now: now.UTC()}
		if err := fn(ctx, b); err != nil {
			return err
		}
		res, err := tx.NewUpdate().Model((*detectorStateModel)(nil)).
			Set("cursor = CASE WHEN cursor > ? THEN cursor ELSE ? END", cursor, cursor).
			Set("updated_at = ?", newDBTime(b.now)).
			Where("id = 1 AND epoch = ?", epoch).
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("move the detector cursor: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrFenced
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrFenced) {
		return fmt.Errorf("record detections up to %d: %w", cursor, err)
	}
	return err
}

// Batch records the detector's decisions inside RecordDetections' transaction.
type Batch struct {
	tx  bun.Tx
	now time.Time
}

// Open records a new incident: its row (status detected), its events attached, and the
// outbox row that starts its workflow with input (the workflow input, as JSON).
func (b *Batch) Open(ctx context.Context, inc *schemas.Incident, eventIDs []string, maxSeverity schemas.Severity, input []byte) error {
	m := newIncidentModel(inc)
	m.Version = 0 // the workflow's first snapshot replaces it
	m.MaxEventSeverity = string(maxSeverity)
	m.UpdatedAt = newDBTime(b.now)
	if err := m.validate(); err != nil {
		return fmt.Errorf("open incident %s: %w", inc.IncidentID, err)
	}
	if _, err := b.tx.NewInsert().Model(&m).On("CONFLICT (incident_id) DO NOTHING").Exec(ctx); err != nil {
		return fmt.Errorf("open incident %s: %w", inc.IncidentID, err)
	}
	if _, err := attachEvents(ctx, b.tx, inc.IncidentID, eventIDs); err != nil {
		return fmt.Errorf("open incident %s: attach events: %w", inc.IncidentID, err)
	}
	return b.enqueue(ctx, OutboxOpen, inc.IncidentID, inc.WorkflowID, input)
}

// LastIncident returns the ID of the latest incident of a fingerprint ("" when none).
func (b *Batch) LastIncident(ctx context.Context, fingerprint string) (string, error) {
	var ids []string
	if err := b.tx.NewSelect().Model((*incidentModel)(nil)).Column("incident_id").
		Where("i.fingerprint = ?", fingerprint).
		OrderExpr("i.detected_at DESC").Limit(1).
		Scan(ctx, &ids); err != nil {
		return "", fmt.Errorf("last incident of %s: %w", fingerprint, err)
	}
	if len(ids) == 0 {
		return "", nil
	}
	return ids[0], nil
}

// Counters are what one batch adds to an open incident.
type Counters struct {
	Events  int
	FirstAt time.Time
	LastAt  time.Time
	// Components is the incident's whole sorted component list after the batch.
	Components []string
	// MaxEventSeverity is the highest event severity after the batch.
	MaxEventSeverity schemas.Severity
}

// Attach attaches events to an open incident, adds c to its counters and queues its
// events_attached signal (one outbox row per incident at a time). It reports false, and
// changes nothing, when the incident is no longer open (resolved or closed meanwhile).
func (b *Batch) Attach(ctx context.Context, incidentID, workflowID string, eventIDs []string, c Counters) (bool, error) {
	comps := c.Components
	if comps == nil {
		comps = []string{}
	}
	res, err := b.tx.NewUpdate().Model((*incidentModel)(nil)).
		Set("event_count = event_count + ?", c.Events).
		Set("first_event_at = CASE WHEN first_event_at IS NULL OR first_event_at > ? THEN ? ELSE first_event_at END", newDBTime(c.FirstAt), newDBTime(c.FirstAt)).
		Set("last_event_at = CASE WHEN last_event_at IS NULL OR last_event_at < ? THEN ? ELSE last_event_at END", newDBTime(c.LastAt), newDBTime(c.LastAt)).
		Set("affected_components = ?", jsonList(comps)).
		Set("max_event_severity = ?", string(c.MaxEventSeverity)).
		Where("incident_id = ?", incidentID).
		Where("status NOT IN (?)", bun.In([]string{string(schemas.StatusResolved), string(schemas.StatusClosed)})).
		Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("attach %d events to %s: %w", len(eventIDs), incidentID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, err
	} else if n == 0 {
		return false, nil
	}
	if _, err := attachEvents(ctx, b.tx, incidentID, eventIDs); err != nil {
		return false, fmt.Errorf("attach %d events to %s: %w", len(eventIDs), incidentID, err)
	}
	return true, b.enqueue(ctx, OutboxAttach, incidentID, workflowID, nil)
}

// jsonList marshals a string list for a JSON column.
func jsonList(l []string) string {
	b, _ := json.Marshal(l) // a []string always marshals
	return string(b)
}

// OpenPayload is the outbox payload of an opening: the workflow input and the previous
// incident of the same fingerprint (whose workflow may still be finishing).
type OpenPayload struct {
	Input    schemas.IncidentInput `json:"input"`
	Previous string                `json:"previous,omitempty"`
}

// OpenIncident opens an incident outside the detector (a missed heartbeat, issue 11):
// the incident row and its outbox row in one transaction, like Batch.Open, so the
// dispatcher starts its workflow. Opening the same incident ID again changes nothing.
func (s *Store) OpenIncident(ctx context.Context, now time.Time, in schemas.IncidentInput) error {
	return s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		b := &Batch{tx: tx, now: now.UTC()}
		prev, err := b.LastIncident(ctx, in.Fingerprint)
		if err != nil {
			return err
		}
		if prev == in.IncidentID {
			return nil // opened already (a retried activity)
		}
		payload, err := json.Marshal(OpenPayload{Input: in, Previous: prev})
		if err != nil {
			return err
		}
		inc := &schemas.Incident{IncidentID: in.IncidentID, IncidentType: in.IncidentType, Severity: in.Severity,
			Status: schemas.StatusDetected, Title: in.Title, Description: in.Description, RuleID: in.RuleID,
			Fingerprint: in.Fingerprint, Source: in.Source, DetectedAt: in.DetectedAt, AffectedComponents: []string{in.Source},
			WorkflowID: schemas.IncidentWorkflowID(in.Fingerprint)}
		return b.Open(ctx, inc, nil, in.Severity, payload)
	})
}
