package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/manager"
	"github.com/mahavishnu/mahavishnu/store"
)

func newServerWithToken(t *testing.T, token string) (http.Handler, *store.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:///incidents.db", t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	m, err := manager.New(manager.Options{Store: st, Client: &fakeTemporal{}, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	return New(Options{Manager: m, Token: token, Logger: slog.New(slog.DiscardHandler)}).Handler(), st
}

func storedEvents(t *testing.T, st *store.Store) int {
	n, err := st.CountEvents(context.Background(), store.EventFilter{})
	require.NoError(t, err)
	return n
}

func TestIngestForms(t *testing.T) {
	h, st := newServerWithToken(t, "")
	ev := `{"event_type":"error","source":"api","severity":"HIGH"}`
	for name, tc := range map[string]struct {
		body string
		n    int
	}{
		"one object":    {ev, 1},
		"array":         {"[" + ev + "," + ev + "]", 2},
		"events object": {`{"events":[` + ev + "," + ev + "," + ev + "]}", 3},
	} {
		t.Run(name, func(t *testing.T) {
			before := storedEvents(t, st)
			code, body := call(t, h, http.MethodPost, "/api/v1/events", tc.body)
			require.Equal(t, http.StatusAccepted, code, body)
			require.EqualValues(t, tc.n, body["accepted"])
			require.Len(t, body["event_ids"], tc.n)
			require.Equal(t, before+tc.n, storedEvents(t, st), "202 only after the events are stored")
		})
	}
}

func TestIngestRejectsBadInputNamingTheField(t *testing.T) {
	h, st := newServerWithToken(t, "")
	for name, tc := range map[string]struct {
		body, field string
		index       any
	}{
		"missing event_type": {`{"source":"api"}`, "event_type", nil},
		"missing source":     {`{"event_type":"error"}`, "source", nil},
		"bad severity":       {`{"event_type":"error","source":"api","severity":"urgent"}`, "severity", nil},
		"unknown field":      {`{"event_type":"error","source":"api","sevrity":"high"}`, "sevrity", nil},
		"bad timestamp":      {`{"event_type":"error","source":"api","timestamp":"yesterday"}`, "timestamp", nil},
		"second of a batch":  {`[{"event_type":"error","source":"api"},{"event_type":"error"}]`, "source", float64(1)},
		"not json":           {`{"event_type":`, "(body)", nil},
	} {
		t.Run(name, func(t *testing.T) {
			code, body := call(t, h, http.MethodPost, "/api/v1/events", tc.body)
			require.Equal(t, http.StatusBadRequest, code, body)
			require.Equal(t, tc.field, body["field"], body)
			require.Equal(t, tc.index, body["index"])
		})
	}
	require.Zero(t, storedEvents(t, st), "a bad batch stores nothing")
}

func TestIngestLimits(t *testing.T) {
	h, st := newServerWithToken(t, "")
	big := fmt.Sprintf(`{"event_type":"error","source":"api","message":%q}`, strings.Repeat("x", MaxBodyBytes))
	code, body := call(t, h, http.MethodPost, "/api/v1/events", big)
	require.Equal(t, http.StatusRequestEntityTooLarge, code, body)

	items := make([]string, MaxBatch+1)
	for i := range items {
		items[i] = `{"event_type":"e","source":"s"}`
	}
	code, body = call(t, h, http.MethodPost, "/api/v1/events", "["+strings.Join(items, ",")+"]")
	require.Equal(t, http.StatusRequestEntityTooLarge, code, body)
	require.Contains(t, body["error"], "at most 5000")
	require.Zero(t, storedEvents(t, st))
}

func TestWritesNeedLoopbackOrToken(t *testing.T) {
	ev := `{"event_type":"error","source":"api"}`
	open, _ := newServerWithToken(t, "")
	code, _ := call(t, open, http.MethodPost, "/api/v1/events", ev, "10.1.2.3:5000")
	require.Equal(t, http.StatusForbidden, code, "without api.token only loopback clients may write")
	code, _ = call(t, open, http.MethodGet, "/api/v1/incidents", "", "10.1.2.3:5000")
	require.Equal(t, http.StatusOK, code, "reads are open")

	guarded, _ := newServerWithToken(t, "s3cret-token")
	send := func(auth string) int {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/events", strings.NewReader(ev))
		req.RemoteAddr = "127.0.0.1:1"
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		guarded.ServeHTTP(rec, req)
		require.NotContains(t, rec.Body.String(), "s3cret-token")
		return rec.Code
	}
	require.Equal(t, http.StatusUnauthorized, send(""), "a token, once set, is needed even from loopback")
	require.Equal(t, http.StatusUnauthorized, send("Bearer wrong"))
	require.Equal(t, http.StatusAccepted, send("Bearer s3cret-token"))
}

func TestIncidentNotFound(t *testing.T) {
	h, _ := newServerWithToken(t, "")
	code, body := call(t, h, http.MethodGet, "/api/v1/incidents/inc_missing", "")
	require.Equal(t, http.StatusNotFound, code)
	require.Equal(t, "incident not found", body["error"])
	code, _ = call(t, h, http.MethodGet, "/api/v1/incidents?severity=urgent", "")
	require.Equal(t, http.StatusBadRequest, code)
}

func TestMetrics(t *testing.T) {
	h, _ := newServerWithToken(t, "")
	code, _ := call(t, h, http.MethodPost, "/api/v1/events", `[{"event_type":"error","source":"api"},{"event_type":"error","source":"api"}]`)
	require.Equal(t, http.StatusAccepted, code)
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code)
	body := rec.Body.String()
	require.Contains(t, body, "mahavishnu_events_accepted_total 2")
	require.Contains(t, body, `mahavishnu_active_incidents{severity="critical",status="detected"} 0`)
	require.Contains(t, body, "mahavishnu_detection_errors_total 0")
}
