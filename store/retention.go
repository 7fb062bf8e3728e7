package store

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// Retention: the housekeeping run (workflows.HousekeepingWorkflow, and
// `incidents retention run`) deletes what the retention.* keys say is old, in bounded
// batches of one short transaction each, so that ingest and the detector never wait long
// behind it. What it never deletes:
//   - an incident that is not resolved or closed, or one with an outbox row still waiting
//     for Temporal;
//   - an event attached to such an incident;
//   - an event the detector has not consumed (seq >= its cursor: the newest event of the
//     log always stays, so AppendEvents never hands out a sequence number again), or one
//     its windows may still hold (newer than detection.event_retention_seconds).
//
// Post-mortems live in table postmortems, apart from the incident row, and follow their own
// retention: a post-mortem can outlive its incident.

// Retention kinds: the record kinds a run counts, also the rows of retention_totals and the
// "kind" label of mahavishnu_retention_deleted_total.
const (
	RetentionEvents        = "events"
	RetentionIncidents     = "incidents"
	RetentionTimeline      = "timeline"
	RetentionActions       = "actions"
	RetentionNotifications = "notifications"
	RetentionPostmortems   = "postmortems"
)

// RetentionKinds lists the kinds in report order.
var RetentionKinds = []string{RetentionEvents, RetentionIncidents, RetentionTimeline, RetentionActions, RetentionNotifications, RetentionPostmortems}

// DefaultRetentionBatch is how many rows one batch deletes when RetentionPolicy.Batch is 0.
const DefaultRetentionBatch = 1000

// RetentionPolicy says what a run deletes.
type RetentionPolicy struct {
	// Now is the time the ages are measured from.
	Now time.Time `json:"now"`
	// EventHistory: events whose timestamp is older are deleted (retention.event_history_days).
	EventHistory time.Duration `json:"event_history"`
	// DetectorWindow is detection.event_retention_seconds: events newer than this are kept
	// whatever EventHistory says, since the detector's windows may hold them.
	DetectorWindow time.Duration `json:"detector_window"`
	// ResolvedIncidents: resolved or closed incidents whose closing (or resolution) is older
	// are deleted with their timeline, actions and notification records
	// (retention.resolved_incidents_days).
	ResolvedIncidents time.Duration `json:"resolved_incidents"`
	// Postmortems: post-mortems generated longer ago are deleted (retention.postmortems_days).
	Postmortems time.Duration `json:"postmortems"`
	// Batch is the most rows of one kind deleted per transaction (DefaultRetentionBatch when 0).
	Batch int `json:"batch"`
	// DryRun counts what a run would delete and deletes nothing.
	DryRun bool `json:"dry_run"`
}

// RetentionCounts are the rows a run deleted (or, dry, would delete), per kind.
type RetentionCounts struct {
	Events        int64 `json:"events"`
	Incidents     int64 `json:"incidents"`
	Timeline      int64 `json:"timeline"`
	Actions       int64 `json:"actions"`
	Notifications int64 `json:"notifications"`
	Postmortems   int64 `json:"postmortems"`
}

// ByKind returns the counts keyed by the Retention* kinds.
func (c RetentionCounts) ByKind() map[string]int64 {
	return map[string]int64{
		RetentionEvents: c.Events, RetentionIncidents: c.Incidents, RetentionTimeline: c.Timeline,
		RetentionActions: c.Actions, RetentionNotifications: c.Notifications, RetentionPostmortems: c.Postmortems,
	}
}

// Total is the sum over the kinds.
func (c RetentionCounts) Total() int64 {
	return c.Events + c.Incidents + c.Timeline + c.Actions + c.Notifications + c.Postmortems
}

// Add returns c plus o.
func (c RetentionCounts) Add(o RetentionCounts) RetentionCounts {
	return RetentionCounts{
		Events: c.Events + o.Events, Incidents: c.Incidents + o.Incidents, Timeline: c.Timeline + o.Timeline,
		Actions: c.Actions + o.Actions, Notifications: c.Notifications + o.Notifications, Postmortems: c.Postmortems + o.Postmortems,
	}
}

// Cutoffs are the times before which each kind is old under a policy.
type Cutoffs struct {
	Events, Incidents, Postmortems time.Time
}

// Cutoffs returns the policy's cutoffs. A zero duration keeps that kind forever (zero cutoff).
func (p RetentionPolicy) Cutoffs() Cutoffs {
	var c Cutoffs
	if p.EventHistory > 0 {
		c.Events = p.Now.Add(-max(p.EventHistory, p.DetectorWindow))
	}
	if p.ResolvedIncidents > 0 {
		c.Incidents = p.Now.Add(-p.ResolvedIncidents)
	}
	if p.Postmortems > 0 {
		c.Postmortems = p.Now.Add(-p.Postmortems)
	}
	return c
}

