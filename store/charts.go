package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// Dashboard charts (issue 12), computed in SQL so that a long history costs the
// dashboard one grouped query per chart instead of every incident row.

// ChartFilter narrows the incidents a chart counts: detected at or after Since, of one
// severity, touching one component (in affected_components or as the source).
type ChartFilter struct {
	Since     time.Time
	Severity  schemas.Severity
	Component string
}

// DayCount is the number of incidents detected on one UTC day (YYYY-MM-DD) with one value
// of the grouping column (a severity or an incident type).
type DayCount struct {
	Day string `bun:"day"`
	Key string `bun:"key"`
	N   int    `bun:"n"`
}

// WeekTimes is the mean time to acknowledge and to resolve of the incidents detected in
// one ISO week (Week is its Monday, YYYY-MM-DD). A mean is nil when no incident of the
// week was acknowledged (resolved).
type WeekTimes struct {
	Week         string   `bun:"week"`
	Incidents    int      `bun:"incidents"`
	Acknowledged int      `bun:"acknowledged"`
	Resolved     int      `bun:"resolved"`
	MTTASeconds  *float64 `bun:"mtta"`
	MTTRSeconds  *float64 `bun:"mttr"`
}

// SourceCount is one source's incidents and the events attached to them.
type SourceCount struct {
	Source    string `bun:"source"`
	Incidents int    `bun:"incidents"`
	Events    int    `bun:"events"`
}

func (s *Store) dayExpr() string {
	if s.dialect == DialectSQLite {
		return "substr(i.detected_at, 1, 10)"
	}
	return "to_char(i.detected_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
}

func (s *Store) weekExpr() string {
	if s.dialect == DialectSQLite {
		// The next Sunday (or the day itself), minus six days: the week's Monday.
		return "date(substr(i.detected_at, 1, 10), 'weekday 0', '-6 days')"
	}
	return "to_char(date_trunc('week', i.detected_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"
}

func (s *Store) chartWhere(q *bun.SelectQuery, f ChartFilter) *bun.SelectQuery {
	if !f.Since.IsZero() {
		q = q.Where("i.detected_at >= ?", newDBTime(f.Since))
	}
	if f.Severity != "" {
		q = q.Where("i.severity = ?", string(f.Severity))
	}
	if f.Component != "" {
		if s.dialect == DialectSQLite {
			q = q.Where("(i.source = ? OR EXISTS (SELECT 1 FROM json_each(i.affected_components) WHERE value = ?))", f.Component, f.Component)
		} else {
			list, _ := json.Marshal([]string{f.Component})
			q = q.Where("(i.source = ? OR i.affected_components::jsonb @> ?::jsonb)", f.Component, string(list))
		}
	}
	return q
}

// IncidentsPerDay counts incidents per UTC day of detection and per severity (by
// "severity") or incident type (by "type"), oldest day first.
func (s *Store) IncidentsPerDay(ctx context.Context, f ChartFilter, by string) ([]DayCount, error) {
	col := map[string]string{"severity": "i.severity", "type": "i.incident_type"}[by]
	if col == "" {
		return nil, fmt.Errorf("incidents per day: by: want severity or type, got %q", by)
	}
	var out []DayCount
	q := s.DB.NewSelect().TableExpr("incidents AS i").
		ColumnExpr(s.dayExpr() + " AS day").ColumnExpr(col + " AS key").ColumnExpr("count(*) AS n")
	q = s.chartWhere(q, f).GroupExpr("day, key").OrderExpr("day, key")
	if err := q.Scan(ctx, &out); err != nil {
		return nil, fmt.Errorf("%s: incidents per day by %s: %w", s.where, by, err)
	}
	return out, nil
}

// ResponseTimesByWeek returns MTTA and MTTR per ISO week of detection, oldest first.
func (s *Store) ResponseTimesByWeek(ctx context.Context, f ChartFilter) ([]WeekTimes, error) {
	var out []WeekTimes
	q := s.DB.NewSelect().TableExpr("incidents AS i").
		ColumnExpr(s.weekExpr() + " AS week").ColumnExpr("count(*) AS incidents").
		ColumnExpr("count(i.mtta_seconds) AS acknowledged").ColumnExpr("count(i.mttr_seconds) AS resolved").
		ColumnExpr("avg(i.mtta_seconds) AS mtta").ColumnExpr("avg(i.mttr_seconds) AS mttr")
	q = s.chartWhere(q, f).GroupExpr("week").OrderExpr("week")
	if err := q.Scan(ctx, &out); err != nil {
		return nil, fmt.Errorf("%s: response times by week: %w", s.where, err)
	}
	return out, nil
}

// NoisySources returns the sources with the most attached events, at most limit.
func (s *Store) NoisySources(ctx context.Context, f ChartFilter, limit int) ([]SourceCount, error) {
	var out []SourceCount
	q := s.DB.NewSelect().TableExpr("incidents AS i").
		ColumnExpr("i.source AS source").ColumnExpr("count(*) AS incidents").ColumnExpr("sum(i.event_count) AS events").
		Where("i.source <> ''")
	q = s.chartWhere(q, f).GroupExpr("i.source").OrderExpr("events DESC, incidents DESC, source").Limit(limit)
	if err := q.Scan(ctx, &out); err != nil {
		return nil, fmt.Errorf("%s: noisy sources: %w", s.where, err)
	}
	return out, nil
}

// ChangeStamp summarises the incidents and their timelines in one string that changes
// whenever an incident is opened or changed (its version, event count) or a timeline entry
// is added: the dashboard's live updates poll it (manager.Changes).
func (s *Store) ChangeStamp(ctx context.Context) (string, error) {
	var n, versions, events, entries int64
	err := s.DB.NewRaw("SELECT (SELECT count(*) FROM incidents), (SELECT coalesce(sum(version), 0) FROM incidents), "+
		"(SELECT coalesce(sum(event_count), 0) FROM incidents), (SELECT count(*) FROM timeline)").
		Scan(ctx, &n, &versions, &events, &entries)
	if err != nil {
		return "", fmt.Errorf("%s: change stamp: %w", s.where, err)
	}
	return fmt.Sprintf("%d.%d.%d.%d", n, versions, events, entries), nil
}
