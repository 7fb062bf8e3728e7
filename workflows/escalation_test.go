package workflows

import (
	"context"
	"strings"
	"time"

	"github.com/mahavishnu/mahavishnu/activities"
	"github.com/mahavishnu/mahavishnu/oncall"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// onCallStore opens a real store with alice, bob and carol and registers the real
// ResolvePages activity on it, so that the schedule is asked at the workflow's (skipped)
// time when a level fires.
func (s *IncidentSuite) onCallStore(layers ...oncall.Layer) *store.Store {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:///oncall.db", s.T().TempDir())
	s.Require().NoError(err)
	s.T().Cleanup(func() { _ = st.Close() })
	for _, p := range []oncall.Person{
		{Name: "alice", Email: "alice@example.com", SlackUser: "UALICE"},
		{Name: "bob", Email: "bob@example.com", SlackUser: "UBOB"},
		{Name: "carol", Email: "carol@example.com"},
	} {
		s.Require().NoError(st.InsertPerson(ctx, p))
	}
	s.Require().NoError(st.InsertSchedule(ctx, oncall.Schedule{Name: "payments", Layers: layers}))
	s.env.RegisterActivity((&activities.Activities{Store: st}).ResolvePages)
	return st
}

// pagedAt returns "person@offset" for every paged entry, offsets from start.
func (s *IncidentSuite) pagedAt(start time.Time) []string {
	var out []string
	for _, e := range s.timelineOf(schemas.TimelinePaged) {
		name := strings.Fields(e.Message)[1]
		out = append(out, name+"@"+e.At.Sub(start).String())
	}
	return out
}

func twoLevels() []schemas.EscalationLevel {
	return []schemas.EscalationLevel{
		{Name: "primary", Schedules: []string{"payments"}},
		{Name: "primary-again", Schedules: []string{"payments"}, Channels: []string{"slack"}},
	}
}

// t0 is 12:00 UTC; the daily handoff at 12:30 UTC moves alice's turn to bob's.
func dailyAliceBob() oncall.Layer {
	return oncall.Layer{People: []string{"alice", "bob"}, Rotation: oncall.Daily, Handoff: "12:30", TimeZone: "UTC", Start: t0}
}

func (s *IncidentSuite) TestEscalationPagesWhoIsOnCallWhenTheLevelFires() {
	s.onCallStore(dailyAliceBob())
	in := input()
	in.Settings.Escalation = twoLevels()
	s.updateAt(3*time.Hour, schemas.UpdateResolve, schemas.Resolve{By: "bob"})
	s.env.ExecuteWorkflow(IncidentWorkflow, in)
	inc := s.result()
	s.Require().Equal(1, inc.EscalationLevel)
	// Level 0 at the opening (alice's turn); level 1 at the 1h HIGH target, after the
	// 12:30 handoff: bob, not alice.
	s.Require().Equal([]string{"alice@0s", "bob@1h0m0s"}, s.pagedAt(t0))
	var pages [][]string
	for _, n := range s.notified {
		var names []string
		for _, p := range n.People {
			names = append(names, p.Name+"/"+p.SlackUser)
		}
		if len(names) > 0 {
			pages = append(pages, append([]string{n.Kind}, names...))
		}
	}
	s.Require().Equal([][]string{
		{activities.NotifyEscalated, "alice/UALICE"},
		{activities.NotifyEscalated, "bob/UBOB"},
		{activities.NotifyResolved, "alice/UALICE", "bob/UBOB"},
	}, pages, "each page addresses the person; the resolution notifies everyone paged")
}

func (s *IncidentSuite) TestEscalationPagesTheOverride() {
	st := s.onCallStore(dailyAliceBob())
	s.Require().NoError(st.InsertOverride(context.Background(), "payments", oncall.Override{ID: "ovr_1", Layer: 1,
		Person: "carol", From: t0.Add(50 * time.Minute), To: t0.Add(2 * time.Hour)}))
	in := input()
	in.Settings.Escalation = twoLevels()
	s.updateAt(3*time.Hour, schemas.UpdateResolve, schemas.Resolve{By: "carol"})
	s.env.ExecuteWorkflow(IncidentWorkflow, in)
	s.result()
	s.Require().Equal([]string{"alice@0s", "carol@1h0m0s"}, s.pagedAt(t0))
	s.Require().Contains(s.timelineOf(schemas.TimelinePaged)[1].Message, "override ovr_1")
}

func (s *IncidentSuite) TestEscalationFollowsTheScheduleAcrossADSTChange() {
	// Berlin went to summer time on Sunday 2026-03-29. The Monday handoff at 09:00 local
	// is 07:00 UTC; at winter time it would have been 08:00 UTC.
	start := time.Date(2026, 3, 30, 6, 30, 0, 0, time.UTC)
	s.env.SetStartTime(start)
	berlin, _ := time.LoadLocation("Europe/Berlin")
	s.onCallStore(oncall.Layer{People: []string{"alice", "bob"}, Rotation: oncall.Weekly, Handoff: "mon 09:00",
		TimeZone: "Europe/Berlin", Start: time.Date(2026, 3, 23, 12, 0, 0, 0, berlin)})
	in := input()
	in.DetectedAt = start
	in.Settings.Escalation = twoLevels()
	s.updateAt(3*time.Hour, schemas.UpdateResolve, schemas.Resolve{By: "bob"})
	s.env.ExecuteWorkflow(IncidentWorkflow, in)
	s.result()
	// 06:30 UTC: alice's week; 07:30 UTC (level 1): bob's, which began at 07:00 UTC.
	s.Require().Equal([]string{"alice@0s", "bob@1h0m0s"}, s.pagedAt(start))
}

func (s *IncidentSuite) TestEscalationRepeats() {
	s.onCallStore(dailyAliceBob())
	in := input()
	in.Settings.Escalation = []schemas.EscalationLevel{
		{Name: "alice", People: []string{"alice"}, Delay: 20 * time.Minute},
		{Name: "carol", People: []string{"carol"}},
	}
	in.Settings.EscalationRepeat = 1
	s.updateAt(5*time.Hour, schemas.UpdateResolve, schemas.Resolve{By: "carol"})
	s.env.ExecuteWorkflow(IncidentWorkflow, in)
	inc := s.result()
	s.Require().Equal(1, inc.EscalationLevel)
	// Opening, level 1 at the target, level 0 again after its 20m delay, level 1 again
	// at once (no delay), then the policy is spent.
	s.Require().Equal([]string{"alice@0s", "carol@1h0m0s", "alice@1h20m0s", "carol@1h20m0s"}, s.pagedAt(t0))
	s.Require().Contains(s.timelineOf(schemas.TimelineEscalated)[2].Message, "repeat 1 of 1")
}

func (s *IncidentSuite) TestAcknowledgeStopsEscalationToPeople() {
	s.onCallStore(dailyAliceBob())
	in := input()
	in.Settings.Escalation = twoLevels()
	in.Settings.EscalationRepeat = 3
	s.updateAt(59*time.Minute, schemas.UpdateAcknowledge, schemas.Acknowledge{By: "alice"})
	s.updateAt(6*time.Hour, schemas.UpdateResolve, schemas.Resolve{By: "alice"})
	s.env.ExecuteWorkflow(IncidentWorkflow, in)
	inc := s.result()
	s.Require().Zero(inc.EscalationLevel)
	s.Require().Equal([]string{"alice@0s"}, s.pagedAt(t0), "only the opening page: acknowledged before the target")
}

func (s *IncidentSuite) TestUnknownScheduleIsRecordedNotSkipped() {
	s.onCallStore(dailyAliceBob())
	in := input()
	in.Settings.Escalation = []schemas.EscalationLevel{{Name: "primary", Schedules: []string{"nope"}, People: []string{"zed"}}}
	s.updateAt(10*time.Minute, schemas.UpdateResolve, schemas.Resolve{By: "x"})
	s.env.ExecuteWorkflow(IncidentWorkflow, in)
	s.result()
	msg := s.timelineOf(schemas.TimelineEscalated)[0].Message
	s.Require().Contains(msg, "schedule nope not found")
	s.Require().Contains(msg, "zed is not in the people directory")
}

func (s *IncidentSuite) TestRecoveredResolvesAtOnceWithAutoResolution() {
	in := input()
	in.Settings.AutoResolution = true
	in.Settings.StabilizationWindow = time.Hour
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(schemas.SignalRecovered, schemas.Recovered{By: "alertmanager",
			Reason: "every alert resolved by Alertmanager: HighLatency (f1)", At: t0.Add(5 * time.Minute)})
	}, 5*time.Minute)
	s.env.ExecuteWorkflow(IncidentWorkflow, in)
	inc := s.result()
	s.Require().Equal(schemas.StatusResolved, inc.Status)
	s.Require().Equal(5*time.Minute, inc.ResolvedAt.Sub(t0), "no stabilisation window after the recovery")
	s.Require().Contains(inc.ResolutionNotes, "HighLatency (f1)")
	s.Require().Contains(s.entry(schemas.TimelineRecovered).Message, "every alert resolved")
}

func (s *IncidentSuite) TestRecoveredWithoutAutoResolutionWaits() {
	in := input()
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(schemas.SignalRecovered, schemas.Recovered{By: "heartbeat backup", Reason: "heartbeat backup pinged again", At: t0.Add(time.Minute)})
	}, time.Minute)
	s.updateAt(2*time.Hour, schemas.UpdateResolve, schemas.Resolve{By: "alice"})
	s.env.ExecuteWorkflow(IncidentWorkflow, in)
	inc := s.result()
	s.Require().Equal("alice", inc.ResolvedBy)
	s.Require().Equal("heartbeat backup", s.entry(schemas.TimelineRecovered).Actor)
}
