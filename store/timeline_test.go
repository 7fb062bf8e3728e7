package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

func TestAddTimelineIsIdempotentOnKey(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		entries := []schemas.TimelineEntry{
			{IncidentID: "inc_1", At: base, Kind: schemas.TimelineDetected, Message: "opened", Key: "detected"},
			{IncidentID: "inc_1", At: base.Add(time.Second), Kind: schemas.TimelineStageStarted, Actor: "workflow", Message: "assess", Key: "stage:assess"},
			{IncidentID: "inc_1", At: base.Add(time.Second), Kind: schemas.TimelineEventsAdded, Message: "3 events"}, // no key
			{IncidentID: "inc_2", At: base, Kind: schemas.TimelineDetected, Message: "other incident", Key: "detected"},
		}
		require.NoError(t, s.AddTimeline(ctx, entries...))
		// The activity is retried: keyed entries are not added twice, unkeyed ones are.
		require.NoError(t, s.AddTimeline(ctx, entries...))
		// Duplicate keys within one call count once.
		require.NoError(t, s.AddTimeline(ctx,
			schemas.TimelineEntry{IncidentID: "inc_1", At: base.Add(time.Minute), Kind: schemas.TimelineAcknowledged, Actor: "alice", Message: "ack", Key: "ack"},
			schemas.TimelineEntry{IncidentID: "inc_1", At: base.Add(time.Minute), Kind: schemas.TimelineAcknowledged, Actor: "alice", Message: "ack", Key: "ack"},
		))
		require.NoError(t, s.AddTimeline(ctx)) // nothing

		got, err := s.Timeline(ctx, "inc_1")
		require.NoError(t, err)
		kinds := make([]string, len(got))
		for i, e := range got {
			kinds[i] = e.Kind
		}
		// Oldest first; the three entries at base+1s keep their insertion order.
		require.Equal(t, []string{
			schemas.TimelineDetected, schemas.TimelineStageStarted, schemas.TimelineEventsAdded,
			schemas.TimelineEventsAdded, schemas.TimelineAcknowledged,
		}, kinds)
		want := entries[1]
		want.At = stored(want.At)
		require.Equal(t, want, got[1])

		other, err := s.Timeline(ctx, "inc_2")
		require.NoError(t, err)
		require.Len(t, other, 1, "the same key on another incident is a different entry")
	})
}

func TestAddTimelineValidation(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		good := schemas.TimelineEntry{IncidentID: "inc_1", At: base, Kind: schemas.TimelineDetected, Key: "k"}
		tests := []struct {
			name    string
			entry   schemas.TimelineEntry
			wantErr string
		}{
			{name: "incident", entry: schemas.TimelineEntry{At: base, Kind: "x"}, wantErr: "entries[1].incident_id is required"},
			{name: "kind", entry: schemas.TimelineEntry{IncidentID: "inc_1", At: base}, wantErr: "entries[1].kind is required"},
			{name: "at", entry: schemas.TimelineEntry{IncidentID: "inc_1", Kind: "x"}, wantErr: "entries[1].at is required"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				require.ErrorContains(t, s.AddTimeline(ctx, good, tt.entry), tt.wantErr)
			})
		}
		got, err := s.Timeline(ctx, "inc_1")
		require.NoError(t, err)
		require.Empty(t, got, "a rejected call adds nothing")
	})
}

func TestActivityAcrossIncidents(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		e := func(id string, sec int, kind, actor string) schemas.TimelineEntry {
			return schemas.TimelineEntry{IncidentID: id, At: base.Add(time.Duration(sec) * time.Second), Kind: kind, Actor: actor, Message: kind}
		}
		require.NoError(t, s.AddTimeline(ctx,
			e("inc_1", 0, schemas.TimelineDetected, "mahavishnu"),
			e("inc_1", 1, schemas.TimelineEventsAdded, "mahavishnu"),
			e("inc_2", 2, schemas.TimelineAcknowledged, "alice"),
			e("inc_1", 3, schemas.TimelineApproved, "bob"),
			e("inc_1", 4, schemas.TimelineAction, "bob"),
			e("inc_2", 5, schemas.TimelineNotified, "slack"),
			e("inc_2", 6, schemas.TimelineClosed, "carol"),
		))
		kinds := func(entries []schemas.TimelineEntry) []string {
			var out []string
			for _, x := range entries {
				out = append(out, x.IncidentID+"/"+x.Kind)
			}
			return out
		}
		all, err := s.Activity(ctx, ActivityFilter{ExcludeKinds: []string{schemas.TimelineEventsAdded}})
		require.NoError(t, err)
		require.Equal(t, []string{"inc_1/detected", "inc_2/acknowledged", "inc_1/approved", "inc_1/action",
			"inc_2/notification_sent", "inc_2/closed"}, kinds(all), "oldest first, both incidents")

		last, err := s.Activity(ctx, ActivityFilter{Last: 2})
		require.NoError(t, err)
		require.Equal(t, []string{"inc_2/notification_sent", "inc_2/closed"}, kinds(last), "the latest two")

		one, err := s.Activity(ctx, ActivityFilter{IncidentID: "inc_1", Kinds: []string{schemas.TimelineAction}})
		require.NoError(t, err)
		require.Equal(t, []string{"inc_1/action"}, kinds(one))

		since, err := s.Activity(ctx, ActivityFilter{Since: base.Add(5 * time.Second)})
		require.NoError(t, err)
		require.Equal(t, []string{"inc_2/notification_sent", "inc_2/closed"}, kinds(since))
	})
}
