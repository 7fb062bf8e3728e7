package api

import (
	"context"
	"encoding/json"
	"net/http"
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
