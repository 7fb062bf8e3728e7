package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

func ptr[T any](v T) *T { return &v }

func testIncident(id string, status schemas.Status, detected time.Time) *schemas.Incident {
	return &schemas.Incident{
		IncidentID:   id,
		IncidentType: "service_down",
		Severity:     schemas.SeverityHigh,
		Status:       status,
		Title:        "checkout is down",
		Fingerprint:  "service_down:" + id,
		DetectedAt:   detected,
		WorkflowID:   "incident-" + id,
		UpdatedAt:    detected,
	}
}

// fullIncident sets every field, with times that need normalizing.
func fullIncident() *schemas.Incident {
	return &schemas.Incident{
		IncidentID:         "inc_full",
		IncidentType:       "high_error_rate",
		Severity:           schemas.SeverityCritical,
		Status:             schemas.StatusResolved,
		Title:              "Error rate above 10/min on api",
		Description:        "it's \"bad\"",
		RuleID:             "high_error_rate",
		Fingerprint:        "high_error_rate:api",
		Source:             "api",
		DetectedAt:         base,
		FirstEventAt:       ptr(base.Add(-time.Minute)),
		LastEventAt:        ptr(base.Add(time.Minute)),
		AcknowledgedAt:     ptr(base.Add(2 * time.Minute)),
		AcknowledgedBy:     "alice",
		AssignedTo:         "bob",
		ResolvedAt:         ptr(base.Add(time.Hour)),
		ResolvedBy:         "bob",
		ResolutionNotes:    "rolled back",
		EventCount:         42,
		AffectedComponents: []string{"api", "db"},
		MTTDSeconds:        ptr(60.5),
		MTTASeconds:        ptr(120.0),
		MTTRSeconds:        ptr(3600.25),
		MTTRBreached:       true,
		WorkflowID:         "incident-high_error_rate:api",
		RunID:              "run-1",
		UpdatedAt:          base.Add(time.Hour),
	}
}

// normalized is what the store returns for inc.
func normalized(inc *schemas.Incident) *schemas.Incident {
	out := *inc
	out.DetectedAt = stored(inc.DetectedAt)
	out.UpdatedAt = stored(inc.UpdatedAt)
	for _, p := range []**time.Time{&out.FirstEventAt, &out.LastEventAt, &out.AcknowledgedAt, &out.ResolvedAt, &out.ClosedAt} {
		if *p != nil {
			*p = storedPtr(**p)
		}
	}
	if out.AffectedComponents == nil {
		out.AffectedComponents = []string{}
	}
	return &out
}

func TestUpsertAndGetIncident(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		full := fullIncident()
		require.NoError(t, s.UpsertIncident(ctx, full))
		got, err := s.GetIncident(ctx, full.IncidentID)
		require.NoError(t, err)
		require.Equal(t, normalized(full), got)
		require.Equal(t, time.UTC, got.DetectedAt.Location())

		minimal := testIncident("inc_min", schemas.StatusDetected, base)
		require.NoError(t, s.UpsertIncident(ctx, minimal))
		got, err = s.GetIncident(ctx, "inc_min")
		require.NoError(t, err)
		require.Equal(t, normalized(minimal), got)
		require.Nil(t, got.AcknowledgedAt)
		require.Nil(t, got.MTTDSeconds)

		// A later snapshot replaces every column, including back to empty values.
		next := testIncident("inc_min", schemas.StatusInvestigating, base)
		next.AcknowledgedAt, next.AcknowledgedBy = ptr(base.Add(time.Minute)), "carol"
		next.AffectedComponents = []string{"checkout"}
		next.MTTASeconds = ptr(60.0)
		next.UpdatedAt = base.Add(time.Minute)
		require.NoError(t, s.UpsertIncident(ctx, next))
		got, err = s.GetIncident(ctx, "inc_min")
		require.NoError(t, err)
		require.Equal(t, normalized(next), got)

		_, err = s.GetIncident(ctx, "inc_missing")
		require.ErrorIs(t, err, ErrNotFound)
		require.ErrorContains(t, err, "inc_missing")
	})
}

