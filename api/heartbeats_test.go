package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/mahavishnu/mahavishnu/manager"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
	"github.com/mahavishnu/mahavishnu/workflows"
)

// heartbeatTemporal records the heartbeat workflow's start, signals and termination.
type heartbeatTemporal struct {
	client.Client
	mu         sync.Mutex
	inputs     map[string]workflows.HeartbeatInput // workflow ID -> start input
	signals    []string                            // "workflow ID signal"
	terminated []string
}

func (f *heartbeatTemporal) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if wf != workflows.HeartbeatWorkflowType || len(args) != 1 {
		return nil, serviceerror.NewInvalidArgument("unexpected workflow start")
	}
	f.inputs[o.ID] = args[0].(workflows.HeartbeatInput)
	return fakeRun{id: o.ID}, nil
}

func (f *heartbeatTemporal) SignalWorkflow(_ context.Context, id, _, name string, _ any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.inputs[id]; !ok {
		return serviceerror.NewNotFound("workflow not found")
	}
	f.signals = append(f.signals, id+" "+name)
	return nil
}

func (f *heartbeatTemporal) TerminateWorkflow(_ context.Context, id, _, reason string, _ ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.inputs[id]; !ok {
		return serviceerror.NewNotFound("workflow not found")
	}
	delete(f.inputs, id)
	f.terminated = append(f.terminated, id+": "+reason)
	return nil
}

// rawCall is call for answers without a JSON body (204).
func rawCall(h http.Handler, method, path string) int {
	req := httptest.NewRequest(method, path, nil)
	req.RemoteAddr = "127.0.0.1:1"
	req.Host = "127.0.0.1:8080" // without a token, writes must address the loopback server
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// The heartbeat routes against the real handlers, manager and store (issue 11): a named
// escalation policy goes into the workflow's settings; pause, resume and ping signal the
// workflow; delete ends it and removes the heartbeat.
func TestHeartbeatsAPI(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:///incidents.db", t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	tc := &heartbeatTemporal{inputs: map[string]workflows.HeartbeatInput{}}
	defaults := schemas.IncidentSettings{EscalationRepeat: 0, Escalation: []schemas.EscalationLevel{{Name: "on-call", Channels: []string{"slack"}}}}
	backups := schemas.EscalationPolicy{Repeat: 2, Levels: []schemas.EscalationLevel{
		{Name: "backup-owner", Schedules: []string{"storage"}},
		{Name: "storage-lead", People: []string{"carol"}, Delay: 30 * time.Minute},
	}}
	m, err := manager.New(manager.Options{Store: st, Client: tc, Logger: slog.New(slog.DiscardHandler), Settings: defaults,
		EscalationPolicies: map[string]schemas.EscalationPolicy{"backups": backups}})
	require.NoError(t, err)
	t.Cleanup(m.Close)
	h := New(Options{Manager: m, Logger: slog.New(slog.DiscardHandler)}).Handler()

	code, body := call(t, h, http.MethodPost, "/api/v1/heartbeats", `{"name":"nightly","created_by":"alice","every":"1d","grace":"1h","escalation":"nope"}`)
	require.Equal(t, http.StatusBadRequest, code, body)
	require.Contains(t, body["error"], `escalation: unknown escalation policy "nope" (known: backups; see incident_response.escalation.policies)`)
	code, _ = call(t, h, http.MethodGet, "/api/v1/heartbeats/nightly", "")
	require.Equal(t, http.StatusNotFound, code, "a refused heartbeat is not stored")
	require.Empty(t, tc.inputs)

	code, body = call(t, h, http.MethodPost, "/api/v1/heartbeats", `{"name":"nightly","created_by":"alice","every":"1d","grace":"1h","escalation":"backups"}`)
	require.Equal(t, http.StatusCreated, code, body)
	require.Equal(t, "backups", body["escalation"])
	in := tc.inputs[workflows.HeartbeatWorkflowID("nightly")]
	require.Equal(t, backups.Levels, in.Settings.Escalation, "the policy's levels are the incident's settings")
	require.Equal(t, 2, in.Settings.EscalationRepeat)

	code, body = call(t, h, http.MethodPost, "/api/v1/heartbeats", `{"name":"plain","created_by":"alice","every":"1h"}`)
	require.Equal(t, http.StatusCreated, code, body)
	require.Equal(t, defaults.Escalation, tc.inputs[workflows.HeartbeatWorkflowID("plain")].Settings.Escalation)

	for _, op := range []string{"pause", "resume"} {
		code, body = call(t, h, http.MethodPost, "/api/v1/heartbeats/nightly/"+op, "")
		require.Equal(t, http.StatusOK, code, body)
		require.Equal(t, "nightly", body["name"])
	}
	code, body = call(t, h, http.MethodPost, "/api/v1/heartbeats/nightly/ping", "")
	require.Equal(t, http.StatusAccepted, code, body)
	require.Equal(t, []string{
		"heartbeat/nightly " + workflows.SignalHeartbeatPause,
		"heartbeat/nightly " + workflows.SignalHeartbeatResume,
		"heartbeat/nightly " + workflows.SignalHeartbeatPing,
	}, tc.signals)

	for _, op := range []string{"pause", "resume", "ping"} {
		code, _ = call(t, h, http.MethodPost, "/api/v1/heartbeats/missing/"+op, "")
		require.Equal(t, http.StatusNotFound, code, op)
	}
	code, _ = call(t, h, http.MethodPost, "/api/v1/heartbeats/nightly/pause", "", "10.1.2.3:5000")
	require.Equal(t, http.StatusForbidden, code, "pause is a write")

	require.Equal(t, http.StatusNoContent, rawCall(h, http.MethodDelete, "/api/v1/heartbeats/nightly?by=alice"))
	require.Equal(t, []string{"heartbeat/nightly: heartbeat deleted by alice"}, tc.terminated)
	code, _ = call(t, h, http.MethodGet, "/api/v1/heartbeats/nightly", "")
	require.Equal(t, http.StatusNotFound, code)
	code, body = call(t, h, http.MethodGet, "/api/v1/heartbeats", "")
	require.Equal(t, http.StatusOK, code)
	require.Len(t, body["heartbeats"], 1)
	require.Equal(t, http.StatusNotFound, rawCall(h, http.MethodDelete, "/api/v1/heartbeats/nightly?by=alice"))
	code, _ = call(t, h, http.MethodPost, "/api/v1/heartbeats/nightly/resume", "")
	require.Equal(t, http.StatusNotFound, code, "a deleted heartbeat takes no more signals")
}
