package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// incidentModel is the bun model of table incidents.
type incidentModel struct {
	bun.BaseModel `bun:"table:incidents,alias:i"`

	IncidentID         string   `bun:"incident_id,pk"`
	IncidentType       string   `bun:"incident_type"`
	Severity           string   `bun:"severity"`
	Status             string   `bun:"status"`
	Title              string   `bun:"title"`
	Description        string   `bun:"description"`
	RuleID             string   `bun:"rule_id"`
	Fingerprint        string   `bun:"fingerprint"`
	Source             string   `bun:"source"`
	DetectedAt         dbTime   `bun:"detected_at"`
	FirstEventAt       dbTime   `bun:"first_event_at"`
	LastEventAt        dbTime   `bun:"last_event_at"`
	AcknowledgedAt     dbTime   `bun:"acknowledged_at"`
	AcknowledgedBy     string   `bun:"acknowledged_by"`
	AssignedTo         string   `bun:"assigned_to"`
	ResolvedAt         dbTime   `bun:"resolved_at"`
	ResolvedBy         string   `bun:"resolved_by"`
	ResolutionNotes    string   `bun:"resolution_notes"`
	ClosedAt           dbTime   `bun:"closed_at"`
	ClosedBy           string   `bun:"closed_by"`
	EventCount         int      `bun:"event_count"`
	AffectedComponents []string `bun:"affected_components"` // JSON array
	MTTDSeconds        *float64 `bun:"mttd_seconds"`
	MTTASeconds        *float64 `bun:"mtta_seconds"`
	MTTRSeconds        *float64 `bun:"mttr_seconds"`
	MTTRBreached       bool     `bun:"mttr_breached"`
	EscalationLevel    int      `bun:"escalation_level"`
	EscalationName     string   `bun:"escalation_name"`
	// MaxEventSeverity is kept by the detector (see RecordDetections); snapshots leave it.
	MaxEventSeverity string `bun:"max_event_severity"`
	WorkflowID       string `bun:"workflow_id"`
	RunID            string `bun:"run_id"`
	UpdatedAt        dbTime `bun:"updated_at"`
	Version          int64  `bun:"version"`
}

// incidentKeptWhenClosed are the columns an upsert must not change once the stored row is
// closed: the workflow may write a late snapshot, but never reopens a closed incident.
var incidentKeptWhenClosed = []string{"status", "closed_at", "closed_by"}

// The detector keeps an incident's event counters in the store as it attaches events
// (RecordDetections); a workflow snapshot may be a moment behind them. So an upsert merges
// these columns instead of replacing them: counts and time ranges only grow, and the
// component list (the snapshot's is always a subset of the detector's) keeps the longer.
var incidentMergedColumns = map[string]string{
	"event_count":    "CASE WHEN EXCLUDED.event_count > i.event_count THEN EXCLUDED.event_count ELSE i.event_count END",
	"first_event_at": "CASE WHEN i.first_event_at IS NULL OR (EXCLUDED.first_event_at IS NOT NULL AND EXCLUDED.first_event_at < i.first_event_at) THEN EXCLUDED.first_event_at ELSE i.first_event_at END",
	"last_event_at":  "CASE WHEN i.last_event_at IS NULL OR (EXCLUDED.last_event_at IS NOT NULL AND EXCLUDED.last_event_at > i.last_event_at) THEN EXCLUDED.last_event_at ELSE i.last_event_at END",
}

// incidentDetectorColumns are written by the detector only.
var incidentDetectorColumns = []string{"max_event_severity"}

// componentsMerge keeps the longer affected_components list, per dialect.
func componentsMerge(d dialect.Name) string {
	if d == dialect.PG {
		return "CASE WHEN jsonb_array_length(EXCLUDED.affected_components::jsonb) >= jsonb_array_length(i.affected_components::jsonb) THEN EXCLUDED.affected_components ELSE i.affected_components END"
	}
	return "CASE WHEN json_array_length(EXCLUDED.affected_components) >= json_array_length(i.affected_components) THEN EXCLUDED.affected_components ELSE i.affected_components END"
}

var incidentModelType = reflect.TypeFor[incidentModel]()

