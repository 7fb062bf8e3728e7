package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// QueryWorkflow answers the pending_approvals query: restart_service waits on incAPI's
// workflow, nothing on the others.
func (f *updateFake) QueryWorkflow(_ context.Context, workflowID, _ string, query string, _ ...any) (converter.EncodedValue, error) {
	if query != schemas.QueryPendingApprovals {
		return nil, errUnknownQuery
	}
	var out []schemas.Approval
	if workflowID == "incident/error_burst/api" {
		now := time.Now().UTC()
		out = append(out, schemas.Approval{Action: "restart_service", RequestedAt: now.Add(-time.Minute),
			ExpiresAt: now.Add(4 * time.Minute), Status: schemas.ApprovalPending})
	}
	return jsonValue{out}, nil
}

var errUnknownQuery = &json.UnsupportedValueError{Str: "unknown query"}

// jsonValue is a converter.EncodedValue over a Go value.
type jsonValue struct{ v any }

func (j jsonValue) HasValue() bool { return j.v != nil }
func (j jsonValue) Get(ptr any) error {
	b, err := json.Marshal(j.v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, ptr)
}

func TestDashboardShowsPendingApprovals(t *testing.T) {
	e := newDashEnv(t, "")
	page := e.get(t, "/incidents/"+incAPI, http.StatusOK)
	require.Contains(t, page, `id="approvals"`)
	require.Contains(t, page, `<button type="submit">Approve restart_service</button>`)
	require.Equal(t, 1, strings.Count(page, `class="form-reject"`))
	require.NotContains(t, e.get(t, "/incidents/"+incDB, http.StatusOK), `id="approvals"`, "nothing pending there")
	require.NotContains(t, e.get(t, "/incidents/"+incResolved, http.StatusOK), `id="approvals"`)
}

// TestDashboardApprovalsOnlyForApprovers: the pending approval's Approve and Reject forms
// show to a role that may approve; a responder sees neither, and posting them anyway is
// refused without reaching the workflow (TestDashboardActionsByRoleAndCredential runs
// every role). The decision records the session's identity, not a typed name.
func TestDashboardApprovalsOnlyForApprovers(t *testing.T) {
	e := newAccessEnv(t)
	resp, respCSRF := e.login(t, "responder")
	body := e.page(t, "GET", "/incidents/"+incAPI, nil, resp).Body.String()
	require.Contains(t, body, `id="form-acknowledge"`, "a responder may respond")
	require.NotContains(t, body, `id="approvals"`, "but is not offered the approval")
	require.NotContains(t, body, "form-approve")
	rec := e.page(t, "POST", "/incidents/"+incAPI+"/approve", url.Values{"csrf": {respCSRF}, "action": {"restart_service"}}, resp)
	require.Equal(t, http.StatusForbidden, rec.Code, rec.Body.String())
	require.Empty(t, e.tc.sent(), "a refused approval sends nothing")

	appr, apprCSRF := e.login(t, "approver")
	body = e.page(t, "GET", "/incidents/"+incAPI, nil, appr).Body.String()
	require.Contains(t, body, `id="approvals"`)
	require.Contains(t, body, `<button type="submit">Approve restart_service</button>`)
	require.Contains(t, body, `class="form-reject"`)
	require.NotContains(t, body, `name="by"`, "no name field: the actor is the session")
	rec = e.page(t, "POST", "/incidents/"+incAPI+"/approve",
		url.Values{"csrf": {apprCSRF}, "action": {"restart_service"}, "by": {"mallory"}}, appr)
	require.Equal(t, http.StatusForbidden, rec.Code, "a session cannot approve under another name")
	require.Empty(t, e.tc.sent())
	rec = e.page(t, "POST", "/incidents/"+incAPI+"/approve", url.Values{"csrf": {apprCSRF}, "action": {"restart_service"}}, appr)
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	sent := e.tc.sent()
	require.Len(t, sent, 1)
	require.Equal(t, schemas.UpdateApprove, sent[0].UpdateName)
	require.Equal(t, []any{schemas.ApprovalDecision{Action: "restart_service", By: "approver-user"}}, sent[0].Args)
}
