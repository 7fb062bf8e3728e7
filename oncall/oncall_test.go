package oncall

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func at(t *testing.T, zone, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	require.NoError(t, err)
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	require.NoError(t, err)
	return v
}

// weekly is alice, bob, carol handing off Mondays 09:00 Berlin, starting on Monday 2026-03-02.
func weekly(t *testing.T) Layer {
	return Layer{People: []string{"alice", "bob", "carol"}, Rotation: Weekly, Every: 1, Handoff: "mon 09:00",
		TimeZone: "Europe/Berlin", Start: at(t, "Europe/Berlin", "2026-03-02 10:00")}
}

func TestWhoIsOnCall(t *testing.T) {
	daily := Layer{People: []string{"dan", "erin"}, Rotation: Daily, Every: 2, Handoff: "18:30",
		TimeZone: "America/New_York", Start: at(t, "America/New_York", "2026-03-01 20:00")}
	cases := []struct {
		name  string
		layer Layer
		at    time.Time
		want  string
		since time.Time
	}{
		{"start of turn 0", weekly(t), at(t, "Europe/Berlin", "2026-03-02 09:00"), "alice", at(t, "Europe/Berlin", "2026-03-02 09:00")},
		{"a minute before the first handoff", weekly(t), at(t, "Europe/Berlin", "2026-03-09 08:59"), "alice", at(t, "Europe/Berlin", "2026-03-02 09:00")},
		{"at the handoff", weekly(t), at(t, "Europe/Berlin", "2026-03-09 09:00"), "bob", at(t, "Europe/Berlin", "2026-03-09 09:00")},
		{"third week", weekly(t), at(t, "Europe/Berlin", "2026-03-20 23:00"), "carol", at(t, "Europe/Berlin", "2026-03-16 09:00")},
		{"wraps around", weekly(t), at(t, "Europe/Berlin", "2026-03-23 09:00"), "alice", at(t, "Europe/Berlin", "2026-03-23 09:00")},
		// Berlin moves to summer time on 2026-03-29: the handoff on 2026-03-30 is still 09:00 local.
		{"after the DST change, 08:59 local", weekly(t), at(t, "Europe/Berlin", "2026-03-30 08:59"), "alice", at(t, "Europe/Berlin", "2026-03-23 09:00")},
		{"after the DST change, 09:00 local", weekly(t), at(t, "Europe/Berlin", "2026-03-30 09:00"), "bob", at(t, "Europe/Berlin", "2026-03-30 09:00")},
		{"before the start counts backwards", weekly(t), at(t, "Europe/Berlin", "2026-02-25 12:00"), "carol", at(t, "Europe/Berlin", "2026-02-23 09:00")},
		{"daily every 2 days", daily, at(t, "America/New_York", "2026-03-03 18:29"), "dan", at(t, "America/New_York", "2026-03-01 18:30")},
		{"daily handoff", daily, at(t, "America/New_York", "2026-03-03 18:30"), "erin", at(t, "America/New_York", "2026-03-03 18:30")},
		// New York moves to summer time on 2026-03-08 at 02:00. Turns start 03-01, 03-03,
		// 03-05, 03-07, 03-09 at 18:30 local (dan, erin, dan, erin, dan).
		{"daily across DST", daily, at(t, "America/New_York", "2026-03-09 18:30"), "dan", at(t, "America/New_York", "2026-03-09 18:30")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := Schedule{Name: "s", Layers: []Layer{tc.layer}}
			on, err := s.At(tc.at)
			require.NoError(t, err)
			require.Len(t, on, 1)
			require.Equal(t, tc.want, on[0].Person)
			require.True(t, tc.since.Equal(on[0].Since), "since %s, want %s", on[0].Since, tc.since)
		})
	}
}

func TestDSTHandoffKeepsLocalTime(t *testing.T) {
	s := Schedule{Name: "s", Layers: []Layer{weekly(t)}}
	on, err := s.At(at(t, "Europe/Berlin", "2026-03-25 12:00"))
	require.NoError(t, err)
	// The turn from 03-23 09:00 CET to 03-30 09:00 CEST lasts 167 hours, not 168.
	require.Equal(t, 167*time.Hour, on[0].Until.Sub(on[0].Since))
}

