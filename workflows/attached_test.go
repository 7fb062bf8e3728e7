package workflows

import (
	"time"

	"github.com/mahavishnu/mahavishnu/activities"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// eventLogInput is an incident opened by the event-log detector: counters only, no IDs.
func eventLogInput() schemas.IncidentInput {
	in := input()
	in.Events = schemas.AttachEvents{FirstAt: t0.Add(-90 * time.Second), LastAt: t0, Components: []string{"api"},
		Severity: schemas.SeverityHigh}
	return in
}

func (s *IncidentSuite) attachedAt(after time.Duration, b schemas.EventsAttached) {
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(schemas.SignalEventsAttached, b) }, after)
}

func (s *IncidentSuite) timelineOf(kind string) []schemas.TimelineEntry {
	var out []schemas.TimelineEntry
	for _, in := range s.syncs {
		for _, e := range in.Timeline {
			if e.Kind == kind {
				out = append(out, e)
			}
		}
	}
	return out
}

func (s *IncidentSuite) TestEventsAttachedCountersAreAbsoluteAndNeverAttachIDs() {
	// The opening signal (SignalWithStart) comes before the first workflow task.
	s.env.RegisterDelayedCallback(func() {}, 0)
	s.attachedAt(0, schemas.EventsAttached{EventCount: 12, FirstAt: t0.Add(-90 * time.Second), LastAt: t0,
		Components: []string{"api"}, MaxEventSeverity: schemas.SeverityHigh})
	s.attachedAt(2*time.Minute, schemas.EventsAttached{EventCount: 352, FirstAt: t0.Add(-90 * time.Second),
		LastAt: t0.Add(2 * time.Minute), Components: []string{"api"}, MaxEventSeverity: schemas.SeverityHigh})
	// Sent again (a re-sent outbox row) and late: changes nothing.
	s.attachedAt(3*time.Minute, schemas.EventsAttached{EventCount: 352, LastAt: t0.Add(2 * time.Minute)})
	s.attachedAt(4*time.Minute, schemas.EventsAttached{EventCount: 100})
	s.updateAt(10*time.Minute, schemas.UpdateResolve, schemas.Resolve{By: "alice"})
	s.env.ExecuteWorkflow(IncidentWorkflow, eventLogInput())

	inc := s.result()
	s.Require().Equal(352, inc.EventCount)
	s.Require().Equal(t0.Add(2*time.Minute), *inc.LastEventAt)
	s.Require().InDelta(90, *inc.MTTDSeconds, 0.001)
	for _, in := range s.syncs {
		s.Require().Empty(in.AttachEventIDs, "the detector attached the events in the store")
	}
	s.Require().Contains(s.entry(schemas.TimelineDetected).Message, "(12 events)")
	added := s.timelineOf(schemas.TimelineEventsAdded)
	s.Require().Len(added, 1, "one entry for the +340 events, written with the next snapshot")
	s.Require().Equal("+340 events (352 in all)", added[0].Message)
}

func (s *IncidentSuite) TestEventsAttachedRaisesSeverityAndReportsComponentsAtOnce() {
	s.attachedAt(time.Minute, schemas.EventsAttached{EventCount: 20, LastAt: t0.Add(time.Minute),
		Components: []string{"api", "db-2"}, MaxEventSeverity: schemas.SeverityCritical})
	var severityAt, componentAt *schemas.Incident
	s.env.RegisterDelayedCallback(func() {
		for i := range s.syncs {
			in := s.syncs[i].Incident
			if in.Severity == schemas.SeverityCritical && severityAt == nil {
				severityAt = &in
			}
			for _, e := range s.syncs[i].Timeline {
				if e.Kind == schemas.TimelineEventsAdded && componentAt == nil {
					componentAt = &in
				}
			}
		}
	}, time.Minute+time.Second)
	s.updateAt(5*time.Minute, schemas.UpdateResolve, schemas.Resolve{By: "alice"})
	s.env.ExecuteWorkflow(IncidentWorkflow, eventLogInput())

	inc := s.result()
	s.Require().Equal(schemas.SeverityCritical, inc.Severity)
	s.Require().NotNil(severityAt, "a raised severity is written at once")
	s.Require().NotNil(componentAt, "a new component is written at once")
	s.Require().Equal("+20 events (20 in all), new component db-2", s.timelineOf(schemas.TimelineEventsAdded)[0].Message)
	s.Require().Len(s.timelineOf("severity_raised"), 1)
	s.Require().Equal([]string{"api", "api-gw", "db-2"}, inc.AffectedComponents)
}

func (s *IncidentSuite) TestEventsAttachedDoNotUndoALoweredSeverity() {
	s.attachedAt(time.Minute, schemas.EventsAttached{EventCount: 5, MaxEventSeverity: schemas.SeverityCritical})
	s.updateAt(2*time.Minute, schemas.UpdateFields, schemas.Update{By: "alice", Severity: schemas.SeverityMedium})
	// More events of the same highest severity: the responder's choice stands.
	s.attachedAt(3*time.Minute, schemas.EventsAttached{EventCount: 9, MaxEventSeverity: schemas.SeverityCritical})
	s.updateAt(5*time.Minute, schemas.UpdateResolve, schemas.Resolve{By: "alice"})
	s.env.ExecuteWorkflow(IncidentWorkflow, eventLogInput())
	s.Require().Equal(schemas.SeverityMedium, s.result().Severity)
}

func (s *IncidentSuite) TestEventsAttachedRestartStabilisation() {
	in := eventLogInput()
	in.Settings.AutoResolution = true
	in.Settings.StabilizationWindow = 10 * time.Minute
	s.attachedAt(8*time.Minute, schemas.EventsAttached{EventCount: 30})
	s.env.ExecuteWorkflow(IncidentWorkflow, in)

	inc := s.result()
	s.Require().Equal(schemas.StatusResolved, inc.Status)
	s.Require().Equal(t0.Add(18*time.Minute), *inc.ResolvedAt, "the window restarted at the 8 minute signal")
	s.Require().Equal(30, inc.EventCount)
}

func (s *IncidentSuite) TestEventsAttachedWithoutChangeWriteNothing() {
	s.attachedAt(time.Minute, schemas.EventsAttached{EventCount: 0})
	s.updateAt(3*time.Minute, schemas.UpdateResolve, schemas.Resolve{By: "alice"})
	s.env.ExecuteWorkflow(IncidentWorkflow, eventLogInput())
	s.result()
	s.Require().Empty(s.timelineOf(schemas.TimelineEventsAdded))
	var stageSyncs int
	for _, st := range s.stages {
		if st.Stage == activities.StagePostMortem {
			stageSyncs++
		}
	}
	s.Require().Equal(1, stageSyncs)
}
