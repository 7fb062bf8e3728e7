package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/mahavishnu/mahavishnu/manager"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// fakeTemporal accepts the manager's workflow starts and signals.
type fakeTemporal struct {
	client.Client
	mu      sync.Mutex
	started []string
	// recovered records the recovered signals: workflow ID and reason (issue 11).
	recovered []string
}

func (f *fakeTemporal) SignalWithStartWorkflow(_ context.Context, id, _ string, _ any, _ client.StartWorkflowOptions,
	_ any, _ ...any) (client.WorkflowRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, id)
	return fakeRun{id: id}, nil
}

func (f *fakeTemporal) SignalWorkflow(_ context.Context, id, _, name string, arg any) error {
	if r, ok := arg.(schemas.Recovered); ok && name == schemas.SignalRecovered {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.recovered = append(f.recovered, id+": "+r.Reason)
	}
	return nil
}

type fakeRun struct {
	client.WorkflowRun
	id string
}

func (r fakeRun) GetID() string { return r.id }

// starts detects what the manager stored and delivers its outbox, then lists the starts.
func (f *fakeTemporal) starts(t *testing.T, m *manager.Manager) []string {
	t.Helper()
	require.NoError(t, m.Settle(context.Background()))
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.started...)
}

func newTestServer(t *testing.T) (http.Handler, *fakeTemporal, *manager.Manager) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:///incidents.db", t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	tc := &fakeTemporal{}
	m, err := manager.New(manager.Options{Store: st, Client: tc, Logger: slog.New(slog.DiscardHandler), Detector: true})
	require.NoError(t, err)
	t.Cleanup(m.Close)
	require.NoError(t, m.Rebuild(ctx))
	return New(Options{Manager: m, Logger: slog.New(slog.DiscardHandler)}).Handler(), tc, m
}

// call sends a request from loopback (or from remote) and decodes the JSON answer.
func call(t *testing.T, h http.Handler, method, path, body string, remote ...string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = "127.0.0.1:40000"
	req.Host = "127.0.0.1:8080"
	req.Header.Set("Content-Type", "application/json")
	if len(remote) > 0 {
		req.RemoteAddr = remote[0]
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out), rec.Body.String())
	return rec.Code, out
}

func TestAlertmanagerEndpoint(t *testing.T) {
	h, tc, m := newTestServer(t)
	firing := `{"version":"4","status":"firing","alerts":[
		{"status":"firing","labels":{"alertname":"Breach","event_type":"security_breach","service":"gateway","severity":"critical"},"fingerprint":"f1"},
		{"status":"resolved","labels":{"alertname":"Down","job":"auth"},"fingerprint":"f2"}]}`
	code, body := call(t, h, http.MethodPost, "/api/v1/alertmanager", firing)
	require.Equal(t, http.StatusAccepted, code, body)
	require.EqualValues(t, 2, body["accepted"])
	require.Equal(t, []string{"incident/security_breach/gateway"}, tc.starts(t, m), "a rule opens an incident from one firing alert")

	code, body = call(t, h, http.MethodPost, "/api/v1/alertmanager", `{"version":"4","alerts":[{"status":"firing","labels":{"job":"x"}}]}`)
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, "alerts[0].labels", body["field"])
	require.Equal(t, "alerts[0].labels: needs an alertname or event_type label", body["error"])

	code, _ = call(t, h, http.MethodPost, "/api/v1/alertmanager", firing, "10.1.2.3:5000")
	require.Equal(t, http.StatusForbidden, code, "same authorization as /api/v1/events")
	code, _ = call(t, h, http.MethodPost, "/api/v1/alertmanager", `{"alerts":[`+strings.Repeat(" ", MaxBodyBytes)+`]}`)
	require.Equal(t, http.StatusRequestEntityTooLarge, code)
}

