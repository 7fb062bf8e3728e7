package activities

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// RetentionSettings are the retention.* keys, as the housekeeping activity applies them.
type RetentionSettings struct {
	EventHistory      time.Duration
	ResolvedIncidents time.Duration
	Postmortems       time.Duration
	// DetectorWindow is detection.event_retention_seconds: newer events always stay.
	DetectorWindow time.Duration
	// Batch is the most rows of one kind per transaction (store.DefaultRetentionBatch when 0).
	Batch int
}

// Policy is the store policy of these settings at now.
func (r RetentionSettings) Policy(now time.Time, dryRun bool) store.RetentionPolicy {
	return store.RetentionPolicy{
		Now: now, EventHistory: r.EventHistory, DetectorWindow: r.DetectorWindow,
		ResolvedIncidents: r.ResolvedIncidents, Postmortems: r.Postmortems, Batch: r.Batch, DryRun: dryRun,
	}
}

// Housekeep deletes what retention says is old, batch by batch, heartbeating the running
// counts after each batch, and returns the counts. A retried attempt simply goes on: what
// the earlier one deleted is gone, and the store's totals counted it already.
func (a *Activities) Housekeep(ctx context.Context, in schemas.HousekeepingInput) (store.RetentionCounts, error) {
	if a.Retention == nil {
		return store.RetentionCounts{}, fmt.Errorf("housekeeping: this worker has no retention settings")
	}
	start := time.Now()
	p := a.Retention.Policy(start.UTC(), in.DryRun)
	counts, err := a.Store.RunRetention(ctx, p, func(c store.RetentionCounts) {
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, c)
		}
	})
	if err != nil {
		return counts, fmt.Errorf("housekeeping: %w", err)
	}
	verb := "deleted"
	if in.DryRun {
		verb = "would delete"
	}
	logger := a.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.Info("housekeeping "+verb, "events", counts.Events, "incidents", counts.Incidents,
		"timeline", counts.Timeline, "actions", counts.Actions, "notifications", counts.Notifications,
		"postmortems", counts.Postmortems, "took", time.Since(start).Round(time.Millisecond))
	return counts, nil
}
