package remediation

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// Policy is the remediation part of the configuration.
type Policy struct {
	// AutoRemediation lets safe actions run without a named human.
	AutoRemediation bool
	// SafeActionsOnly forbids running unsafe actions unattended.
	SafeActionsOnly bool
	// RequireApprovalFor lists action IDs that always need a named approver.
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
var reservedApprovers = []string{"auto", "auto-remediation", "system", "mahavishnu", "workflow"}

// Decide decides whether action may run now. approvedBy is the named human who approved
// (mitigate --approved-by); empty means nobody did: an unattended run by the workflow, or a
// mitigate without --approved-by. The rules, in order:
//
//   - an unregistered action, or an approver name that is reserved ("auto", "system"...),
//     too long or holds control characters, is refused;
//   - an action that is unsafe or listed in RequireApprovalFor needs a named approver
//     (SafeActionsOnly forbids running unsafe ones unattended; unsafe ones need an approver
//     in any case);
//   - with an approver, the action runs;
//   - a safe action runs unattended only when AutoRemediation is on; otherwise a named
//     human must ask for it.
//
// The reason is one line for the CLI and the timeline.
func Decide(action Action, p Policy, approvedBy string) (Decision, string) {
	approvedBy = strings.TrimSpace(approvedBy)
	if action.Unregistered || action.ID == "" {
		return DecisionRefused, fmt.Sprintf("%q is not a registered remediation action", action.ID)
	}
	if approvedBy != "" {
		if reason := badApprover(approvedBy); reason != "" {
			return DecisionRefused, "approved_by: " + reason
		}
	}
	listed := slices.Contains(p.RequireApprovalFor, action.ID)
	switch {
	case approvedBy != "":
		return DecisionRun, fmt.Sprintf("%s approved by %s", action.ID, approvedBy)
	case !action.Safe && p.SafeActionsOnly:
		return DecisionNeedsApproval, fmt.Sprintf("%s is not safe (risk %s) and safe_actions_only forbids running it unattended: it needs a named approver", action.ID, action.Risk)
	case !action.Safe:
		return DecisionNeedsApproval, fmt.Sprintf("%s is not safe (risk %s): it needs a named approver", action.ID, action.Risk)
	case listed:
		return DecisionNeedsApproval, fmt.Sprintf("%s is listed in require_approval_for: it needs a named approver", action.ID)
	case !p.AutoRemediation:
		return DecisionNeedsApproval, fmt.Sprintf("auto_remediation is off: %s runs only when a named person asks for it", action.ID)
	}
	return DecisionRun, fmt.Sprintf("%s is safe and auto_remediation is on", action.ID)
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
