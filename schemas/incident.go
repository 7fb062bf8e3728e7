package schemas

import "time"

// Incident is the read model of one incident, as the CLI, API and dashboard show it.
type Incident struct {
	IncidentID         string     `json:"incident_id"`
	IncidentType       string     `json:"incident_type"`
	Severity           Severity   `json:"severity"`
	Status             Status     `json:"status"`
	Title              string     `json:"title"`
	Description        string     `json:"description,omitempty"`
	RuleID             string     `json:"rule_id,omitempty"`
	Fingerprint        string     `json:"fingerprint"`
	Source             string     `json:"source,omitempty"`
	DetectedAt         time.Time  `json:"detected_at"`
	FirstEventAt       *time.Time `json:"first_event_at,omitempty"`
	LastEventAt        *time.Time `json:"last_event_at,omitempty"`
	AcknowledgedAt     *time.Time `json:"acknowledged_at"`
	AcknowledgedBy     string     `json:"acknowledged_by"`
	AssignedTo         string     `json:"assigned_to"`
	ResolvedAt         *time.Time `json:"resolved_at"`
	ResolvedBy         string     `json:"resolved_by,omitempty"`
	ResolutionNotes    string     `json:"resolution_notes,omitempty"`
	ClosedAt           *time.Time `json:"closed_at,omitempty"`
	ClosedBy           string     `json:"closed_by,omitempty"`
	EventCount         int        `json:"event_count"`
	AffectedComponents []string   `json:"affected_components"`
	MTTDSeconds        *float64   `json:"mttd_seconds"`
	MTTASeconds        *float64   `json:"mtta_seconds,omitempty"`
	MTTRSeconds        *float64   `json:"mttr_seconds"`
	MTTRBreached       bool       `json:"mttr_breached"`
	// EscalationLevel is how far up the escalation policy the incident went (0: on-call).
	EscalationLevel int       `json:"escalation_level"`
	EscalationName  string    `json:"escalation_name,omitempty"`
	WorkflowID      string    `json:"workflow_id"`
	RunID           string    `json:"run_id,omitempty"`
	UpdatedAt       time.Time `json:"updated_at"`
	// Version increases with every change the workflow makes; the store never replaces a
	// row with an older version, so activities finishing out of order cannot undo a change.
	Version int64 `json:"version"`
}

// TimelineEntry is one thing that happened to an incident.
type TimelineEntry struct {
	IncidentID string    `json:"incident_id"`
	At         time.Time `json:"at"`
	// Kind names the entry: "detected", "stage_started", "acknowledged", "mttr_breached"...
	Kind    string `json:"kind"`
	Actor   string `json:"actor,omitempty"`
	Message string `json:"message"`
	// Key makes writes idempotent: an activity retried with the same key adds nothing.
	Key string `json:"key,omitempty"`
}

// Timeline entry kinds.
const (
	TimelineDetected      = "detected"
	TimelineStageStarted  = "stage_started"
	TimelineStageFinished = "stage_finished"
	TimelineEventsAdded   = "events_attached"
	TimelineAcknowledged  = "acknowledged"
	TimelineAssigned      = "assigned"
	TimelineResolved      = "resolved"
	TimelineClosed        = "closed"
	TimelineMTTRBreached  = "mttr_breached"
	TimelineNotified      = "notification_sent"
	TimelineNotifyFailed  = "notification_failed"
	TimelineNotifySkipped = "notification_suppressed"
	TimelineEscalated     = "escalated"
	TimelineApprovalReq   = "approval_requested"
	TimelineApproved      = "approved"
	TimelineRejected      = "rejected"
	TimelineApprovalExp   = "approval_expired"
	TimelineAction        = "action"
	TimelineReminder      = "reminder"
	TimelineUpdated       = "updated"
	TimelineNote          = "note"
	TimelineSeverity      = "severity_raised"
)
