package remediation

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecide(t *testing.T) {
	reg, err := NewRegistry(nil)
	require.NoError(t, err)
	get := func(id string) Action {
		a, ok := reg.Get(id)
		require.True(t, ok, id)
		return a
	}
	defaults := Policy{AutoRemediation: true, SafeActionsOnly: true, RequireApprovalFor: []string{"restart_service", "rollback"}}
	noAuto := defaults
	noAuto.AutoRemediation = false
	permissive := Policy{AutoRemediation: true}
	permissiveListed := Policy{AutoRemediation: true, RequireApprovalFor: []string{"restart_service"}}
	safeOnlyUnlisted := Policy{AutoRemediation: true, SafeActionsOnly: true}
	listSafe := defaults
	listSafe.RequireApprovalFor = []string{"clear_cache"}

	ask := func(by string) Request { return Request{RequestedBy: by} }
	approved := func(by string) Request { return Request{RequestedBy: "dave", ApprovedBy: by} }
	unattended := Request{}
	tests := []struct {
		name   string
		action Action
		policy Policy
		req    Request
		want   Decision
		reason string
	}{
		{"safe runs unattended", get("clear_cache"), defaults, unattended, DecisionRun, "clear_cache is safe and auto_remediation is on"},
		{"safe with approver", get("scale_up"), noAuto, approved("alice"), DecisionRun, "scale_up approved by alice"},
		{"auto off: safe waits for a human", get("scale_up"), noAuto, unattended, DecisionNeedsApproval,
			"auto_remediation is off: scale_up runs only when a named person asks for it"},
		{"auto off: a named person may run a safe action", get("scale_up"), noAuto, ask("dave"), DecisionRun, "scale_up requested by dave"},
		{"listed unsafe unattended", get("restart_service"), defaults, unattended, DecisionNeedsApproval,
			"restart_service is listed in require_approval_for: it needs a named approver"},
		{"listed unsafe asked for", get("restart_service"), defaults, ask("dave"), DecisionNeedsApproval,
			"restart_service is listed in require_approval_for: it needs a named approver"},
		{"safe_actions_only: unlisted unsafe needs an approver", get("rollback"), safeOnlyUnlisted, unattended, DecisionNeedsApproval,
			"rollback is not safe (risk high) and safe_actions_only is on: it needs a named approver"},
		{"safe_actions_only: unlisted unsafe asked for", get("rollback"), safeOnlyUnlisted, ask("dave"), DecisionNeedsApproval,
			"rollback is not safe (risk high) and safe_actions_only is on: it needs a named approver"},
		{"safe_actions_only off: unlisted unsafe runs unattended", get("rollback"), permissive, unattended, DecisionRun,
			"rollback is not safe (risk high) but safe_actions_only is off and it is not listed in require_approval_for: it runs unattended"},
		{"safe_actions_only off: unlisted unsafe asked for", get("rollback"), permissive, ask("dave"), DecisionRun, "rollback requested by dave"},
		{"safe_actions_only off: listed still needs one", get("restart_service"), permissiveListed, ask("dave"), DecisionNeedsApproval,
			"restart_service is listed in require_approval_for: it needs a named approver"},
		{"unsafe approved", get("rollback"), defaults, approved("  john.doe "), DecisionRun, "rollback approved by john.doe"},
		{"safe but listed", get("clear_cache"), listSafe, unattended, DecisionNeedsApproval,
			"clear_cache is listed in require_approval_for: it needs a named approver"},
		{"safe listed approved", get("clear_cache"), listSafe, approved("bob"), DecisionRun, "clear_cache approved by bob"},
		{"blank approver is none", get("restart_service"), defaults, approved("   "), DecisionNeedsApproval,
			"restart_service is listed in require_approval_for: it needs a named approver"},
		{"reserved approver", get("restart_service"), defaults, approved("System"), DecisionRefused,
			`approved_by: "System" is reserved for automation; name the person who approves`},
		{"reserved approver auto", get("clear_cache"), defaults, approved("auto"), DecisionRefused,
			`approved_by: "auto" is reserved for automation; name the person who approves`},
		{"reserved approver mahavishnu", get("rollback"), permissive, approved("Mahavishnu"), DecisionRefused,
			`approved_by: "Mahavishnu" is reserved for automation; name the person who approves`},
		{"control characters", get("restart_service"), defaults, approved("alice\nbob"), DecisionRefused,
			"approved_by: must not contain control characters"},
		{"too long", get("restart_service"), defaults, approved(strings.Repeat("a", MaxApproverLen+1)), DecisionRefused,
			"approved_by: longer than 128 characters"},
		{"unregistered", reg.Recommended("x", []string{"reboot_planet"})[0], defaults, approved("alice"), DecisionRefused,
			`"reboot_planet" is not a registered remediation action`},
		{"zero action", Action{}, defaults, approved("alice"), DecisionRefused, `"" is not a registered remediation action`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := Decide(tt.action, tt.policy, tt.req)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.reason, reason)
		})
	}
	require.True(t, NeedsApprover(get("rollback"), safeOnlyUnlisted))
	require.False(t, NeedsApprover(get("rollback"), permissive))
	require.False(t, NeedsApprover(get("scale_up"), noAuto))
	require.ErrorContains(t, CheckApprover(" auto-remediation "), "reserved for automation")
	require.NoError(t, CheckApprover("alice"))
}

func TestIdempotencyKey(t *testing.T) {
	require.Equal(t, "remediation/inc_01/scale_up/1", IdempotencyKey("inc_01", "scale_up", 1))
	require.NotEqual(t, IdempotencyKey("inc_01", "scale_up", 1), IdempotencyKey("inc_01", "scale_up", 2))
	require.NotEqual(t, IdempotencyKey("inc_01", "scale_up", 1), IdempotencyKey("inc_02", "scale_up", 1))
}
