package remediation

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// Policy is the remediation part of the configuration.
type Policy struct {
	// AutoRemediation lets the workflow run actions unattended (Contain).
	AutoRemediation bool
	// SafeActionsOnly: true means no unsafe action runs without a named approver,
	// whether or not it is listed in RequireApprovalFor; false means only the listed ones
	// need one.
	SafeActionsOnly bool
	// RequireApprovalFor lists action IDs that always need a named approver, safe or not.
	RequireApprovalFor []string
}

// Decision is what Decide concluded.
type Decision string

const (
	// DecisionRun means the action may run now.
	DecisionRun Decision = "run"
	// DecisionNeedsApproval means the action runs only once a named human approves it.
	DecisionNeedsApproval Decision = "needs_approval"
	// DecisionRefused means the action cannot run as asked; an approval would not help
	// (an unregistered action, an unusable approver name).
	DecisionRefused Decision = "refused"
)

// MaxApproverLen bounds an approver's name.
const MaxApproverLen = 128

// reservedApprovers are names automation uses for itself; a human approval must name a
// human, so these are refused rather than taken as an approval.
var reservedApprovers = []string{"auto", "auto-remediation", "automation", "system", "mahavishnu", "workflow"}

// Request is who asks for one run of an action.
type Request struct {
	// RequestedBy is the named person asking for the run now (mitigate --by, the
	// dashboard's user); empty means the workflow's own unattended run (Contain).
	RequestedBy string
	// ApprovedBy is the named person who approved the run (mitigate --approved-by, an
	// approve); empty means nobody did.
	ApprovedBy string
}

// Decide is the one place that decides whether an action may run now; the workflow
// (Contain, approve, mitigate), the CLI and the dashboard all ask it. The rules, in order:
//
//   - an unregistered action, or an approver name that is reserved ("auto", "system",
//     "mahavishnu"...), too long or holds control characters, is refused;
//   - an action listed in RequireApprovalFor needs a named approver;
//   - with SafeActionsOnly, an unsafe action needs a named approver (listed or not);
//     without it, only the listed actions do;
//   - with a named approver, the action runs;
//   - a run a named person asks for (RequestedBy) runs;
//   - an unattended run runs only when AutoRemediation is on; otherwise the action waits
//     for a named person (the workflow asks for an approval).
//
// The reason is one line for the CLI and the timeline.
func Decide(action Action, p Policy, req Request) (Decision, string) {
	approvedBy := strings.TrimSpace(req.ApprovedBy)
	if action.Unregistered || action.ID == "" {
		return DecisionRefused, fmt.Sprintf("%q is not a registered remediation action", action.ID)
	}
	if approvedBy != "" {
		if reason := CheckApprover(approvedBy); reason != nil {
			return DecisionRefused, "approved_by: " + reason.Error()
		}
	}
	listed := slices.Contains(p.RequireApprovalFor, action.ID)
	switch {
	case approvedBy != "":
		return DecisionRun, fmt.Sprintf("%s approved by %s", action.ID, approvedBy)
	case listed:
		return DecisionNeedsApproval, fmt.Sprintf("%s is listed in require_approval_for: it needs a named approver", action.ID)
	case !action.Safe && p.SafeActionsOnly:
		return DecisionNeedsApproval, fmt.Sprintf("%s is not safe%s and safe_actions_only is on: it needs a named approver", action.ID, riskNote(action.Risk))
	case strings.TrimSpace(req.RequestedBy) != "":
		return DecisionRun, fmt.Sprintf("%s requested by %s", action.ID, strings.TrimSpace(req.RequestedBy))
	case !p.AutoRemediation:
		return DecisionNeedsApproval, fmt.Sprintf("auto_remediation is off: %s runs only when a named person asks for it", action.ID)
	case !action.Safe:
		return DecisionRun, fmt.Sprintf("%s is not safe%s but safe_actions_only is off and it is not listed in require_approval_for: it runs unattended", action.ID, riskNote(action.Risk))
	}
	return DecisionRun, fmt.Sprintf("%s is safe and auto_remediation is on", action.ID)
}

// NeedsApprover reports whether a named person asking for action must also name an
// approver (Decide's answer for a request without one).
func NeedsApprover(action Action, p Policy) bool {
	d, _ := Decide(action, p, Request{RequestedBy: "someone"})
	return d == DecisionNeedsApproval
}

func riskNote(r Risk) string {
	if r == "" {
		return ""
	}
	return fmt.Sprintf(" (risk %s)", r)
}

// CheckApprover says why name cannot approve an action (nil: it can). A name reserved for
// automation ("auto", "system", "mahavishnu"...) is refused: an approval names a person.
func CheckApprover(name string) error {
	if reason := badApprover(strings.TrimSpace(name)); reason != "" {
		return errors.New(reason)
	}
	return nil
}

func badApprover(name string) string {
	switch {
	case len(name) > MaxApproverLen:
		return fmt.Sprintf("longer than %d characters", MaxApproverLen)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "must not contain control characters"
	case slices.Contains(reservedApprovers, strings.ToLower(name)):
		return fmt.Sprintf("%q is reserved for automation; name the person who approves", name)
	}
	return ""
}

// IdempotencyKey identifies one attempt to run one action for one incident. The activity
// records it before running and skips an attempt whose key is already recorded, so a retry
// or a worker restart never runs the action twice; a new attempt (a human asking again)
// gets a new number.
func IdempotencyKey(incidentID, action string, attempt int) string {
	return fmt.Sprintf("remediation/%s/%s/%d", incidentID, action, attempt)
}
