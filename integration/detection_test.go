package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/api"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// health reads the manager's /healthz.
func (e *env) health(t testing.TB) api.Health {
	t.Helper()
	resp, err := http.Get("http://" + e.apiAddr + "/healthz")
	require.NoError(t, err)
	defer resp.Body.Close()
	var h api.Health
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&h))
	return h
}

// detected waits until the detector has consumed everything stored before the call: a
// health snapshot taken after it shows no lag. Detection runs after the 202, so "nothing
// was opened" is only worth checking then.
func (e *env) detected(t testing.TB) api.Health {
	t.Helper()
	after := time.Now()
	var h api.Health
	eventually(t, 20*time.Second, "the detector to catch up", func() bool {
		h = e.health(t)
		return h.CheckedAt.After(after) && h.Detector.Lag == 0
	}, func() string { return fmt.Sprintf("detector %+v, checked at %s", h.Detector, h.CheckedAt) })
	return h
}

// post sends a JSON body to an API path and returns the status and decoded answer.
func (e *env) post(t *testing.T, path, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post("http://"+e.apiAddr+path, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

func eventBatch(n int, typ, source string) string {
	events := make([]string, n)
	for i := range events {
		events[i] = fmt.Sprintf(`{"event_type":%q,"source":%q,"message":"%s %d"}`, typ, source, typ, i)
	}
	return "[" + strings.Join(events, ",") + "]"
}

// waitIncident waits for the active incident of a rule and source.
func (e *env) waitIncident(t *testing.T, rule, source string) schemas.Incident {
	t.Helper()
	var found schemas.Incident
	eventually(t, 60*time.Second, "a "+rule+" incident for "+source, func() bool {
		for _, inc := range e.listIncidents(t, "--status", "active", "--limit", "1000") {
			if inc.RuleID == rule && inc.Source == source {
				found = inc
				return true
			}
		}
		return false
	})
	return found
}

// TestDetection drives detection end to end on the real embedded server: the 15
// scenarios, silences, the Alertmanager webhook, rule changes without a restart and the
// backtest.
func TestDetection(t *testing.T) {
	e := newEnv(t, "")
	e.startManager(t)
	defaults := map[string]schemas.Rule{}
	for _, r := range schemas.DefaultRules() {
		defaults[r.ID] = r
	}

	// Every scenario opens exactly its rule's incident, at its severity.
	var sim struct {
		OK        bool `json:"ok"`
		Scenarios []struct {
			Scenario     string             `json:"scenario"`
			ExpectedRule string             `json:"expected_rule"`
			FiredRules   []string           `json:"fired_rules"`
			Incidents    []schemas.Incident `json:"incidents"`
			OK           bool               `json:"ok"`
		} `json:"scenarios"`
	}
	require.NoError(t, json.Unmarshal([]byte(e.mustRun(t, "incidents", "simulate", "--type", "all", "--wait", "120s", "-o", "json")), &sim))
	require.True(t, sim.OK)
	require.Len(t, sim.Scenarios, 15)
	for _, sc := range sim.Scenarios {
		want := defaults[sc.Scenario]
		require.Equal(t, []string{want.ID}, sc.FiredRules, sc.Scenario)
		require.Len(t, sc.Incidents, 1, sc.Scenario)
		require.Equal(t, want.IncidentType, sc.Incidents[0].IncidentType, sc.Scenario)
		require.Equal(t, want.Severity, sc.Incidents[0].Severity, sc.Scenario)
	}
	active := e.listIncidents(t, "--status", "active", "--limit", "1000")
	require.Len(t, active, 15, "one incident per scenario, none from a rule that should not fire")
	types := map[string]bool{}
	for _, inc := range active {
		types[inc.IncidentType] = true
	}
	require.Len(t, types, 15)
	out := e.mustRun(t, "incidents", "simulate", "--type", "deadlock", "--source", "inventory-db")
	require.Regexp(t, `Posted 1 deadlock events from inventory-db \(rule deadlock: 1 within 60s\)\.\nIncident inc_[0-9a-f]{16}: high deadlock`, out)

	// A silence: matching events are stored and counted, and open nothing.
	out = e.mustRun(t, "incidents", "silences", "create", "--match", "source=maint-host", "--duration", "1h",
		"--comment", "kernel upgrade", "--created-by", "alice")
	silID := regexp.MustCompile(`Silence (sil_[0-9a-f]{16}) created \(active\): source=maint-host`).FindStringSubmatch(out)
	require.NotNil(t, silID, out)
	opened := e.health(t).Manager.IncidentsOpened
	code, body := e.postEvents(t, eventBatch(12, "error", "maint-host"))
	require.Equal(t, http.StatusAccepted, code, "%v", body)
	h := e.detected(t)
	require.Equal(t, opened, h.Manager.IncidentsOpened, "silenced: nothing was opened")
	require.EqualValues(t, 12, h.Manager.EventsSilenced)
	require.Equal(t, 1, h.Manager.ActiveSilences)
	var events []schemas.Event
	require.NoError(t, json.Unmarshal([]byte(e.mustRun(t, "incidents", "events", "list", "--source", "maint-host", "--last", "100", "-o", "json")), &events))
	require.Len(t, events, 12)
	for _, ev := range events {
		require.Equal(t, silID[1], ev.SilencedBy)
		require.Empty(t, ev.IncidentID)
	}
	require.Regexp(t, `(?m)^Silences active:\s+1$`, e.mustRun(t, "incidents", "status"))
	require.Regexp(t, silID[1]+`\s+active\s+source=maint-host\s+.*\s12\s+alice\s+kernel upgrade`, e.mustRun(t, "incidents", "silences", "list"))
	require.Contains(t, e.mustRun(t, "incidents", "silences", "expire", silID[1], "--by", "bob"), "expired by bob (12 events silenced)")
	code, _ = e.postEvents(t, eventBatch(10, "error", "maint-host"))
	require.Equal(t, http.StatusAccepted, code)
	e.waitIncident(t, "error_burst", "maint-host")

	// The Alertmanager webhook: a firing alert opens an incident; a re-sent notification is
	// stored once; a resolved alert is a recovery event; a bad payload names the field.
	alert := func(status string) string {
		return `{"version":"4","status":"` + status + `","receiver":"mahavishnu","groupKey":"{}:{alertname=\"CertExpiry\"}",
			"alerts":[{"status":"` + status + `","labels":{"alertname":"CertExpiry","event_type":"ssl_error","service":"billing","severity":"critical"},
			"annotations":{"summary":"Certificate for billing.example.com expires in 2h"},"startsAt":"2026-01-02T15:00:00Z",
			"fingerprint":"b1c2d3e4f5a60718","futureField":true}],"truncatedAlerts":0}`
	}
	for range 2 {
		code, body = e.post(t, "/api/v1/alertmanager", alert("firing"))
		require.Equal(t, http.StatusAccepted, code, "%v", body)
	}
	inc := e.waitIncident(t, "ssl_expiry", "billing")
	require.Equal(t, schemas.SeverityCritical, inc.Severity)
	code, _ = e.post(t, "/api/v1/alertmanager", alert("resolved"))
	require.Equal(t, http.StatusAccepted, code)
	require.NoError(t, json.Unmarshal([]byte(e.mustRun(t, "incidents", "events", "list", "--source", "billing", "-o", "json")), &events))
	require.Len(t, events, 2, "the re-sent firing alert is stored once, plus the resolved one")
	require.Equal(t, "resolved", events[0].EventType)
	require.Equal(t, "ssl_error", events[1].EventType)
	require.Equal(t, "b1c2d3e4f5a60718", events[1].Metadata["fingerprint"])
	require.Equal(t, "CertExpiry", events[1].Metadata["labels"].(map[string]any)["alertname"])
	code, body = e.post(t, "/api/v1/alertmanager", `{"version":"4","alerts":[{"status":"firing","labels":{"job":"x"}}]}`)
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, "alerts[0].labels", body["field"])

	// Rules change without a restart: a lowered threshold fires at once for the events
	// already in the window; a disabled rule opens nothing; a created rule works at once.
	code, _ = e.postEvents(t, eventBatch(3, "error", "tune-svc"))
	require.Equal(t, http.StatusAccepted, code)
	opened = e.health(t).Manager.IncidentsOpened
	require.Contains(t, e.mustRun(t, "incidents", "rules", "update", "error_burst", "--threshold", "3", "--by", "alice"),
		"Rule error_burst updated: threshold 10 -> 3.")
	e.waitIncident(t, "error_burst", "tune-svc")
	require.Equal(t, opened+1, e.health(t).Manager.IncidentsOpened, "the lowered threshold fired once")
	var rec struct {
		schemas.Rule
		UpdatedBy string `json:"updated_by"`
	}
	require.NoError(t, json.Unmarshal([]byte(e.mustRun(t, "incidents", "rules", "show", "error_burst", "-o", "json")), &rec))
	require.Equal(t, 3, rec.Threshold)
	require.Equal(t, "alice", rec.UpdatedBy)
	e.mustRun(t, "incidents", "rules", "update", "error_burst", "--threshold", "10", "--by", "alice")

	require.Contains(t, e.mustRun(t, "incidents", "rules", "disable", "deadlock"), "Rule deadlock disabled.")
	opened = e.health(t).Manager.IncidentsOpened
	code, _ = e.postEvents(t, eventBatch(1, "deadlock", "ledger-db"))
	require.Equal(t, http.StatusAccepted, code)
	require.Equal(t, opened, e.detected(t).Manager.IncidentsOpened, "a disabled rule opens nothing")
	require.NotContains(t, e.mustRun(t, "incidents", "rules", "list", "--enabled"), "deadlock")
	e.mustRun(t, "incidents", "rules", "enable", "deadlock")

	require.Contains(t, e.mustRun(t, "incidents", "rules", "create", "--id", "custom_rule", "--name", "Custom Rule",
		"--type", "performance_degradation", "--severity", "high", "--threshold", "2", "--match", "checkout_slow"),
		"Rule custom_rule created: HIGH performance_degradation when 2 events (checkout_slow) arrive within 300s from one source.")
	code, _ = e.postEvents(t, eventBatch(2, "checkout_slow", "shop"))
	require.Equal(t, http.StatusAccepted, code)
	inc = e.waitIncident(t, "custom_rule", "shop")
	require.Equal(t, "performance_degradation", inc.IncidentType)
	require.Equal(t, schemas.SeverityHigh, inc.Severity)

	// Every filter of `events list` works.
	require.NoError(t, json.Unmarshal([]byte(e.mustRun(t, "incidents", "events", "list", "--type", "deadlock", "--since", "10m", "-o", "json")), &events))
	require.Len(t, events, 3, "the scenario's, inventory-db's and ledger-db's deadlocks")
	for _, ev := range events {
		require.Equal(t, "deadlock", ev.EventType)
	}
	require.NoError(t, json.Unmarshal([]byte(e.mustRun(t, "incidents", "events", "list", "--type", "deadlock", "--source", "ledger-db", "-o", "json")), &events))
	require.Len(t, events, 1)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	require.Contains(t, e.mustRun(t, "incidents", "events", "list", "--since", future), "No events.")
	require.NoError(t, json.Unmarshal([]byte(e.mustRun(t, "incidents", "events", "list", "--last", "7", "-o", "json")), &events))
	require.Len(t, events, 7)

	// The backtest reports what a rule would have opened, and opens nothing.
	opened = e.health(t).Manager.IncidentsOpened
	var bt struct {
		EventsSilenced int `json:"events_silenced"`
		Incidents      []struct {
			GroupKey string `json:"group_key"`
		} `json:"incidents"`
		ActualIncidents int `json:"actual_incidents"`
	}
	require.NoError(t, json.Unmarshal([]byte(e.mustRun(t, "incidents", "test-rule", "error_burst", "--since", "1h", "-o", "json")), &bt))
	var groups []string
	for _, i := range bt.Incidents {
		groups = append(groups, i.GroupKey)
	}
	require.ElementsMatch(t, []string{"api", "maint-host"}, groups, "tune-svc had 3 errors: below 10")
	require.Equal(t, 12, bt.EventsSilenced)
	require.Equal(t, 3, bt.ActualIncidents)
	require.NoError(t, json.Unmarshal([]byte(e.mustRun(t, "incidents", "test-rule", "error_burst", "--threshold", "3", "--since", "1h", "-o", "json")), &bt))
	require.Len(t, bt.Incidents, 3)
	require.Equal(t, opened, e.health(t).Manager.IncidentsOpened)

	// The review counts each rule's incidents.
	var rev api.ReviewResponse
	require.NoError(t, json.Unmarshal([]byte(e.mustRun(t, "incidents", "rules", "review", "-o", "json")), &rev))
	fires := map[string]int{}
	for _, rv := range rev.Rules {
		fires[rv.RuleID] = rv.Fires
	}
	require.Equal(t, 3, fires["error_burst"])
	require.Equal(t, 2, fires["deadlock"])
	require.Equal(t, 1, fires["custom_rule"])
}
