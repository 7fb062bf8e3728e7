package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

func TestTimeRoundTripPrecision(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		tests := []struct {
			name string
			in   time.Time
		}{
			{name: "nanoseconds in another zone", in: base},
			{name: "whole second", in: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
			{name: "one microsecond", in: time.Date(2026, 1, 2, 3, 4, 5, 1000, time.UTC)},
			{name: "sub-microsecond is truncated", in: time.Date(2026, 1, 2, 3, 4, 5, 999, time.UTC)},
			{name: "negative offset", in: time.Date(2025, 12, 31, 23, 59, 59, 999999000, time.FixedZone("UTC-5", -5*3600))},
			{name: "local", in: time.Date(2024, 2, 29, 12, 0, 0, 123456000, time.Local)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				id := "t_" + tt.name
				want := stored(tt.in)

				_, err := s.InsertEvents(ctx, []schemas.Event{testEvent(id, tt.in)}, tt.in)
				require.NoError(t, err)
				evs, err := s.ListEvents(ctx, EventFilter{Since: tt.in, Last: 10000})
				require.NoError(t, err)
				var found bool
				for _, e := range evs {
					if e.EventID == id {
						found = true
						require.Equal(t, want, e.Timestamp)
						require.Equal(t, time.UTC, e.Timestamp.Location())
					}
				}
				require.True(t, found, "Since equal to the event time must include it")

				inc := testIncident(id, schemas.StatusResolved, tt.in)
				inc.ResolvedAt = &tt.in
				require.NoError(t, s.UpsertIncident(ctx, inc))
				got, err := s.GetIncident(ctx, id)
				require.NoError(t, err)
				require.Equal(t, want, got.DetectedAt)
				require.Equal(t, want, *got.ResolvedAt)
				require.Equal(t, want, got.UpdatedAt)
				require.Equal(t, time.UTC, got.ResolvedAt.Location())

				require.NoError(t, s.AddTimeline(ctx, schemas.TimelineEntry{IncidentID: id, At: tt.in, Kind: "x"}))
				tl, err := s.Timeline(ctx, id)
				require.NoError(t, err)
				require.Len(t, tl, 1)
				require.Equal(t, want, tl[0].At)
			})
		}
	})
}

func TestDBTimeScan(t *testing.T) {
	t.Parallel()
	want := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	tests := []struct {
		name    string
		src     any
		want    time.Time
		wantErr string
	}{
		{name: "nil", src: nil},
		{name: "time", src: want.In(time.FixedZone("X", 3600)), want: want},
		{name: "our text", src: "2026-01-02T03:04:05.000006Z", want: want},
		{name: "bytes", src: []byte("2026-01-02T03:04:05.000006Z"), want: want},
		{name: "bun text", src: "2026-01-02 04:04:05.000006+01:00", want: want},
		{name: "garbage", src: "yesterday", wantErr: `cannot parse stored time "yesterday"`},
		{name: "wrong type", src: int64(5), wantErr: "cannot read a time from int64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got dbTime
			err := got.Scan(tt.src)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.True(t, tt.want.Equal(got.Time), "got %s", got.Time)
			if !got.IsZero() {
				require.Equal(t, time.UTC, got.Location())
			}
		})
	}
}