func TestUpsertIncidentDefaultsUpdatedAt(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		inc := testIncident("inc_1", schemas.StatusDetected, base)
		inc.UpdatedAt = time.Time{}
		before := time.Now().Add(-time.Second)
		require.NoError(t, s.UpsertIncident(ctx, inc))
		got, err := s.GetIncident(ctx, "inc_1")
		require.NoError(t, err)
		require.True(t, got.UpdatedAt.After(before), "updated_at %s", got.UpdatedAt)
	})
}

func TestUpsertIncidentValidation(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		tests := []struct {
			name    string
			mutate  func(*schemas.Incident)
			wantErr string
		}{
			{name: "id", mutate: func(i *schemas.Incident) { i.IncidentID = "" }, wantErr: "incident_id is required"},
			{name: "type", mutate: func(i *schemas.Incident) { i.IncidentType = "" }, wantErr: "incident_type is required"},
			{name: "fingerprint", mutate: func(i *schemas.Incident) { i.Fingerprint = "" }, wantErr: "fingerprint is required"},
			{name: "detected_at", mutate: func(i *schemas.Incident) { i.DetectedAt = time.Time{} }, wantErr: "detected_at is required"},
			{name: "severity", mutate: func(i *schemas.Incident) { i.Severity = "urgent" }, wantErr: `severity: invalid value "urgent"`},
			{name: "status", mutate: func(i *schemas.Incident) { i.Status = "open" }, wantErr: `status: invalid status "open"`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				inc := testIncident("inc_bad", schemas.StatusDetected, base)
				tt.mutate(inc)
				require.ErrorContains(t, s.UpsertIncident(ctx, inc), tt.wantErr)
			})
		}
		list, err := s.ListIncidents(ctx, IncidentFilter{})
		require.NoError(t, err)
		require.Empty(t, list)
	})
}

func TestUpsertNeverReopensClosedIncident(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		inc := testIncident("inc_1", schemas.StatusResolved, base)
		inc.ResolvedAt = ptr(base.Add(time.Hour))
		require.NoError(t, s.UpsertIncident(ctx, inc))
		closedAt := base.Add(2 * time.Hour)
		_, err := s.CloseIncident(ctx, "inc_1", "alice", closedAt)
		require.NoError(t, err)

		// A late snapshot from the workflow (still "resolved", no closed_* fields).
		late := testIncident("inc_1", schemas.StatusResolved, base)
		late.ResolvedAt = ptr(base.Add(time.Hour))
		late.ResolutionNotes = "post-mortem written"
		late.UpdatedAt = base.Add(3 * time.Hour)
		require.NoError(t, s.UpsertIncident(ctx, late))

		got, err := s.GetIncident(ctx, "inc_1")
		require.NoError(t, err)
		require.Equal(t, schemas.StatusClosed, got.Status)
		require.Equal(t, storedPtr(closedAt), got.ClosedAt)
		require.Equal(t, "alice", got.ClosedBy)
		require.Equal(t, "post-mortem written", got.ResolutionNotes, "other columns still update")

		// A snapshot with another status cannot reopen it either.
		late.Status = schemas.StatusInvestigating
		require.NoError(t, s.UpsertIncident(ctx, late))
		got, err = s.GetIncident(ctx, "inc_1")
		require.NoError(t, err)
		require.Equal(t, schemas.StatusClosed, got.Status)
	})
}