func newIncidentModel(inc *schemas.Incident) incidentModel {
	comps := inc.AffectedComponents
	if comps == nil {
		comps = []string{}
	}
	return incidentModel{
		IncidentID:         inc.IncidentID,
		IncidentType:       inc.IncidentType,
		Severity:           string(inc.Severity),
		Status:             string(inc.Status),
		Title:              inc.Title,
		Description:        inc.Description,
		RuleID:             inc.RuleID,
		Fingerprint:        inc.Fingerprint,
		Source:             inc.Source,
		DetectedAt:         newDBTime(inc.DetectedAt),
		FirstEventAt:       newDBTimePtr(inc.FirstEventAt),
		LastEventAt:        newDBTimePtr(inc.LastEventAt),
		AcknowledgedAt:     newDBTimePtr(inc.AcknowledgedAt),
		AcknowledgedBy:     inc.AcknowledgedBy,
		AssignedTo:         inc.AssignedTo,
		ResolvedAt:         newDBTimePtr(inc.ResolvedAt),
		ResolvedBy:         inc.ResolvedBy,
		ResolutionNotes:    inc.ResolutionNotes,
		ClosedAt:           newDBTimePtr(inc.ClosedAt),
		ClosedBy:           inc.ClosedBy,
		EventCount:         inc.EventCount,
		AffectedComponents: comps,
		MTTDSeconds:        inc.MTTDSeconds,
		MTTASeconds:        inc.MTTASeconds,
		MTTRSeconds:        inc.MTTRSeconds,
		MTTRBreached:       inc.MTTRBreached,
		WorkflowID:         inc.WorkflowID,
		RunID:              inc.RunID,
		UpdatedAt:          newDBTime(inc.UpdatedAt),
		Version:            inc.Version,
		EscalationLevel:    inc.EscalationLevel,
		EscalationName:     inc.EscalationName,
	}
}

// validate checks the columns the read model relies on, naming the field.
func (m *incidentModel) validate() error {
	switch {
	case m.IncidentID == "":
		return errors.New("incident_id is required")
	case m.IncidentType == "":
		return errors.New("incident_type is required")
	case m.Fingerprint == "":
		return errors.New("fingerprint is required")
	case m.DetectedAt.IsZero():
		return errors.New("detected_at is required")
	case !schemas.Severity(m.Severity).Valid():
		return fmt.Errorf("severity: invalid value %q: want one of low, medium, high, critical", m.Severity)
	}
	if _, err := schemas.ParseStatus(m.Status); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	return nil
}

func (m *incidentModel) incident() *schemas.Incident {
	comps := m.AffectedComponents
	if comps == nil {
		comps = []string{}
	}
	return &schemas.Incident{
		IncidentID:         m.IncidentID,
		IncidentType:       m.IncidentType,
		Severity:           schemas.Severity(m.Severity),
		Status:             schemas.Status(m.Status),
		Title:              m.Title,
		Description:        m.Description,
		RuleID:             m.RuleID,
		Fingerprint:        m.Fingerprint,
		Source:             m.Source,
		DetectedAt:         m.DetectedAt.Time,
		FirstEventAt:       m.FirstEventAt.ptr(),
		LastEventAt:        m.LastEventAt.ptr(),
		AcknowledgedAt:     m.AcknowledgedAt.ptr(),
		AcknowledgedBy:     m.AcknowledgedBy,
		AssignedTo:         m.AssignedTo,
		ResolvedAt:         m.ResolvedAt.ptr(),
		ResolvedBy:         m.ResolvedBy,
		ResolutionNotes:    m.ResolutionNotes,
		ClosedAt:           m.ClosedAt.ptr(),
		ClosedBy:           m.ClosedBy,
		EventCount:         m.EventCount,
		AffectedComponents: comps,
		MTTDSeconds:        m.MTTDSeconds,
		MTTASeconds:        m.MTTASeconds,
		MTTRSeconds:        m.MTTRSeconds,
		MTTRBreached:       m.MTTRBreached,
		WorkflowID:         m.WorkflowID,
		RunID:              m.RunID,
		UpdatedAt:          m.UpdatedAt.Time,
		Version:            m.Version,
		EscalationLevel:    m.EscalationLevel,
		EscalationName:     m.EscalationName,
	}
}

// UpsertIncident writes a whole incident snapshot: it inserts the row or updates every
// column, except that a stored closed incident keeps its status, closed_at and closed_by.
// A zero UpdatedAt is stored as now.
func (s *Store) UpsertIncident(ctx context.Context, inc *schemas.Incident) error {
	if err := upsertIncident(ctx, s.DB, inc); err != nil {
		return fmt.Errorf("upsert incident %s: %w", inc.IncidentID, err)
	}
	return nil
}