func TestRulesEndpoints(t *testing.T) {
	h, _, _ := newTestServer(t)
	code, body := call(t, h, http.MethodGet, "/api/v1/rules", "")
	require.Equal(t, http.StatusOK, code)
	require.Len(t, body["rules"], 15)
	_, body = call(t, h, http.MethodGet, "/api/v1/rules?enabled=false", "")
	require.Empty(t, body["rules"])

	tests := []struct {
		name, method, path, body string
		wantCode                 int
		wantErr                  string
	}{
		{"unknown rule", http.MethodGet, "/api/v1/rules/nope", "", http.StatusNotFound, "rule nope not found"},
		{"patch unknown", http.MethodPatch, "/api/v1/rules/nope", `{"threshold":3,"by":"a"}`, http.StatusNotFound, "rule nope not found"},
		{"patch without by", http.MethodPatch, "/api/v1/rules/error_burst", `{"threshold":3}`, http.StatusBadRequest, "by: who does this is required"},
		{"patch invalid", http.MethodPatch, "/api/v1/rules/error_burst", `{"threshold":0,"by":"a"}`, http.StatusBadRequest,
			`rules[0]: rule "error_burst": threshold: must be at least 1, got 0`},
		{"patch unknown field", http.MethodPatch, "/api/v1/rules/error_burst", `{"treshold":3,"by":"a"}`, http.StatusBadRequest,
			`invalid JSON body: unknown field "treshold"`},
		{"bad enabled filter", http.MethodGet, "/api/v1/rules?enabled=maybe", "", http.StatusBadRequest, `enabled: want true or false, got "maybe"`},
		{"create duplicate", http.MethodPost, "/api/v1/rules", `{"by":"a","rule":{"id":"deadlock","incident_type":"deadlock","severity":"high",
			"enabled":true,"threshold":1,"time_window_seconds":60,"event_types":["deadlock"]}}`, http.StatusBadRequest,
			`rules[15]: rule "deadlock": id: duplicate of rules[13]`},
		{"backtest unknown", http.MethodGet, "/api/v1/rules/nope/backtest", "", http.StatusNotFound, "rule nope not found"},
		{"backtest bad since", http.MethodGet, "/api/v1/rules/deadlock/backtest?since=soon", "", http.StatusBadRequest,
			`since: want a duration like 10m, 2h, 7d or an RFC 3339 time, got "soon"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := call(t, h, tt.method, tt.path, tt.body)
			require.Equal(t, tt.wantCode, code, body)
			require.Equal(t, tt.wantErr, body["error"])
		})
	}

	code, body = call(t, h, http.MethodPatch, "/api/v1/rules/error_burst", `{"threshold":15,"require_consecutive":true,"by":"alice"}`)
	require.Equal(t, http.StatusOK, code, body)
	require.EqualValues(t, 15, body["threshold"])
	require.Equal(t, true, body["require_consecutive"])
	require.Equal(t, "alice", body["updated_by"])
	code, body = call(t, h, http.MethodPost, "/api/v1/rules/deadlock/disable", `{"by":"alice"}`)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, false, body["enabled"])
	code, body = call(t, h, http.MethodGet, "/api/v1/rules/review?since=24h", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, body["rules"], 15)
	code, body = call(t, h, http.MethodGet, "/api/v1/rules/deadlock/backtest?threshold=2&since=1h", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, true, body["rule"].(map[string]any)["enabled"], "tested as enabled")
	require.EqualValues(t, 2, body["rule"].(map[string]any)["threshold"])
}

func TestSilencesEndpoints(t *testing.T) {
	h, tc, m := newTestServer(t)
	for body, want := range map[string]string{
		`{"matchers":["source=api"],"created_by":"a"}`:                                 "silence: duration: how long the silence lasts is required (e.g. 2h), or ends_at",
		`{"matchers":["source"],"duration":"1h","created_by":"a"}`:                     `silence: matchers[0]: "source": want key=value, e.g. source=api`,
		`{"matchers":["source=api"],"duration":"1h"}`:                                  "silence: created_by: is required",
		`{"matchers":[],"duration":"1h","created_by":"a"}`:                             "silence: matchers: at least one key=value matcher is required (a silence never mutes everything)",
		`{"matchers":["source=api"],"duration":"1h","ends_at":"2030-01-01T00:00:00Z"}`: "silence: duration: give duration or ends_at, not both",
	} {
		code, out := call(t, h, http.MethodPost, "/api/v1/silences", body)
		require.Equal(t, http.StatusBadRequest, code, body)
		require.Equal(t, want, out["error"], body)
	}
	code, sil := call(t, h, http.MethodPost, "/api/v1/silences", `{"matchers":["source=api","severity=high"],"duration":"2h","comment":"deploy","created_by":"alice"}`)
	require.Equal(t, http.StatusCreated, code, sil)
	require.Equal(t, "active", sil["state"])
	id := sil["id"].(string)

	code, _ = call(t, h, http.MethodPost, "/api/v1/events", `[`+strings.Repeat(`{"event_type":"error","source":"api","severity":"high"},`, 9)+
		`{"event_type":"error","source":"api","severity":"high"}]`)
	require.Equal(t, http.StatusAccepted, code)
	require.Empty(t, tc.starts(t, m), "silenced")

	_, list := call(t, h, http.MethodGet, "/api/v1/silences", "")
	require.Len(t, list["silences"], 1)
	require.EqualValues(t, 10, list["silences"].([]any)[0].(map[string]any)["events_silenced"])
	code, got := call(t, h, http.MethodGet, "/api/v1/silences/"+id, "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "deploy", got["comment"])

	code, exp := call(t, h, http.MethodPost, "/api/v1/silences/"+id+"/expire", `{"by":"bob"}`)
	require.Equal(t, http.StatusOK, code, exp)
	require.Equal(t, "expired", exp["state"])
	require.Equal(t, "bob", exp["expired_by"])
	code, _ = call(t, h, http.MethodPost, "/api/v1/silences/"+id+"/expire", `{"by":"bob"}`)
	require.Equal(t, http.StatusConflict, code)
	code, out := call(t, h, http.MethodPost, "/api/v1/silences/sil_nope/expire", `{"by":"bob"}`)
	require.Equal(t, http.StatusNotFound, code)
	require.Equal(t, "silence sil_nope not found", out["error"])
	_, list = call(t, h, http.MethodGet, "/api/v1/silences?all=true", "")
	require.Len(t, list["silences"], 1)
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]string{"90s": "1m30s", "2h": "2h0m0s", "1d": "24h0m0s", " 30m ": "30m0s"} {
		d, err := ParseDuration(in)
		require.NoError(t, err, in)
		require.Equal(t, want, d.String())
	}
	for _, in := range []string{"", "0s", "-1h", "0d", "xd", "soon"} {
		_, err := ParseDuration(in)
		require.Error(t, err, in)
	}
}