func TestListIncidentsFilters(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		mk := func(id string, st schemas.Status, sev schemas.Severity, typ string, offset time.Duration) {
			inc := testIncident(id, st, base.Add(offset))
			inc.Severity, inc.IncidentType = sev, typ
			require.NoError(t, s.UpsertIncident(ctx, inc))
		}
		mk("inc_a", schemas.StatusDetected, schemas.SeverityLow, "error", 0)
		mk("inc_b", schemas.StatusInvestigating, schemas.SeverityHigh, "service_down", time.Minute)
		mk("inc_c", schemas.StatusResolved, schemas.SeverityHigh, "error", 2*time.Minute)
		mk("inc_d", schemas.StatusClosed, schemas.SeverityCritical, "error", 3*time.Minute)
		mk("inc_e", schemas.StatusRecovering, schemas.SeverityCritical, "service_down", 3*time.Minute)

		tests := []struct {
			name string
			f    IncidentFilter
			want []string
		}{
			{name: "all newest first", f: IncidentFilter{}, want: []string{"inc_e", "inc_d", "inc_c", "inc_b", "inc_a"}},
			{name: "active", f: IncidentFilter{Status: schemas.StatusActive}, want: []string{"inc_e", "inc_b", "inc_a"}},
			{name: "one status", f: IncidentFilter{Status: string(schemas.StatusResolved)}, want: []string{"inc_c"}},
			{name: "severity", f: IncidentFilter{Severity: schemas.SeverityHigh}, want: []string{"inc_c", "inc_b"}},
			{name: "type", f: IncidentFilter{Type: "service_down"}, want: []string{"inc_e", "inc_b"}},
			{name: "since", f: IncidentFilter{Since: base.Add(2 * time.Minute)}, want: []string{"inc_e", "inc_d", "inc_c"}},
			{name: "combined", f: IncidentFilter{Status: schemas.StatusActive, Severity: schemas.SeverityCritical}, want: []string{"inc_e"}},
			{name: "limit", f: IncidentFilter{Limit: 2}, want: []string{"inc_e", "inc_d"}},
			{name: "no match", f: IncidentFilter{Type: "nope"}, want: []string{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.ListIncidents(ctx, tt.f)
				require.NoError(t, err)
				ids := make([]string, len(got))
				for i, inc := range got {
					ids[i] = inc.IncidentID
				}
				require.Equal(t, tt.want, ids)
			})
		}

		_, err := s.ListIncidents(ctx, IncidentFilter{Status: "open"})
		require.ErrorContains(t, err, `status filter: invalid status "open"`)
		_, err = s.ListIncidents(ctx, IncidentFilter{Severity: "urgent"})
		require.ErrorContains(t, err, `severity filter: invalid value "urgent"`)
	})
}

func TestCloseIncident(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		require.NoError(t, s.UpsertIncident(ctx, testIncident("inc_active", schemas.StatusRemediating, base)))
		require.NoError(t, s.UpsertIncident(ctx, testIncident("inc_resolved", schemas.StatusResolved, base)))
		at := base.Add(time.Hour)

		tests := []struct {
			name    string
			id      string
			wantIs  error
			wantErr string
		}{
			{name: "missing", id: "inc_missing", wantIs: ErrNotFound, wantErr: "incident inc_missing: not found"},
			{name: "not resolved", id: "inc_active", wantIs: ErrNotResolved, wantErr: "incident inc_active is remediating: only a resolved incident can be closed"},
			{name: "resolved", id: "inc_resolved"},
			{name: "already closed", id: "inc_resolved", wantIs: ErrAlreadyClosed, wantErr: "incident inc_resolved: already closed"},
		}
		for _, tt := range tests {
			got, err := s.CloseIncident(ctx, tt.id, "alice", at)
			if tt.wantIs != nil {
				require.ErrorIs(t, err, tt.wantIs, tt.name)
				require.ErrorContains(t, err, tt.wantErr, tt.name)
				require.Nil(t, got, tt.name)
				continue
			}
			require.NoError(t, err, tt.name)
			require.Equal(t, schemas.StatusClosed, got.Status)
			require.Equal(t, storedPtr(at), got.ClosedAt)
			require.Equal(t, "alice", got.ClosedBy)
			stored, err := s.GetIncident(ctx, tt.id)
			require.NoError(t, err)
			require.Equal(t, got, stored)
		}

		active, err := s.GetIncident(ctx, "inc_active")
		require.NoError(t, err)
		require.Equal(t, schemas.StatusRemediating, active.Status, "a refused close changes nothing")
		require.Nil(t, active.ClosedAt)

		tl, err := s.Timeline(ctx, "inc_resolved")
		require.NoError(t, err)
		require.Len(t, tl, 1, "exactly one closed entry, the refused second close adds none")
		require.Equal(t, schemas.TimelineClosed, tl[0].Kind)
		require.Equal(t, "alice", tl[0].Actor)
		require.Equal(t, stored(at), tl[0].At)
		tl, err = s.Timeline(ctx, "inc_active")
		require.NoError(t, err)
		require.Empty(t, tl)
	})
}