// SaveIncident upserts the incident (as UpsertIncident) and adds the timeline entries (as
// AddTimeline) in one transaction.
func (s *Store) SaveIncident(ctx context.Context, inc *schemas.Incident, entries ...schemas.TimelineEntry) error {
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := upsertIncident(ctx, tx, inc); err != nil {
			return err
		}
		return addTimeline(ctx, tx, entries)
	})
	if err != nil {
		return fmt.Errorf("save incident %s: %w", inc.IncidentID, err)
	}
	return nil
}

func upsertIncident(ctx context.Context, db bun.IDB, inc *schemas.Incident) error {
	m := newIncidentModel(inc)
	if m.UpdatedAt.IsZero() {
		m.UpdatedAt = newDBTime(time.Now())
	}
	if err := m.validate(); err != nil {
		return err
	}
	q := db.NewInsert().Model(&m).On("CONFLICT (incident_id) DO UPDATE").Returning("NULL")
	for _, f := range db.Dialect().Tables().Get(incidentModelType).DataFields {
		col := f.Name
		switch {
		case slices.Contains(incidentDetectorColumns, col):
		case incidentMergedColumns[col] != "":
			q = q.Set("? = "+incidentMergedColumns[col], bun.Ident(col))
		case col == "affected_components":
			q = q.Set("? = "+componentsMerge(db.Dialect().Name()), bun.Ident(col))
		case slices.Contains(incidentKeptWhenClosed, col):
			q = q.Set("? = CASE WHEN i.status = ? THEN i.? ELSE EXCLUDED.? END",
				bun.Ident(col), string(schemas.StatusClosed), bun.Ident(col), bun.Ident(col))
		default:
			q = q.Set("? = EXCLUDED.?", bun.Ident(col), bun.Ident(col))
		}
	}
	// Activities may finish out of order (an acknowledge written while a stage runs):
	// a snapshot older than the stored one changes nothing.
	q = q.Where("i.version <= EXCLUDED.version")
	_, err := q.Exec(ctx)
	return err
}

// GetIncident returns the incident, or an error wrapping ErrNotFound.
func (s *Store) GetIncident(ctx context.Context, id string) (*schemas.Incident, error) {
	m, err := getIncident(ctx, s.DB, id, false)
	if err != nil {
		return nil, err
	}
	return m.incident(), nil
}

func getIncident(ctx context.Context, db bun.IDB, id string, forUpdate bool) (*incidentModel, error) {
	m := new(incidentModel)
	q := db.NewSelect().Model(m).Where("i.incident_id = ?", id)
	if forUpdate && db.Dialect().Name() == dialect.PG {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("incident %s: %w", id, ErrNotFound)
		}
		return nil, fmt.Errorf("get incident %s: %w", id, err)
	}
	return m, nil
}

// IncidentFilter selects incidents for ListIncidents. Zero fields do not filter.
type IncidentFilter struct {
	// Status is "", schemas.StatusActive ("active": not resolved and not closed) or one
	// schemas.Status.
	Status string
	// Severity matches exactly.
	Severity schemas.Severity
	// Type matches incident_type exactly.
	Type string
	// Since keeps incidents detected at or after Since.
	Since time.Time
	// Limit is the most incidents returned: 0 means 100, at most 10000.
	Limit int
}

// ListIncidents returns the matching incidents, most recently detected first.
func (s *Store) ListIncidents(ctx context.Context, f IncidentFilter) ([]schemas.Incident, error) {
	var rows []incidentModel
	q, err := f.apply(s.DB.NewSelect().Model(&rows))
	if err != nil {
		return nil, err
	}
	q = q.OrderExpr("i.detected_at DESC, i.incident_id DESC").Limit(clampLimit(f.Limit))
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	out := make([]schemas.Incident, len(rows))
	for i := range rows {
		out[i] = *rows[i].incident()
	}
	return out, nil
}

// apply adds the filter's conditions (not its limit) to q.
func (f IncidentFilter) apply(q *bun.SelectQuery) (*bun.SelectQuery, error) {
	switch f.Status {
	case "":
	case schemas.StatusActive:
		q = q.Where("i.status NOT IN (?)", bun.In([]string{string(schemas.StatusResolved), string(schemas.StatusClosed)}))
	default:
		st, err := schemas.ParseStatus(f.Status)
		if err != nil {
			return nil, fmt.Errorf("incidents: status filter: %w (or %q)", err, schemas.StatusActive)
		}
		q = q.Where("i.status = ?", string(st))
	}
	if f.Severity != "" {
		if !f.Severity.Valid() {
			return nil, fmt.Errorf("incidents: severity filter: invalid value %q: want one of low, medium, high, critical", f.Severity)
		}
		q = q.Where("i.severity = ?", string(f.Severity))
	}
	if f.Type != "" {
		q = q.Where("i.incident_type = ?", f.Type)
	}
	if !f.Since.IsZero() {
		q = q.Where("i.detected_at >= ?", newDBTime(f.Since))
	}
	return q, nil
}

