package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/auth"
	"github.com/mahavishnu/mahavishnu/oncall"
)

func TestPeopleSchedulesHeartbeats(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		require.NoError(t, s.InsertPerson(ctx, oncall.Person{Name: "alice", Email: "alice@example.com", SlackUser: "U111"}))
		require.NoError(t, s.InsertPerson(ctx, oncall.Person{Name: "bob", Role: auth.Admin}))
		require.ErrorIs(t, s.InsertPerson(ctx, oncall.Person{Name: "bob"}), ErrExists)
		require.ErrorContains(t, s.InsertPerson(ctx, oncall.Person{Name: "x", Email: "bad"}), "email:")

		p, err := s.PersonBySlackUser(ctx, "U111")
		require.NoError(t, err)
		require.Equal(t, "alice", p.Name)
		require.Equal(t, auth.Responder, p.Role)
		_, err = s.PersonBySlackUser(ctx, "U999")
		require.ErrorIs(t, err, ErrNotFound)

		p.Phone = "+15550100"
		require.NoError(t, s.UpdatePerson(ctx, *p))
		p, err = s.GetPerson(ctx, "alice")
		require.NoError(t, err)
		require.Equal(t, "+15550100", p.Phone)
		require.ErrorIs(t, s.UpdatePerson(ctx, oncall.Person{Name: "nobody"}), ErrNotFound)

		people, err := s.People(ctx, []string{"bob", "nobody"})
		require.NoError(t, err)
		require.Len(t, people, 1)
		require.Equal(t, auth.Admin, people[0].Role)

		start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		layer := oncall.Layer{People: []string{"alice", "bob"}, Rotation: oncall.Weekly, Handoff: "mon 09:00", TimeZone: "UTC", Start: start}
		require.NoError(t, s.InsertSchedule(ctx, oncall.Schedule{Name: "payments", Layers: []oncall.Layer{layer}}))
		require.ErrorIs(t, s.InsertSchedule(ctx, oncall.Schedule{Name: "payments", Layers: []oncall.Layer{layer}}), ErrExists)
		sc, err := s.AddLayer(ctx, "payments", layer)
		require.NoError(t, err)
		require.Len(t, sc.Layers, 2)
		require.Equal(t, 1, sc.Layers[1].Every)

		require.NoError(t, s.InsertOverride(ctx, "payments", oncall.Override{ID: "ovr_1", Layer: 1, Person: "bob",
			From: start.Add(time.Hour), To: start.Add(2 * time.Hour)}))
		require.ErrorContains(t, s.InsertOverride(ctx, "payments", oncall.Override{ID: "ovr_2", Layer: 3, Person: "bob",
			From: start, To: start.Add(time.Hour)}), "layer:")
		sc, err = s.GetSchedule(ctx, "payments")
		require.NoError(t, err)
		require.Len(t, sc.Overrides, 1)
		who, err := sc.People(start.Add(90 * time.Minute))
		require.NoError(t, err)
		require.Equal(t, []string{"bob", "alice"}, who)
		require.NoError(t, s.DeleteOverride(ctx, "ovr_1"))
		require.ErrorIs(t, s.DeleteOverride(ctx, "ovr_1"), ErrNotFound)

		require.NoError(t, s.InsertHeartbeat(ctx, oncall.Heartbeat{Name: "backup", Every: time.Hour, Grace: 10 * time.Minute}))
		ping := start.Add(time.Minute)
		deadline := ping.Add(70 * time.Minute)
		require.NoError(t, s.SetHeartbeatState(ctx, "backup", HeartbeatState{State: oncall.HeartbeatUp, LastPingAt: &ping, NextDeadline: &deadline}))
		hb, err := s.GetHeartbeat(ctx, "backup")
		require.NoError(t, err)
		require.Equal(t, oncall.HeartbeatUp, hb.State)
		require.Equal(t, time.Hour, hb.Every)
		require.True(t, deadline.Equal(*hb.NextDeadline))
		require.Equal(t, "high", string(hb.Severity))
		list, err := s.Heartbeats(ctx)
		require.NoError(t, err)
		require.Len(t, list, 1)

		require.NoError(t, s.DeleteSchedule(ctx, "payments"))
		_, err = s.GetSchedule(ctx, "payments")
		require.True(t, errors.Is(err, ErrNotFound))
		require.NoError(t, s.DeletePerson(ctx, "bob"))
		require.NoError(t, s.DeleteHeartbeat(ctx, "backup"))
	})
}
