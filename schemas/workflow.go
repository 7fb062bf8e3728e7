package schemas

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strings"
	"time"
)

// The incident workflow's contract: its type name, task queue, handler names and IDs.
// Other packages use these names, never string literals.
const (
	// IncidentWorkflowType is the registered name of the incident workflow.
	IncidentWorkflowType = "IncidentWorkflow"
	// DefaultTaskQueue is the task queue when temporal.task_queue is not set.
	DefaultTaskQueue = "incidents"

	// SignalAttachEvents adds events to an open incident (AttachEvents). Incidents opened
	// before the event log existed receive it; new ones receive SignalEventsAttached.
	SignalAttachEvents = "attach_events"
	// SignalEventsAttached tells an incident that the detector attached more events to it
	// in the store (EventsAttached): sent at most once per incident per
	// detection.attach_signal_interval, carrying counters, never event IDs.
	SignalEventsAttached = "events_attached"
	// SignalAcknowledge acknowledges the incident (Acknowledge); also an update.
	SignalAcknowledge = "acknowledge"
	// SignalAssign assigns the incident (Assign); also an update.
	SignalAssign = "assign"
	// SignalResolve resolves the incident (Resolve); also an update.
	SignalResolve = "resolve"
	// SignalApprove approves a pending action (ApprovalDecision); also an update.
	SignalApprove = "approve"
	// SignalReject rejects a pending action (ApprovalDecision); also an update.
	SignalReject = "reject"
	// SignalRecovered tells an incident that what it watches is back (Recovered): every
	// Alertmanager alert attached to it resolved, or its heartbeat pinged again (issue 11).
	SignalRecovered = "recovered"

	// UpdateAcknowledge acknowledges and answers once the read model has it.
	UpdateAcknowledge = "acknowledge"
	// UpdateAssign assigns and answers once the read model has it.
	UpdateAssign = "assign"
	// UpdateResolve resolves and answers once the read model has it.
	UpdateResolve = "resolve"
	// UpdateApprove approves a pending action; rejected when it is not pending.
	UpdateApprove = "approve"
	// UpdateReject rejects a pending action; rejected when it is not pending.
	UpdateReject = "reject"
	// UpdateMitigate runs a remediation action now and answers with its ActionRecord.
	UpdateMitigate = "mitigate"
	// UpdateFields changes status, severity or title, or adds a note (Update).
	UpdateFields = "update"

	// QueryState returns the workflow's IncidentState.
	QueryState = "state"
	// QueryPendingApprovals returns the pending []Approval.
	QueryPendingApprovals = "pending_approvals"
	// QueryTimeline returns the workflow's recent []TimelineEntry (the store has them all).
	QueryTimeline = "timeline"

	// Search attributes kept current on each incident workflow.
	SearchAttrSeverity = "IncidentSeverity"
	SearchAttrStatus   = "IncidentStatus"
	SearchAttrType     = "IncidentType"

	// IncidentIDPrefix starts every incident ID.
	IncidentIDPrefix = "inc_"

	// DefaultMTTRTarget is the time to resolve after which a breach is recorded.
	DefaultMTTRTarget = 60 * time.Minute
)

// Fingerprint identifies "the same problem": one rule and one grouping key.
func Fingerprint(ruleID, groupKey string) string { return ruleID + "/" + groupKey }

// IncidentWorkflowID is the workflow ID of the incident with this fingerprint. While that
// incident is open, every detection of the same fingerprint reaches the same workflow.
func IncidentWorkflowID(fingerprint string) string {
	id := "incident/" + fingerprint
	if len(id) > 200 || strings.ContainsAny(id, "\n\r\t") {
		sum := sha256.Sum256([]byte(fingerprint))
		return "incident/" + hex.EncodeToString(sum[:16])
	}
	return id
}

