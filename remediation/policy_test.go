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
	listSafe := defaults
	listSafe.RequireApprovalFor = []string{"clear_cache"}

	tests := []struct {
		name       string
		action     Action
		policy     Policy
		approvedBy string
		want       Decision
		reason     string
	}{
		{"safe runs unattended", get("clear_cache"), defaults, "", DecisionRun, "clear_cache is safe and auto_remediation is on"},
		{"safe with approver", get("scale_up"), noAuto, "alice", DecisionRun, "scale_up approved by alice"},
		{"auto off: safe waits for a human", get("scale_up"), noAuto, "", DecisionNeedsApproval,
			"auto_remediation is off: scale_up runs only when a named person asks for it"},
		{"unsafe unattended", get("restart_service"), defaults, "", DecisionNeedsApproval,
			"restart_service is not safe (risk medium) and safe_actions_only forbids running it unattended: it needs a named approver"},
		{"unsafe not listed, safe_actions_only off", get("rollback"), permissive, "", DecisionNeedsApproval,
			"rollback is not safe (risk high): it needs a named approver"},
		{"unsafe approved", get("rollback"), defaults, "  john.doe ", DecisionRun, "rollback approved by john.doe"},
		{"safe but listed", get("clear_cache"), listSafe, "", DecisionNeedsApproval,
			"clear_cache is listed in require_approval_for: it needs a named approver"},
		{"safe listed approved", get("clear_cache"), listSafe, "bob", DecisionRun, "clear_cache approved by bob"},
		{"blank approver is none", get("restart_service"), defaults, "   ", DecisionNeedsApproval,
			"restart_service is not safe (risk medium) and safe_actions_only forbids running it unattended: it needs a named approver"},
		{"reserved approver", get("restart_service"), defaults, "System", DecisionRefused,
			`approved_by: "System" is reserved for automation; name the person who approves`},
		{"control characters", get("restart_service"), defaults, "alice\nbob", DecisionRefused,
			"approved_by: must not contain control characters"},
		{"too long", get("restart_service"), defaults, strings.Repeat("a", MaxApproverLen+1), DecisionRefused,
			"approved_by: longer than 128 characters"},
		{"unregistered", reg.Recommended("x", []string{"reboot_planet"})[0], defaults, "alice", DecisionRefused,
			`"reboot_planet" is not a registered remediation action`},
		{"zero action", Action{}, defaults, "alice", DecisionRefused, `"" is not a registered remediation action`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := Decide(tt.action, tt.policy, tt.approvedBy)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.reason, reason)
		})
	}
}

func TestIdempotencyKey(t *testing.T) {
	require.Equal(t, "remediation/inc_01/scale_up/1", IdempotencyKey("inc_01", "scale_up", 1))
	require.NotEqual(t, IdempotencyKey("inc_01", "scale_up", 1), IdempotencyKey("inc_01", "scale_up", 2))
	require.NotEqual(t, IdempotencyKey("inc_01", "scale_up", 1), IdempotencyKey("inc_02", "scale_up", 1))
}
