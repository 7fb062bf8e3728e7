package procedures

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/auth"
	"github.com/mahavishnu/mahavishnu/oncall"
	"github.com/mahavishnu/mahavishnu/schemas"
)

func TestRecordRoundTrip(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	detected := t0.Add(9 * time.Second)
	mtta, mttr := 120.0, 1800.0
	inc := schemas.Incident{IncidentID: "inc_0123456789abcdef", IncidentType: "error_burst", Severity: schemas.SeverityHigh,
		RuleID: "error_burst", Source: "api", Title: "API Error Burst on api", DetectedAt: detected, FirstEventAt: &t0,
		MTTASeconds: &mtta, MTTRSeconds: &mttr, ResolutionNotes: "restarted"}
	var events []schemas.Event
	for i := 0; i < 10; i++ {
		events = append(events, schemas.Event{EventID: "e", Timestamp: t0.Add(time.Duration(9-i) * time.Second),
			EventType: "error", Source: "api", Component: "api", Severity: schemas.SeverityHigh, Message: "boom"})
	}
	at := func(d time.Duration) time.Time { return detected.Add(d) }
	timeline := []schemas.TimelineEntry{
		{At: at(0), Kind: schemas.TimelineDetected, Message: "HIGH incident detected by rule error_burst for api (10 events)"},
		{At: at(0), Kind: schemas.TimelineStageStarted, Key: "stage/contain/started"},
		{At: at(0), Kind: schemas.TimelineEscalated, Key: "escalated/opening/2", Message: "paging level 0 (primary) for the new incident: frank"},
		{At: at(0), Kind: schemas.TimelinePaged, Message: "paged frank at level 0 (primary) via schedule leads (layer 1, override o1)"},
		{At: at(time.Second), Kind: schemas.TimelineApprovalReq, Message: "approval needed to run restart_service: `mahavishnu ...` (expires in 5m0s)"},
		{At: at(time.Second), Kind: schemas.TimelineNotified, Actor: "log", Message: "opened notification sent to log"},
		{At: at(90 * time.Second), Kind: schemas.TimelineApproved, Actor: "bob", Message: "restart_service approved by bob"},
		{At: at(2 * time.Minute), Kind: schemas.TimelineAcknowledged, Actor: "alice", Message: "acknowledged by alice"},
		{At: at(3 * time.Minute), Kind: schemas.TimelineAssigned, Actor: "alice", Message: "reassigned from carol to dave"},
		{At: at(15 * time.Minute), Kind: schemas.TimelineEscalated, Message: "not acknowledged: escalated to level 1 (tech-lead): bob, erin"},
		{At: at(15 * time.Minute), Kind: schemas.TimelinePaged, Message: "paged bob at level 1 (tech-lead) via schedule leads (layer 1)"},
		{At: at(15 * time.Minute), Kind: schemas.TimelinePaged, Message: "paged erin at level 1 (tech-lead) via person erin"},
		{At: at(20 * time.Minute), Kind: schemas.TimelinePaged, Message: "paged zed at level 2 (manager) via person zed"},
		{At: at(30 * time.Minute), Kind: schemas.TimelineResolved, Actor: "alice", Message: "resolved by alice: restarted"},
	}
	layerStart := time.Date(2025, 12, 29, 9, 0, 0, 0, time.UTC)
	people := []oncall.Person{{Name: "bob", SlackUser: "UBOB", Role: auth.Responder}, {Name: "erin", Role: auth.Approver}}
	schedules := []oncall.Schedule{{Name: "leads", Layers: []oncall.Layer{{People: []string{"bob", "erin"}, Rotation: oncall.Weekly,
		Every: 1, Handoff: "mon 09:00", TimeZone: "Europe/Berlin", Start: layerStart}},
		Overrides: []oncall.Override{
			{ID: "o2", Layer: 1, Person: "erin", From: layerStart, To: layerStart.Add(time.Hour), CreatedAt: layerStart.Add(2 * time.Minute)},
			{ID: "o1", Layer: 1, Person: "bob", From: layerStart, To: layerStart.Add(2 * time.Hour), CreatedAt: layerStart.Add(time.Minute)},
		}}}
	sc, err := Record(Recorded{Incident: inc, Events: events, Timeline: timeline, PostMortem: "# PM\n## Summary\n\n## Timeline\n",
		People: people, Schedules: schedules})
	require.NoError(t, err)
	data, err := Marshal(sc)
	require.NoError(t, err)
	require.NotContains(t, string(data), "config:", "a recording runs with the current config")
	back, err := Parse("recorded.yaml", data)
	require.NoError(t, err, string(data))
	require.Len(t, back.Events, 10)
	require.NotNil(t, back.OnCall, "an incident that paged people records the directory and schedules")
	require.Equal(t, []PersonSpec{{Name: "bob", SlackUser: "UBOB", Role: "responder"}, {Name: "erin", Role: "approver"}}, back.OnCall.People)
	require.Len(t, back.OnCall.Schedules, 1)
	require.Equal(t, "Europe/Berlin", back.OnCall.Schedules[0].Layers[0].TimeZone)
	require.True(t, layerStart.Equal(back.OnCall.Schedules[0].Layers[0].Start))
	require.Equal(t, []string{"bob", "erin"}, []string{back.OnCall.Schedules[0].Overrides[0].Person, back.OnCall.Schedules[0].Overrides[1].Person},
		"overrides in creation order: the later one wins where they overlap")
	require.Equal(t, Duration(0), back.Events[0].At)
	require.Equal(t, Duration(9*time.Second), back.Events[9].At)
	var steps []string
	for _, s := range back.Responders {
		steps = append(steps, s.At.String()+" "+s.Describe())
	}
	require.Equal(t, []string{"+1m30s approve restart_service by bob", "+2m acknowledge by alice", "+3m assign to dave", "+30m resolve by alice"}, steps)
	require.Equal(t, "restarted", back.Responders[3].Resolve.Notes)
	require.Equal(t, "high", back.Expect[0].Opened.Severity)
	var esc, opening *EscalatedExpect
	for _, e := range back.Expect {
		if e.Escalated != nil {
			if opening == nil {
				opening = e.Escalated
			}
			esc = e.Escalated
		}
	}
	require.NotNil(t, opening)
	require.Equal(t, 0, *opening.Level, "the level paged at the opening")
	require.Equal(t, "primary", opening.Name)
	require.Equal(t, []string{"frank"}, opening.Paged)
	require.NotNil(t, esc)
	require.Equal(t, 1, *esc.Level)
	require.Equal(t, "tech-lead", esc.Name)
	require.Equal(t, []string{"bob", "erin"}, esc.Paged, "the people paged with the escalation, not those of another level")
	require.Equal(t, Duration(14*time.Minute), *esc.After)
	require.Equal(t, Duration(16*time.Minute), *esc.Within)
}