// IncidentInput starts an incident workflow. It carries a snapshot of the settings so
// that a config change does not change a running incident's procedure.
type IncidentInput struct {
	IncidentID   string    `json:"incident_id"`
	Fingerprint  string    `json:"fingerprint"`
	RuleID       string    `json:"rule_id"`
	IncidentType string    `json:"incident_type"`
	Severity     Severity  `json:"severity"`
	Title        string    `json:"title"`
	Description  string    `json:"description,omitempty"`
	Source       string    `json:"source"`
	DetectedAt   time.Time `json:"detected_at"`
	// Actions are the rule's recommended remediation actions.
	Actions []string `json:"actions,omitempty"`
	// Events are the events that crossed the threshold.
	Events   AttachEvents     `json:"events"`
	Settings IncidentSettings `json:"settings"`
	// Resume is set when a long incident continues as new.
	Resume *ResumeState `json:"resume,omitempty"`
}

// IncidentSettings is the part of the configuration an incident runs with.
type IncidentSettings struct {
	AutoRemediation bool          `json:"auto_remediation"`
	AutoResolution  bool          `json:"auto_resolution"`
	MTTRTarget      time.Duration `json:"mttr_target"`
	// StabilizationWindow is how long no matching event must arrive before an
	// auto-resolving incident resolves itself.
	StabilizationWindow time.Duration `json:"stabilization_window,omitempty"`
	// SafeActionsOnly: no unsafe action runs without a named approver (with false only
	// the ones in RequireApprovalFor need one). Decided by remediation.Decide.
	SafeActionsOnly bool `json:"safe_actions_only,omitempty"`
	// RequireApprovalFor lists the actions that always need a named approver.
	RequireApprovalFor []string `json:"require_approval_for,omitempty"`
	// ApprovalTimeout is how long an approval request stays pending before it expires.
	ApprovalTimeout time.Duration `json:"approval_timeout,omitempty"`
	// ActionCatalog says, for each remediation action the incident may use, whether it
	// is safe to run unattended.
	ActionCatalog []ActionSpec `json:"action_catalog,omitempty"`
	// AckTargets is the time to acknowledge per severity before escalating.
	AckTargets map[Severity]time.Duration `json:"ack_targets,omitempty"`
	// Escalation is the ordered escalation policy; level 0 is told when the incident opens.
	Escalation []EscalationLevel `json:"escalation,omitempty"`
	// ReminderInterval is how often the assignee is reminded while the incident waits to
	// be resolved (0: no reminders).
	ReminderInterval time.Duration `json:"reminder_interval,omitempty"`
	// EscalationRepeat is how many more times the levels are cycled through when nobody
	// acknowledges after the last one (issue 11).
	EscalationRepeat int `json:"escalation_repeat,omitempty"`
}

// EscalationPolicy is a named escalation policy (issue 11): an incident that uses it
// takes Levels as IncidentSettings.Escalation and Repeat as EscalationRepeat.
type EscalationPolicy struct {
	Levels []EscalationLevel `json:"levels"`
	Repeat int               `json:"repeat,omitempty"`
}

// ActionSpec is one remediation action as the workflow sees it.
type ActionSpec struct {
	ID string `json:"id"`
	// Safe is the action's safe flag, false when it is listed in require_approval_for
	// (so that incidents started before RequireApprovalFor was carried decide alike).
	Safe bool `json:"safe"`
	// Risk is low, medium or high (for the reasons Decide gives).
	Risk string `json:"risk,omitempty"`
}

// EscalationLevel is one step of the escalation policy.
type EscalationLevel struct {
	Name string `json:"name"`
	// Channels are the notification channels used at this level (slack, pagerduty, email, webhook).
	Channels []string `json:"channels,omitempty"`
	// Targets name who is paged at this level (shown in the notification).
	Targets []string `json:"targets,omitempty"`
	// Schedules and People (issue 11) are paged when the level fires: whoever the
	// schedules have on call at that moment, and the people named, on their own channels.
	Schedules []string `json:"schedules,omitempty"`
	People    []string `json:"people,omitempty"`
	// Delay is how long after the previous escalation this level is reached; the first
	// escalation happens at the acknowledgement target.
	Delay time.Duration `json:"delay,omitempty"`
}