func (p RetentionPolicy) batch() int {
	if p.Batch <= 0 {
		return DefaultRetentionBatch
	}
	return p.Batch
}

// closedStatuses are the statuses retention may delete.
var closedStatuses = []string{string(schemas.StatusResolved), string(schemas.StatusClosed)}

// RetentionStep runs one batch of each kind under p and returns what it deleted; done is
// true once no kind has anything left to delete. A dry run counts everything at once and
// is always done. Callers loop until done (RunRetention does, the housekeeping activity
// heartbeats between steps).
func (s *Store) RetentionStep(ctx context.Context, p RetentionPolicy) (counts RetentionCounts, done bool, err error) {
	cut := p.Cutoffs()
	if p.DryRun {
		counts, err = s.countExpired(ctx, cut)
		return counts, true, err
	}
	n := p.batch()
	done = true
	if !cut.Incidents.IsZero() {
		c, err := s.deleteIncidentBatch(ctx, cut.Incidents, n)
		if err != nil {
			return counts, false, err
		}
		counts = counts.Add(c)
		done = done && c.Incidents < int64(n)
	}
	if !cut.Events.IsZero() {
		deleted, err := s.deleteEventBatch(ctx, cut.Events, n)
		if err != nil {
			return counts, false, err
		}
		counts.Events += deleted
		done = done && deleted < int64(n)
	}
	if !cut.Postmortems.IsZero() {
		deleted, err := s.deletePostmortemBatch(ctx, cut.Postmortems, n)
		if err != nil {
			return counts, false, err
		}
		counts.Postmortems += deleted
		done = done && deleted < int64(n)
	}
	if counts.Total() > 0 {
		if err := s.addRetentionTotals(ctx, counts, p.Now); err != nil {
			return counts, false, err
		}
	}
	return counts, done, nil
}

// RunRetention runs RetentionStep until done. progress, when not nil, is called after each
// step with the running totals.
func (s *Store) RunRetention(ctx context.Context, p RetentionPolicy, progress func(RetentionCounts)) (RetentionCounts, error) {
	var total RetentionCounts
	for {
		c, done, err := s.RetentionStep(ctx, p)
		total = total.Add(c)
		if err != nil {
			return total, err
		}
		if progress != nil {
			progress(total)
		}
		if done {
			return total, nil
		}
	}
}

// expiredIncidents selects the IDs of the incidents retention may delete.
func expiredIncidents(db bun.IDB, cutoff time.Time) *bun.SelectQuery {
	return db.NewSelect().TableExpr("incidents AS xi").Column("xi.incident_id").
		Where("xi.status IN (?)", bun.In(closedStatuses)).
		Where("COALESCE(xi.closed_at, xi.resolved_at, xi.updated_at) < ?", newDBTime(cutoff)).
		Where("NOT EXISTS (SELECT 1 FROM outbox AS xo WHERE xo.incident_id = xi.incident_id)")
}

// expiredEvents selects the seq of the events retention may delete.
func expiredEvents(db bun.IDB, cutoff time.Time) *bun.SelectQuery {
	return db.NewSelect().TableExpr("events AS xe").Column("xe.seq").
		Where("xe.timestamp < ?", newDBTime(cutoff)).
		Where(`xe.seq < (SELECT ds."cursor" FROM detector_state AS ds WHERE ds.id = 1)`).
		Where("(xe.incident_id IS NULL OR NOT EXISTS (SELECT 1 FROM incidents AS oi WHERE oi.incident_id = xe.incident_id AND oi.status NOT IN (?)))",
			bun.In(closedStatuses))
}

func (s *Store) countExpired(ctx context.Context, cut Cutoffs) (RetentionCounts, error) {
	var c RetentionCounts
	count := func(dst *int64, q *bun.SelectQuery, what string) error {
		n, err := q.Count(ctx)
		if err != nil {
			return fmt.Errorf("retention: count expired %s: %w", what, err)
		}
		*dst = int64(n)
		return nil
	}
	if !cut.Incidents.IsZero() {
		ids := expiredIncidents(s.DB, cut.Incidents)
		if err := count(&c.Incidents, ids, "incidents"); err != nil {
			return c, err
		}
		for _, k := range []struct {
			dst   *int64
			table string
		}{{&c.Timeline, "timeline"}, {&c.Actions, "actions"}, {&c.Notifications, "notify_throttle"}} {
			q := s.DB.NewSelect().TableExpr(k.table+" AS x").Where("x.incident_id IN (?)", expiredIncidents(s.DB, cut.Incidents))
			if err := count(k.dst, q, k.table); err != nil {
				return c, err
			}
		}
	}
	if !cut.Events.IsZero() {
		if err := count(&c.Events, expiredEvents(s.DB, cut.Events), "events"); err != nil {
			return c, err
		}
	}
	if !cut.Postmortems.IsZero() {
		q := s.DB.NewSelect().TableExpr("postmortems AS p").Where("p.generated_at < ?", newDBTime(cut.Postmortems))
		if err := count(&c.Postmortems, q, "postmortems"); err != nil {
			return c, err
		}
	}
	return c, nil
}