func TestOverrides(t *testing.T) {
	created := at(t, "UTC", "2026-03-01 00:00")
	ov := func(id, person, from, to string, createdMin int) Override {
		return Override{ID: id, Layer: 1, Person: person, From: at(t, "Europe/Berlin", from), To: at(t, "Europe/Berlin", to),
			CreatedAt: created.Add(time.Duration(createdMin) * time.Minute)}
	}
	s := Schedule{Name: "s", Layers: []Layer{weekly(t)}, Overrides: []Override{
		ov("o1", "zoe", "2026-03-03 00:00", "2026-03-05 00:00", 1),
		// Created later and overlapping o1's second day: it wins there.
		ov("o2", "yan", "2026-03-04 00:00", "2026-03-06 00:00", 2),
		// Created earliest, inside o2: o2 still wins.
		ov("o3", "xi", "2026-03-04 12:00", "2026-03-04 13:00", 0),
	}}
	cases := []struct {
		at, want, override string
	}{
		{"2026-03-02 23:59", "alice", ""},
		{"2026-03-03 00:00", "zoe", "o1"},
		{"2026-03-03 23:59", "zoe", "o1"},
		{"2026-03-04 00:00", "yan", "o2"},
		{"2026-03-04 12:30", "yan", "o2"},
		{"2026-03-05 12:00", "yan", "o2"},
		{"2026-03-06 00:00", "alice", ""},
	}
	for _, tc := range cases {
		t.Run(tc.at, func(t *testing.T) {
			on, err := s.At(at(t, "Europe/Berlin", tc.at))
			require.NoError(t, err)
			require.Equal(t, tc.want, on[0].Person)
			require.Equal(t, tc.override, on[0].Override)
		})
	}
	shifts, err := s.Shifts(at(t, "Europe/Berlin", "2026-03-02 09:00"), at(t, "Europe/Berlin", "2026-03-16 09:00"))
	require.NoError(t, err)
	type sh struct{ person, start, end string }
	var got []sh
	for _, x := range shifts {
		got = append(got, sh{x.Person, x.Start.In(time.UTC).Format("01-02 15:04"), x.End.In(time.UTC).Format("01-02 15:04")})
	}
	require.Equal(t, []sh{
		{"alice", "03-02 08:00", "03-02 23:00"},
		{"zoe", "03-02 23:00", "03-03 23:00"},
		{"yan", "03-03 23:00", "03-05 23:00"},
		{"alice", "03-05 23:00", "03-09 08:00"},
		{"bob", "03-09 08:00", "03-16 08:00"},
	}, got)
}

func TestTwoLayers(t *testing.T) {
	second := weekly(t)
	second.People = []string{"dave", "erin"}
	s := Schedule{Name: "s", Layers: []Layer{weekly(t), second}}
	people, err := s.People(at(t, "Europe/Berlin", "2026-03-10 12:00"))
	require.NoError(t, err)
	require.Equal(t, []string{"bob", "erin"}, people)
	shifts, err := s.Shifts(at(t, "Europe/Berlin", "2026-03-02 09:00"), at(t, "Europe/Berlin", "2026-03-16 09:00"))
	require.NoError(t, err)
	require.Len(t, shifts, 4)
	require.Equal(t, 2, shifts[2].Layer)
	require.Equal(t, "dave", shifts[2].Person)
}

func TestValidation(t *testing.T) {
	base := weekly(t)
	cases := []struct {
		name string
		edit func(l *Layer)
		want string
	}{
		{"no people", func(l *Layer) { l.People = nil }, "people: at least one person is required"},
		{"bad rotation", func(l *Layer) { l.Rotation = "monthly" }, `rotation: want daily or weekly, got "monthly"`},
		{"bad zone", func(l *Layer) { l.TimeZone = "Mars/Olympus" }, `time_zone: unknown zone "Mars/Olympus"`},
		{"weekly without a day", func(l *Layer) { l.Handoff = "09:00" }, `handoff: want a weekday and a time such as "mon 09:00", got "09:00"`},
		{"bad day", func(l *Layer) { l.Handoff = "moonday 09:00" }, `handoff: unknown weekday "moonday" (want mon, tue, ...)`},
		{"bad time", func(l *Layer) { l.Handoff = "mon 25:00" }, `handoff: want a time of day HH:MM, got "25:00"`},
		{"daily with a day", func(l *Layer) { l.Rotation = Daily }, `handoff: want a time such as "09:00", got "mon 09:00"`},
		{"every", func(l *Layer) { l.Every = -1 }, "every: want 1 to 52, got -1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := base
			l.People = append([]string(nil), base.People...)
			tc.edit(&l)
			require.EqualError(t, l.Validate(), tc.want)
		})
	}
	s := Schedule{Name: "s", Layers: []Layer{base}}
	require.EqualError(t, s.ValidateOverride(Override{Person: "x", Layer: 2, From: base.Start, To: base.Start.Add(time.Hour)}),
		"layer: schedule s has layers 1 to 1, got 2")
	require.EqualError(t, s.ValidateOverride(Override{Person: "x", Layer: 1, From: base.Start, To: base.Start}), "to: must be after from")
	p := Person{Name: "alice", Email: "nope"}
	require.EqualError(t, p.Validate(), `email: "nope" is not an email address`)
	p = Person{Name: "alice"}
	require.NoError(t, p.Validate())
	require.Equal(t, "responder", string(p.Role))
	p = Person{Name: "alice", Role: "boss"}
	require.ErrorContains(t, p.Validate(), `role: unknown role "boss"`)
}