// DefaultAckTargets are the acknowledgement targets per severity.
var DefaultAckTargets = map[Severity]time.Duration{
	SeverityCritical: 15 * time.Minute,
	SeverityHigh:     time.Hour,
	SeverityMedium:   4 * time.Hour,
	SeverityLow:      24 * time.Hour,
}

// Approval is a request to run an action that needs a named approver.
type Approval struct {
	Action      string    `json:"action"`
	RequestedAt time.Time `json:"requested_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	// Status is pending, approved, rejected or expired.
	Status string    `json:"status"`
	By     string    `json:"by,omitempty"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at,omitempty"`
}

// Approval statuses.
const (
	ApprovalPending  = "pending"
	ApprovalApproved = "approved"
	ApprovalRejected = "rejected"
	ApprovalExpired  = "expired"
)

// ApprovalDecision is the payload of the approve and reject updates.
type ApprovalDecision struct {
	Action string `json:"action"`
	By     string `json:"by"`
	Reason string `json:"reason,omitempty"`
}

// Mitigate asks the incident to run a remediation action now (the mitigate update).
type Mitigate struct {
	Action     string `json:"action"`
	Actor      string `json:"actor"`
	ApprovedBy string `json:"approved_by,omitempty"`
	DryRun     bool   `json:"dry_run,omitempty"`
}

// ActionRecord is one remediation action run (or refused) for the incident.
type ActionRecord struct {
	Action     string    `json:"action"`
	Attempt    int       `json:"attempt"`
	Status     string    `json:"status"`
	Output     string    `json:"output,omitempty"`
	ExitCode   int       `json:"exit_code,omitempty"`
	DurationMS int64     `json:"duration_ms"`
	Actor      string    `json:"actor"`
	ApprovedBy string    `json:"approved_by,omitempty"`
	Error      string    `json:"error,omitempty"`
	At         time.Time `json:"at"`
}

// Action run statuses.
const (
	ActionSucceeded     = "succeeded"
	ActionFailed        = "failed"
	ActionNotConfigured = "not_configured"
	ActionDryRun        = "dry_run"
	ActionInterrupted   = "interrupted"
)

// Update changes fields of a running incident (the update update).
type Update struct {
	By       string   `json:"by"`
	Status   Status   `json:"status,omitempty"`
	Severity Severity `json:"severity,omitempty"`
	Title    string   `json:"title,omitempty"`
	Note     string   `json:"note,omitempty"`
}

// ResumeState carries a long incident's state across continue-as-new.
type ResumeState struct {
	Incident        Incident       `json:"incident"`
	Approvals       []Approval     `json:"approvals,omitempty"`
	Actions         []ActionRecord `json:"actions,omitempty"`
	EscalationLevel int            `json:"escalation_level"`
	EventsSeen      int            `json:"events_seen"`
	// MaxEventSeverity is the highest event severity the incident heard of.
	MaxEventSeverity Severity `json:"max_event_severity,omitempty"`
	// EscalationCycle and Pages carry the escalation to people (issue 11).
	EscalationCycle int    `json:"escalation_cycle,omitempty"`
	Pages           []Page `json:"pages,omitempty"`
	// Recovered carries the recovery the incident heard of (issue 11).
	Recovered *Recovered `json:"recovered,omitempty"`
}

// AttachEvents tells the incident about matching events (the SignalAttachEvents payload).
type AttachEvents struct {
	EventIDs   []string  `json:"event_ids"`
	FirstAt    time.Time `json:"first_at"`
	LastAt     time.Time `json:"last_at"`
	Components []string  `json:"components,omitempty"`
	// Severity is the highest severity among the events; it may raise the incident's.
	Severity Severity `json:"severity,omitempty"`
}

