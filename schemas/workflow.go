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

	// SignalAttachEvents adds events to an open incident (AttachEvents).
	SignalAttachEvents = "attach_events"
	// SignalAcknowledge acknowledges the incident (Acknowledge); also an update.
	SignalAcknowledge = "acknowledge"
	// SignalAssign assigns the incident (Assign); also an update.
	SignalAssign = "assign"
	// SignalResolve resolves the incident (Resolve); also an update.
	SignalResolve = "resolve"

	// UpdateAcknowledge acknowledges and answers once the read model has it.
	UpdateAcknowledge = "acknowledge"
	// UpdateAssign assigns and answers once the read model has it.
	UpdateAssign = "assign"
	// UpdateResolve resolves and answers once the read model has it.
	UpdateResolve = "resolve"

	// QueryState returns the workflow's IncidentState.
	QueryState = "state"

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
}

// IncidentSettings is the part of the configuration an incident runs with.
type IncidentSettings struct {
	AutoRemediation bool          `json:"auto_remediation"`
	AutoResolution  bool          `json:"auto_resolution"`
	MTTRTarget      time.Duration `json:"mttr_target"`
	// StabilizationWindow is how long no matching event must arrive before an
	// auto-resolving incident resolves itself.
	StabilizationWindow time.Duration `json:"stabilization_window,omitempty"`
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
