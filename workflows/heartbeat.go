package workflows

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/mahavishnu/mahavishnu/activities"
	"github.com/mahavishnu/mahavishnu/oncall"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// The heartbeat workflow's contract (issue 11): one long-running workflow per heartbeat.
const (
	// HeartbeatWorkflowType is the registered name of HeartbeatWorkflow.
	HeartbeatWorkflowType = "HeartbeatWorkflow"
	// SignalHeartbeatPing is a ping (HeartbeatPing).
	SignalHeartbeatPing = "heartbeat_ping"
	// SignalHeartbeatPause stops watching; SignalHeartbeatResume starts again.
	SignalHeartbeatPause  = "heartbeat_pause"
	SignalHeartbeatResume = "heartbeat_resume"
	// heartbeatRunLimit bounds the pings one run takes before continuing as new.
	heartbeatRunLimit = 500
)

// HeartbeatWorkflowID is the workflow ID of heartbeat name.
func HeartbeatWorkflowID(name string) string { return "heartbeat/" + name }

// HeartbeatPing is the ping signal's payload.
type HeartbeatPing struct {
	At time.Time `json:"at"`
}

// HeartbeatInput starts (or continues) a heartbeat's workflow.
type HeartbeatInput struct {
	Heartbeat oncall.Heartbeat `json:"heartbeat"`
	// Settings are what a missed-heartbeat incident runs with.
	Settings schemas.IncidentSettings `json:"settings"`
	// Since is when the current deadline started counting (creation or resume) when
	// there is no ping yet.
	Since time.Time `json:"since,omitempty"`
}

// HeartbeatWorkflow watches one heartbeat: a durable timer runs to the next deadline
// (last ping + every + grace); when it fires with no ping, a heartbeat_missed incident
// opens through the outbox; the next ping signals that incident recovered.
func HeartbeatWorkflow(ctx workflow.Context, in HeartbeatInput) error {
	h := in.Heartbeat
	if err := h.Validate(); err != nil {
		return err
	}
	ctx = workflow.WithActivityOptions(ctx, storeActivityOptions)
	logger := workflow.GetLogger(ctx)
	pingCh := workflow.GetSignalChannel(ctx, SignalHeartbeatPing)
	pauseCh := workflow.GetSignalChannel(ctx, SignalHeartbeatPause)
	resumeCh := workflow.GetSignalChannel(ctx, SignalHeartbeatResume)
	since := in.Since
	if since.IsZero() {
		since = workflow.Now(ctx).UTC()
	}
	record := func() {
		st := activities.HeartbeatStateInput{Name: h.Name, State: h.State, LastPingAt: h.LastPingAt, IncidentID: h.IncidentID}
		if h.State == oncall.HeartbeatUp || h.State == oncall.HeartbeatWaiting {
			d := since.Add(h.Every + h.Grace)
			if h.LastPingAt != nil {
				d = h.LastPingAt.Add(h.Every + h.Grace)
			}
			st.NextDeadline = &d
		}
		if err := workflow.ExecuteActivity(ctx, a.RecordHeartbeat, st).Get(ctx, nil); err != nil {
			logger.Error("recording heartbeat state failed", "Heartbeat", h.Name, "Error", err)
		}
	}
	record()
	for i := 0; ; i++ {
		if i >= heartbeatRunLimit || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return workflow.NewContinueAsNewError(ctx, HeartbeatWorkflow, HeartbeatInput{Heartbeat: h, Settings: in.Settings, Since: since})
		}
		timerCtx, cancel := workflow.WithCancel(ctx)
		sel := workflow.NewSelector(ctx)
		var deadline time.Time
		if h.State == oncall.HeartbeatUp || h.State == oncall.HeartbeatWaiting {
			deadline = since.Add(h.Every + h.Grace)
			if h.LastPingAt != nil {
				deadline = h.LastPingAt.Add(h.Every + h.Grace)
			}
			sel.AddFuture(workflow.NewTimer(timerCtx, max(deadline.Sub(workflow.Now(ctx)), 0)), func(workflow.Future) {
				h.State = oncall.HeartbeatMissed
				h.IncidentID = heartbeatIncidentID(ctx)
				err := workflow.ExecuteActivity(ctx, a.OpenHeartbeatIncident, activities.HeartbeatMissedInput{
					Heartbeat: h, IncidentID: h.IncidentID, Deadline: deadline, Settings: in.Settings,
				}).Get(ctx, nil)
				if err != nil {
					logger.Error("opening the missed-heartbeat incident failed", "Heartbeat", h.Name, "Error", err)
				}
			})
		}
		sel.AddReceive(pingCh, func(c workflow.ReceiveChannel, _ bool) {
			var p HeartbeatPing
			c.Receive(ctx, &p)
			at := p.At.UTC()
			if at.IsZero() {
				at = workflow.Now(ctx).UTC()
			}
			h.LastPingAt = &at
			if h.State == oncall.HeartbeatPaused {
				return
			}
			if h.State == oncall.HeartbeatMissed && h.IncidentID != "" {
				rec := schemas.Recovered{By: "heartbeat " + h.Name, At: at,
					Reason: fmt.Sprintf("heartbeat %s pinged again at %s", h.Name, at.Format(time.RFC3339))}
				// The incident may still be starting (outbox): a failure is logged, the state moves on.
				if err := workflow.SignalExternalWorkflow(ctx, schemas.IncidentWorkflowID(h.Fingerprint()), "", schemas.SignalRecovered, rec).Get(ctx, nil); err != nil {
					logger.Warn("recovered signal failed", "Heartbeat", h.Name, "Incident", h.IncidentID, "Error", err)
				}
			}
			h.State = oncall.HeartbeatUp
		})
		sel.AddReceive(pauseCh, func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			h.State = oncall.HeartbeatPaused
		})
		sel.AddReceive(resumeCh, func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			if h.State == oncall.HeartbeatPaused {
				h.State, h.LastPingAt, since = oncall.HeartbeatWaiting, nil, workflow.Now(ctx).UTC()
			}
		})
		sel.Select(ctx)
		cancel()
		record()
	}
}

// heartbeatIncidentID draws a new incident ID once (a side effect, so replay keeps it).
func heartbeatIncidentID(ctx workflow.Context) string {
	var id string
	_ = workflow.SideEffect(ctx, func(workflow.Context) any {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		return schemas.IncidentIDPrefix + hex.EncodeToString(b)
	}).Get(&id)
	return id
}