// deleteIncidentBatch deletes up to n expired incidents with their timeline, actions and
// notification throttle rows, in one transaction.
func (s *Store) deleteIncidentBatch(ctx context.Context, cutoff time.Time, n int) (RetentionCounts, error) {
	var c RetentionCounts
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		c = RetentionCounts{}
		var ids []string
		if err := expiredIncidents(tx, cutoff).OrderExpr("xi.incident_id").Limit(n).Scan(ctx, &ids); err != nil {
			return fmt.Errorf("retention: select expired incidents: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		del := func(table string) (int64, error) {
			res, err := tx.NewDelete().TableExpr(table).Where("incident_id IN (?)", bun.In(ids)).Exec(ctx)
			if err != nil {
				return 0, fmt.Errorf("retention: delete %s of %d incidents: %w", table, len(ids), err)
			}
			return res.RowsAffected()
		}
		var err error
		if c.Timeline, err = del("timeline"); err != nil {
			return err
		}
		if c.Actions, err = del("actions"); err != nil {
			return err
		}
		if c.Notifications, err = del("notify_throttle"); err != nil {
			return err
		}
		c.Incidents, err = del("incidents")
		return err
	})
	return c, err
}

// deleteEventBatch deletes up to n expired events, oldest first, in one transaction.
func (s *Store) deleteEventBatch(ctx context.Context, cutoff time.Time, n int) (int64, error) {
	var deleted int64
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewDelete().TableExpr("events").
			Where("seq IN (?)", expiredEvents(tx, cutoff).OrderExpr("xe.seq").Limit(n)).Exec(ctx)
		if err != nil {
			return fmt.Errorf("retention: delete events older than %s: %w", cutoff.UTC().Format(time.RFC3339), err)
		}
		deleted, err = res.RowsAffected()
		return err
	})
	return deleted, err
}

// deletePostmortemBatch deletes up to n post-mortems generated before cutoff.
func (s *Store) deletePostmortemBatch(ctx context.Context, cutoff time.Time, n int) (int64, error) {
	sub := s.DB.NewSelect().TableExpr("postmortems AS p").Column("p.incident_id").
		Where("p.generated_at < ?", newDBTime(cutoff)).OrderExpr("p.generated_at").Limit(n)
	res, err := s.DB.NewDelete().TableExpr("postmortems").Where("incident_id IN (?)", sub).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("retention: delete post-mortems older than %s: %w", cutoff.UTC().Format(time.RFC3339), err)
	}
	return res.RowsAffected()
}

// retentionTotalModel is the bun model of table retention_totals.
type retentionTotalModel struct {
	bun.BaseModel `bun:"table:retention_totals,alias:rt"`

	Kind      string `bun:"kind,pk"`
	Deleted   int64  `bun:"deleted"`
	LastRunAt dbTime `bun:"last_run_at"`
}

func (s *Store) addRetentionTotals(ctx context.Context, c RetentionCounts, at time.Time) error {
	by := c.ByKind()
	rows := make([]retentionTotalModel, 0, len(RetentionKinds))
	for _, k := range RetentionKinds {
		rows = append(rows, retentionTotalModel{Kind: k, Deleted: by[k], LastRunAt: newDBTime(at)})
	}
	_, err := s.DB.NewInsert().Model(&rows).
		On("CONFLICT (kind) DO UPDATE").
		Set("deleted = rt.deleted + EXCLUDED.deleted").
		Set("last_run_at = EXCLUDED.last_run_at").
		Returning("NULL").Exec(ctx)
	if err != nil {
		return fmt.Errorf("retention: record totals: %w", err)
	}
	return nil
}

// RetentionTotals returns how many rows of each kind housekeeping runs have deleted in all
// (every kind present, zero when none), and when a run last deleted something.
func (s *Store) RetentionTotals(ctx context.Context) (map[string]int64, time.Time, error) {
	var rows []retentionTotalModel
	if err := s.DB.NewSelect().Model(&rows).Scan(ctx); err != nil {
		return nil, time.Time{}, fmt.Errorf("retention totals: %w", err)
	}
	out := make(map[string]int64, len(RetentionKinds))
	for _, k := range RetentionKinds {
		out[k] = 0
	}
	var last time.Time
	for _, r := range rows {
		out[r.Kind] = r.Deleted
		if r.LastRunAt.After(last) {
			last = r.LastRunAt.Time
		}
	}
	return out, last, nil
}
