package activities

import (
	"context"
	"fmt"
	"time"

	"github.com/mahavishnu/mahavishnu/oncall"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// HeartbeatStateInput is what the heartbeat workflow records after each change.
type HeartbeatStateInput struct {
	Name         string     `json:"name"`
	State        string     `json:"state"`
	LastPingAt   *time.Time `json:"last_ping_at,omitempty"`
	NextDeadline *time.Time `json:"next_deadline,omitempty"`
	IncidentID   string     `json:"incident_id,omitempty"`
}

// RecordHeartbeat writes the heartbeat's state for `heartbeats list`.
func (a *Activities) RecordHeartbeat(ctx context.Context, in HeartbeatStateInput) error {
	return a.Store.SetHeartbeatState(ctx, in.Name, store.HeartbeatState{State: in.State, LastPingAt: in.LastPingAt,
		NextDeadline: in.NextDeadline, IncidentID: in.IncidentID})
}

// HeartbeatMissedInput opens a heartbeat_missed incident.
type HeartbeatMissedInput struct {
	Heartbeat  oncall.Heartbeat         `json:"heartbeat"`
	IncidentID string                   `json:"incident_id"`
	Deadline   time.Time                `json:"deadline"`
	Settings   schemas.IncidentSettings `json:"settings"`
}

// HeartbeatMissedType is the incident type a missed heartbeat opens.
const HeartbeatMissedType = "heartbeat_missed"

// OpenHeartbeatIncident opens the heartbeat_missed incident through the event path's
// outbox (the dispatcher starts its workflow). Idempotent: the incident ID comes from the
// workflow.
func (a *Activities) OpenHeartbeatIncident(ctx context.Context, in HeartbeatMissedInput) error {
	h := in.Heartbeat
	last := "never pinged"
	if h.LastPingAt != nil {
		last = "last ping " + h.LastPingAt.UTC().Format(time.RFC3339)
	}
	return a.Store.OpenIncident(ctx, time.Now(), schemas.IncidentInput{
		IncidentID: in.IncidentID, Fingerprint: h.Fingerprint(), RuleID: "heartbeat", IncidentType: HeartbeatMissedType,
		Severity: h.Severity, Title: fmt.Sprintf("Heartbeat %s missed", h.Name),
		Description: fmt.Sprintf("No ping by %s (every %s, grace %s; %s).", in.Deadline.UTC().Format(time.RFC3339), h.Every, h.Grace, last),
		Source:      "heartbeat/" + h.Name, DetectedAt: in.Deadline.UTC(), Settings: in.Settings,
	})
}