// CloseIncident closes a resolved incident and records a timeline entry (kind
// schemas.TimelineClosed, actor by) in the same transaction. It returns an error wrapping
// ErrNotFound, ErrAlreadyClosed, or ErrNotResolved (which names the current status).
func (s *Store) CloseIncident(ctx context.Context, id, by string, at time.Time) (*schemas.Incident, error) {
	if at.IsZero() {
		at = time.Now()
	}
	var closed *incidentModel
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		m, err := getIncident(ctx, tx, id, true)
		if err != nil {
			return err
		}
		switch schemas.Status(m.Status) {
		case schemas.StatusClosed:
			return fmt.Errorf("incident %s: %w (by %q at %s)", id, ErrAlreadyClosed, m.ClosedBy, m.ClosedAt.Format(time.RFC3339))
		case schemas.StatusResolved:
		default:
			return fmt.Errorf("incident %s is %s: %w", id, m.Status, ErrNotResolved)
		}
		m.Status = string(schemas.StatusClosed)
		m.ClosedAt = newDBTime(at)
		m.ClosedBy = by
		m.UpdatedAt = newDBTime(at)
		if _, err := tx.NewUpdate().Model(m).
			Column("status", "closed_at", "closed_by", "updated_at").
			WherePK().
			Exec(ctx); err != nil {
			return fmt.Errorf("close incident %s: %w", id, err)
		}
		msg := "Incident closed"
		if by != "" {
			msg += " by " + by
		}
		entry := schemas.TimelineEntry{IncidentID: id, At: at, Kind: schemas.TimelineClosed, Actor: by, Message: msg, Key: "closed"}
		if err := addTimeline(ctx, tx, []schemas.TimelineEntry{entry}); err != nil {
			return fmt.Errorf("close incident %s: timeline: %w", id, err)
		}
		closed = m
		return nil
	})
	if err != nil {
		return nil, err
	}
	return closed.incident(), nil
}

// ActiveIncidents maps fingerprint -> incident ID for the incidents that are neither
// resolved nor closed. Should two share a fingerprint, the later detected one wins.
func (s *Store) ActiveIncidents(ctx context.Context) (map[string]string, error) {
	var rows []incidentModel
	err := s.DB.NewSelect().Model(&rows).
		Column("incident_id", "fingerprint").
		Where("i.status NOT IN (?)", bun.In([]string{string(schemas.StatusResolved), string(schemas.StatusClosed)})).
		OrderExpr("i.detected_at ASC, i.incident_id ASC").
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("active incidents: %w", err)
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.Fingerprint] = r.IncidentID
	}
	return out, nil
}

// CountIncidentsByStatus counts incidents per status; statuses without incidents are absent.
func (s *Store) CountIncidentsByStatus(ctx context.Context) (map[schemas.Status]int, error) {
	var rows []struct {
		Status string `bun:"status"`
		N      int    `bun:"n"`
	}
	err := s.DB.NewSelect().Model((*incidentModel)(nil)).
		ColumnExpr("i.status AS status, COUNT(*) AS n").
		GroupExpr("i.status").
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("count incidents by status: %w", err)
	}
	out := make(map[schemas.Status]int, len(rows))
	for _, r := range rows {
		out[schemas.Status(r.Status)] = r.N
	}
	return out, nil
}

// CountActiveByStatusSeverity counts the active (not resolved, not closed) incidents per
// status and severity, in SQL: every incident counts, however many there are.
func (s *Store) CountActiveByStatusSeverity(ctx context.Context) (map[[2]string]int, error) {
	var rows []struct {
		Status   string `bun:"status"`
		Severity string `bun:"severity"`
		N        int    `bun:"n"`
	}
	err := s.DB.NewSelect().Model((*incidentModel)(nil)).
		ColumnExpr("i.status AS status, i.severity AS severity, COUNT(*) AS n").
		Where("i.status NOT IN (?)", bun.In([]string{string(schemas.StatusResolved), string(schemas.StatusClosed)})).
		GroupExpr("i.status, i.severity").
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("count active incidents: %w", err)
	}
	out := make(map[[2]string]int, len(rows))
	for _, r := range rows {
		out[[2]string{r.Status, r.Severity}] = r.N
	}
	return out, nil
}