// EventsAttached is the SignalEventsAttached payload: the incident's event counters as the
// store has them when the signal is sent. Every field is absolute, not a delta, so a signal
// sent twice, late or coalesced with others changes nothing twice.
type EventsAttached struct {
	IncidentID string `json:"incident_id"`
	// EventCount is the number of events attached to the incident so far.
	EventCount int       `json:"event_count"`
	FirstAt    time.Time `json:"first_at"`
	LastAt     time.Time `json:"last_at"`
	// Components are all the components of the attached events, sorted.
	Components []string `json:"components,omitempty"`
	// MaxEventSeverity is the highest severity among the attached events.
	MaxEventSeverity Severity `json:"max_event_severity,omitempty"`
}

// Acknowledge is the payload of the acknowledge signal/update.
type Acknowledge struct {
	By string `json:"by"`
}

// Assign is the payload of the assign signal/update.
type Assign struct {
	To string `json:"to"`
	By string `json:"by,omitempty"`
}

// Resolve is the payload of the resolve signal/update.
type Resolve struct {
	By    string `json:"by"`
	Notes string `json:"notes"`
}

// IncidentState is what the state query returns.
type IncidentState struct {
	IncidentID     string     `json:"incident_id"`
	Status         Status     `json:"status"`
	Severity       Severity   `json:"severity"`
	EventCount     int        `json:"event_count"`
	AcknowledgedBy string     `json:"acknowledged_by,omitempty"`
	AcknowledgedAt *time.Time `json:"acknowledged_at,omitempty"`
	AssignedTo     string     `json:"assigned_to,omitempty"`
	ResolvedAt     *time.Time `json:"resolved_at,omitempty"`
	MTTRBreached   bool       `json:"mttr_breached"`
	// EscalationLevel is the index into the escalation policy reached so far.
	EscalationLevel int            `json:"escalation_level"`
	EscalationName  string         `json:"escalation_name,omitempty"`
	Approvals       []Approval     `json:"approvals,omitempty"`
	Actions         []ActionRecord `json:"actions,omitempty"`
}

// WorkflowUIURL is the Temporal Web UI page of one workflow run's history.
func WorkflowUIURL(uiBase, namespace, workflowID, runID string) string {
	u := strings.TrimRight(uiBase, "/") + "/namespaces/" + url.PathEscape(namespace) +
		"/workflows/" + url.PathEscape(workflowID)
	if runID != "" {
		u += "/" + url.PathEscape(runID)
	}
	return u + "/history"
}

// Contact is how one person is reached when an escalation pages them (issue 11).
type Contact struct {
	Name      string `json:"name"`
	Email     string `json:"email,omitempty"`
	SlackUser string `json:"slack_user,omitempty"`
	// ChatHandle is the Teams or Mattermost handle.
	ChatHandle string `json:"chat_handle,omitempty"`
	Phone      string `json:"phone,omitempty"`
}

// Page records one person paged by an escalation level.
type Page struct {
	// Level is the index into the escalation policy; Cycle counts repeats (0: first pass).
	Level int    `json:"level"`
	Cycle int    `json:"cycle,omitempty"`
	Name  string `json:"level_name,omitempty"`
	// Via says why the person was paged: "schedule payments", or "directly".
	Via    string    `json:"via"`
	Person Contact   `json:"person"`
	At     time.Time `json:"at"`
}

// Recovered is the payload of SignalRecovered.
type Recovered struct {
	// By says who saw the recovery: "alertmanager" or "heartbeat NAME".
	By string `json:"by"`
	// Reason is the timeline text: which alerts resolved, or the ping.
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Timeline kinds of issue 11.
const (
	// TimelinePaged records one person paged by an escalation level.
	TimelinePaged = "paged"
	// TimelineRecovered records a recovery (SignalRecovered).
	TimelineRecovered = "recovered"
)