func TestActiveIncidentsAndCounts(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		for i, st := range []schemas.Status{schemas.StatusDetected, schemas.StatusContaining, schemas.StatusContaining, schemas.StatusResolved, schemas.StatusClosed} {
			inc := testIncident(fmt.Sprintf("inc_%d", i), st, base.Add(time.Duration(i)*time.Minute))
			inc.Fingerprint = fmt.Sprintf("fp_%d", i)
			require.NoError(t, s.UpsertIncident(ctx, inc))
		}
		// A second active incident with fingerprint fp_0, detected later, wins.
		dup := testIncident("inc_9", schemas.StatusAssessing, base.Add(time.Hour))
		dup.Fingerprint = "fp_0"
		require.NoError(t, s.UpsertIncident(ctx, dup))

		active, err := s.ActiveIncidents(ctx)
		require.NoError(t, err)
		require.Equal(t, map[string]string{"fp_0": "inc_9", "fp_1": "inc_1", "fp_2": "inc_2"}, active)

		counts, err := s.CountIncidentsByStatus(ctx)
		require.NoError(t, err)
		require.Equal(t, map[schemas.Status]int{
			schemas.StatusDetected: 1, schemas.StatusAssessing: 1, schemas.StatusContaining: 2,
			schemas.StatusResolved: 1, schemas.StatusClosed: 1,
		}, counts)
	})
}

func TestSaveIncidentIsAtomic(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		inc := testIncident("inc_1", schemas.StatusDetected, base)
		entry := schemas.TimelineEntry{IncidentID: "inc_1", At: base, Kind: schemas.TimelineDetected, Message: "opened", Key: "detected"}
		require.NoError(t, s.SaveIncident(ctx, inc, entry))
		require.NoError(t, s.SaveIncident(ctx, inc, entry)) // retried activity
		tl, err := s.Timeline(ctx, "inc_1")
		require.NoError(t, err)
		require.Len(t, tl, 1)

		// A bad timeline entry rolls the incident write back.
		next := testIncident("inc_1", schemas.StatusAssessing, base)
		err = s.SaveIncident(ctx, next, schemas.TimelineEntry{IncidentID: "inc_1", At: base})
		require.ErrorContains(t, err, "entries[0].kind is required")
		got, err := s.GetIncident(ctx, "inc_1")
		require.NoError(t, err)
		require.Equal(t, schemas.StatusDetected, got.Status)
	})
}

func TestUpsertNeverWritesAnOlderVersion(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		acked := testIncident("inc_v", schemas.StatusAssessing, base)
		acked.Version = 5
		acked.AcknowledgedBy = "alice"
		require.NoError(t, s.UpsertIncident(ctx, acked))

		// A stage activity scheduled before the acknowledgement finishes after it.
		stale := testIncident("inc_v", schemas.StatusAssessing, base)
		stale.Version = 4
		require.NoError(t, s.UpsertIncident(ctx, stale))
		got, err := s.GetIncident(ctx, "inc_v")
		require.NoError(t, err)
		require.Equal(t, "alice", got.AcknowledgedBy)
		require.EqualValues(t, 5, got.Version)

		newer := testIncident("inc_v", schemas.StatusContaining, base)
		newer.Version = 6
		newer.AcknowledgedBy = "alice"
		require.NoError(t, s.UpsertIncident(ctx, newer))
		got, err = s.GetIncident(ctx, "inc_v")
		require.NoError(t, err)
		require.Equal(t, schemas.StatusContaining, got.Status)
		require.EqualValues(t, 6, got.Version)
	})
}
