package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// manyIncidents are 10,500 incidents: every third resolved (by the workflow, with an MTTR
// of 60 s), the rest active, alternating high and low severity.
func manyIncidents(now time.Time) []schemas.Incident {
	incs := make([]schemas.Incident, 10_500)
	for i := range incs {
		inc := testIncident(fmt.Sprintf("inc_%05d", i), schemas.StatusInvestigating, now.Add(-time.Duration(i)*time.Second))
		inc.Severity = schemas.SeverityHigh
		if i%2 == 1 {
			inc.Severity = schemas.SeverityLow
		}
		if i%3 == 0 {
			at := inc.DetectedAt.Add(time.Minute)
			inc.Status, inc.ResolvedAt, inc.ResolvedBy, inc.MTTRSeconds = schemas.StatusResolved, &at, "mahavishnu", ptr(60.0)
		}
		incs[i] = *inc
	}
	return incs
}

func TestStatisticsBeyondTenThousandIncidents(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		require.NoError(t, s.InsertIncidents(ctx, manyIncidents(now)))

		groups, err := s.IncidentGroups(ctx, time.Time{}, "", "mahavishnu")
		require.NoError(t, err)
		total, resolved, auto, mttrN := 0, 0, 0, 0
		var mttrSum float64
		for _, g := range groups {
			total += g.Count
			resolved += g.Resolved
			auto += g.AutoResolved
			mttrSum, mttrN = mttrSum+g.MTTRSum, mttrN+g.MTTRCount
		}
		require.Equal(t, 10_500, total)
		require.Equal(t, 3_500, resolved)
		require.Equal(t, 3_500, auto)
		require.Equal(t, 3_500, mttrN)
		require.InDelta(t, 60.0, mttrSum/float64(mttrN), 1e-9)

		low, err := s.IncidentGroups(ctx, time.Time{}, schemas.SeverityLow, "mahavishnu")
		require.NoError(t, err)
		n := 0
		for _, g := range low {
			require.Equal(t, "low", g.Severity)
			n += g.Count
		}
		require.Equal(t, 5_250, n)

		// ScanIncidents sees every one, newest first, once.
		seen, last := map[string]bool{}, now.Add(time.Hour)
		require.NoError(t, s.ScanIncidents(ctx, IncidentFilter{Status: schemas.StatusActive}, func(inc schemas.Incident) error {
			require.False(t, seen[inc.IncidentID], inc.IncidentID)
			require.False(t, inc.DetectedAt.After(last))
			seen[inc.IncidentID], last = true, inc.DetectedAt
			return nil
		}))
		require.Len(t, seen, 7_000)
	})
}

func TestScanIncidentEventsBeyondOneThousand(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		events := make([]schemas.Event, 1_200)
		for i := range events {
			events[i] = testEvent(fmt.Sprintf("ev-%04d", i), now.Add(-time.Duration(i)*time.Millisecond))
		}
		_, err := s.AppendEvents(ctx, [][]schemas.Event{events}, now)
		require.NoError(t, err)
		_, err = s.AttachEvents(ctx, "inc_big", eventIDs(events))
		require.NoError(t, err)
		var got []string
		require.NoError(t, s.ScanIncidentEvents(ctx, "inc_big", func(e schemas.Event) error {
			got = append(got, e.EventID)
			return nil
		}))
		require.Equal(t, eventIDs(events), got, "all 1,200, in log order")
	})
}
