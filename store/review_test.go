package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

func TestRuleActivity(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		inc := func(id, rule string, status schemas.Status, detected time.Time, ack *float64) {
			i := testIncident(id, status, detected)
			i.RuleID = rule
			i.MTTASeconds = ack
			if ack != nil {
				i.AcknowledgedAt = ptr(detected.Add(time.Duration(*ack) * time.Second))
			}
			require.NoError(t, s.UpsertIncident(ctx, i))
		}
		inc("old", "error_burst", schemas.StatusResolved, base.Add(-8*24*time.Hour), nil)
		inc("a1", "error_burst", schemas.StatusResolved, base, nil)
		inc("a2", "error_burst", schemas.StatusClosed, base, ptr(120.0))
		inc("a3", "error_burst", schemas.StatusRecovering, base, ptr(30.0))
		inc("b1", "deadlock", schemas.StatusResolved, base, nil)
		require.NoError(t, s.AddTimeline(ctx,
			schemas.TimelineEntry{IncidentID: "a2", At: base, Kind: schemas.TimelineAction, Message: "clear_cache succeeded"},
			schemas.TimelineEntry{IncidentID: "a2", At: base, Kind: schemas.TimelineAction, Message: "scale_up succeeded"},
			schemas.TimelineEntry{IncidentID: "b1", At: base, Kind: schemas.TimelineAcknowledged, Message: "ack"},
		))

		got, err := s.RuleActivity(ctx, base.Add(-7*24*time.Hour))
		require.NoError(t, err)
		require.Equal(t, map[string]*RuleActivity{
			"error_burst": {RuleID: "error_burst", Fired: 3, Resolved: 2, ResolvedWithoutAction: 1, AckSeconds: []float64{30, 120}},
			"deadlock":    {RuleID: "deadlock", Fired: 1, Resolved: 1, ResolvedWithoutAction: 1},
		}, got)
	})
}
