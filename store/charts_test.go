package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

func chartIncident(id string, at time.Time, sev schemas.Severity, typ, source string, events int, mtta, mttr *float64, comps ...string) *schemas.Incident {
	return &schemas.Incident{IncidentID: id, IncidentType: typ, Severity: sev, Status: schemas.StatusInvestigating,
		Title: id, Fingerprint: "rule/" + id, RuleID: "rule", Source: source, DetectedAt: at, EventCount: events, MTTASeconds: mtta, MTTRSeconds: mttr,
		AffectedComponents: comps, UpdatedAt: at}
}

func f64(v float64) *float64 { return &v }

func TestCharts(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		mon := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC) // a Monday
		for _, inc := range []*schemas.Incident{
			chartIncident("inc_a", mon, schemas.SeverityCritical, "service_down", "api", 40, f64(60), f64(600), "api", "db"),
			chartIncident("inc_b", mon.Add(2*time.Hour), schemas.SeverityHigh, "error_rate", "api", 10, f64(120), nil),
			chartIncident("inc_c", mon.Add(24*time.Hour), schemas.SeverityHigh, "error_rate", "worker", 5, nil, nil),
			// Sunday 23:59 is still the first week; the next Monday starts the second.
			chartIncident("inc_d", time.Date(2026, 11, 29, 23, 59, 0, 0, time.UTC), schemas.SeverityLow, "memory", "cache", 1, f64(30), f64(300)),
			chartIncident("inc_e", time.Date(2026, 11, 30, 0, 1, 0, 0, time.UTC), schemas.SeverityLow, "memory", "cache", 2, f64(90), f64(900)),
		} {
			require.NoError(t, s.UpsertIncident(ctx, inc))
		}
		bySev, err := s.IncidentsPerDay(ctx, ChartFilter{}, "severity")
		require.NoError(t, err)
		require.Equal(t, []DayCount{{"2026-11-23", "critical", 1}, {"2026-11-23", "high", 1}, {"2026-11-24", "high", 1},
			{"2026-11-29", "low", 1}, {"2026-11-30", "low", 1}}, bySev)
		byType, err := s.IncidentsPerDay(ctx, ChartFilter{Since: mon.Add(time.Hour)}, "type")
		require.NoError(t, err)
		require.Equal(t, []DayCount{{"2026-11-23", "error_rate", 1}, {"2026-11-24", "error_rate", 1},
			{"2026-11-29", "memory", 1}, {"2026-11-30", "memory", 1}}, byType)
		_, err = s.IncidentsPerDay(ctx, ChartFilter{}, "colour")
		require.ErrorContains(t, err, "want severity or type")

		weeks, err := s.ResponseTimesByWeek(ctx, ChartFilter{})
		require.NoError(t, err)
		require.Equal(t, []WeekTimes{
			{Week: "2026-11-23", Incidents: 4, Acknowledged: 3, Resolved: 2, MTTASeconds: f64(70), MTTRSeconds: f64(450)},
			{Week: "2026-11-30", Incidents: 1, Acknowledged: 1, Resolved: 1, MTTASeconds: f64(90), MTTRSeconds: f64(900)},
		}, weeks)

		noisy, err := s.NoisySources(ctx, ChartFilter{}, 2)
		require.NoError(t, err)
		require.Equal(t, []SourceCount{{"api", 2, 50}, {"worker", 1, 5}}, noisy)
		onlyDB, err := s.NoisySources(ctx, ChartFilter{Component: "db"}, 10)
		require.NoError(t, err)
		require.Equal(t, []SourceCount{{"api", 1, 40}}, onlyDB, "a component in affected_components")
		low, err := s.NoisySources(ctx, ChartFilter{Severity: schemas.SeverityLow}, 10)
		require.NoError(t, err)
		require.Equal(t, []SourceCount{{"cache", 2, 3}}, low)
	})
}
