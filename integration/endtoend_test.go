package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/mahavishnu/mahavishnu/notify/notifytest"
	"github.com/mahavishnu/mahavishnu/schemas"
)

type incidentJSON struct {
	schemas.Incident
	TemporalURL string                  `json:"temporal_url"`
	Timeline    []schemas.TimelineEntry `json:"timeline"`
}

func (e *env) listIncidents(t *testing.T, args ...string) []schemas.Incident {
	t.Helper()
	var incs []schemas.Incident
	require.NoError(t, json.Unmarshal([]byte(e.mustRun(t, append([]string{"incidents", "list", "-o", "json"}, args...)...)), &incs))
	return incs
}

func (e *env) getIncident(t *testing.T, id string) incidentJSON {
	t.Helper()
	var inc incidentJSON
	require.NoError(t, json.Unmarshal([]byte(e.mustRun(t, "incidents", "get", id, "--timeline", "-o", "json")), &inc))
	return inc
}

// remediationConfig configures the actions as harmless real commands.
const remediationConfig = `  remediation:
    actions:
      clear_cache:
        command:
          argv: ["/bin/echo", "cache cleared for {{.Source}}"]
      scale_up:
        command:
          argv: ["/bin/echo", "scaled up {{.Component}}"]
      restart_service:
        command:
          argv: ["/bin/echo", "restarted {{.Component}}"]
`

func errorEvent(source string, i int) string {
	return fmt.Sprintf(`{"event_type":"error","source":%q,"severity":"HIGH","message":"Test error %d"}`, source, i)
}

// TestEndToEnd drives event -> incident -> acknowledge -> assign -> resolve -> close on the
// real embedded Temporal server, through the HTTP API and the CLI.
func TestEndToEnd(t *testing.T) {
	slackRx := notifytest.NewSlack(t)
	hookRx := notifytest.NewWebhook(t, "hook-secret", time.Now)
	e := newEnv(t, remediationConfig+fmt.Sprintf(`  notifications:
    slack:
      webhook_url: %q
    webhook:
      enabled: true
      url: %q
      secret: hook-secret
`, slackRx.URL()+"/services/T0/B0/x", hookRx.URL()+"/hook"))
	stop := e.startManager(t)

	// Bad input is refused with the field named, and nothing is stored.
	code, body := e.postEvents(t, `{"source":"api"}`)
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, "event_type", body["field"])
	code, body = e.postEvents(t, `[`+errorEvent("api", 0)+`,{"event_type":"error","source":"api","severity":"urgent"}]`)
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, "severity", body["field"])
	require.EqualValues(t, 1, body["index"])
	require.Contains(t, e.mustRun(t, "incidents", "events", "list"), "No events.")

	// Ten errors from one source, one request each as curl would send them, open exactly
	// one HIGH error_burst incident.
	for i := 1; i <= 10; i++ {
		code, body := e.postEvents(t, errorEvent("api", i))
		require.Equal(t, http.StatusAccepted, code, "%v", body)
	}
	// Contain runs the safe actions and asks for approval of restart_service; Remediate
	// waits for that decision.
	var inc schemas.Incident
	eventually(t, 30*time.Second, "the incident to reach remediating", func() bool {
		incs := e.listIncidents(t)
		if len(incs) == 1 && incs[0].Status == schemas.StatusRemediating {
			inc = incs[0]
			return true
		}
		return false
	})
	actions := e.mustRun(t, "incidents", "mitigate", inc.IncidentID, "--list-actions")
	require.Regexp(t, `clear_cache\s+safe\s+true\s+succeeded`, actions)
	require.Regexp(t, `scale_up\s+safe\s+true\s+succeeded`, actions)
	require.Regexp(t, `restart_service\s+needs approval\s+true\s+not run`, actions)
	var pending struct {
		PendingApprovals []schemas.Approval `json:"pending_approvals"`
	}
	require.NoError(t, json.Unmarshal([]byte(e.mustRun(t, "incidents", "get", inc.IncidentID, "-o", "json")), &pending))
	require.Len(t, pending.PendingApprovals, 1, "get asks the running workflow")
	require.Equal(t, "restart_service", pending.PendingApprovals[0].Action)
	require.Contains(t, e.mustRun(t, "incidents", "get", inc.IncidentID), "Pending approvals:")
	_, err := e.run(context.Background(), "incidents", "mitigate", inc.IncidentID, "--action", "restart_service")
	require.ErrorContains(t, err, "restart_service needs approval: run it again with --approved-by NAME")
	out := e.mustRun(t, "incidents", "mitigate", inc.IncidentID, "--action", "restart_service", "--approved-by", "bob", "--by", "alice")
	require.Contains(t, out, "restart_service succeeded")
	require.Contains(t, out, "restarted api", "the command ran with the incident's component as one argument")
	eventually(t, 30*time.Second, "the incident to reach recovering", func() bool {
		return e.getIncident(t, inc.IncidentID).Status == schemas.StatusRecovering
	})
	history := e.mustRun(t, "incidents", "history", "--remediation", "--incident", inc.IncidentID)
	require.Regexp(t, `restart_service\s+succeeded\s+alice\s+bob`, history)
	require.Equal(t, "error_burst", inc.IncidentType)
	require.Equal(t, schemas.SeverityHigh, inc.Severity)
	require.Equal(t, 10, inc.EventCount)
	require.Equal(t, []string{"api"}, inc.AffectedComponents)
	require.Equal(t, schemas.IncidentWorkflowID(schemas.Fingerprint("error_burst", "api")), inc.WorkflowID)
	require.NotNil(t, inc.MTTDSeconds)
	require.True(t, strings.HasPrefix(inc.IncidentID, "inc_"))

	// Two more errors attach to the open incident instead of opening another.
	for i := 11; i <= 12; i++ {
		code, _ := e.postEvents(t, errorEvent("api", i))
		require.Equal(t, http.StatusAccepted, code)
	}
	eventually(t, 20*time.Second, "the events to attach", func() bool {
		return e.getIncident(t, inc.IncidentID).EventCount == 12
	})
	// The workflow hears of them by coalesced events_attached signals (at most one per
	// second per incident; the two may come as one or two) and notes them on the timeline.
	eventually(t, 20*time.Second, "the workflow to note the attached events", func() bool {
		for _, en := range e.getIncident(t, inc.IncidentID).Timeline {
			if en.Kind == schemas.TimelineEventsAdded && (en.Message == "+2 events (12 in all)" || en.Message == "+1 event (11 in all)") {
				return true
			}
		}
		return false
	})
	require.Len(t, e.listIncidents(t), 1)
	require.Len(t, e.listIncidents(t, "--status", "active", "--severity", "HIGH"), 1)
	require.Empty(t, e.listIncidents(t, "--severity", "critical"))

	status := e.mustRun(t, "incidents", "status")
	require.Contains(t, status, "running")
	require.Contains(t, status, "Active incidents:")

	// Closing before resolution is refused.
	_, err = e.run(context.Background(), "incidents", "close", inc.IncidentID)
	require.ErrorContains(t, err, "only a resolved incident can be closed")

	require.Contains(t, e.mustRun(t, "incidents", "acknowledge", inc.IncidentID, "--by", "alice"), "acknowledged by alice")
	_, err = e.run(context.Background(), "incidents", "acknowledge", inc.IncidentID, "--by", "bob")
	require.ErrorContains(t, err, "already acknowledged by alice")
	require.Contains(t, e.mustRun(t, "incidents", "assign", inc.IncidentID, "john.doe", "--by", "alice"), "assigned to john.doe")
	require.Contains(t, e.mustRun(t, "incidents", "resolve", inc.IncidentID, "--notes", "Fixed by scaling up", "--by", "john.doe"), "resolved by john.doe")
	eventually(t, 20*time.Second, "the post-mortem stage to finish", func() bool {
		for _, en := range e.getIncident(t, inc.IncidentID).Timeline {
			if en.Kind == schemas.TimelineStageFinished && strings.HasPrefix(en.Message, "Post-Mortem") {
				return true
			}
		}
		return false
	})
	require.Contains(t, e.mustRun(t, "incidents", "close", inc.IncidentID, "--by", "alice"), "closed by alice")
	pm := e.mustRun(t, "incidents", "postmortem", inc.IncidentID)
	for _, section := range []string{"## Summary", "## Impact", "## Timeline", "## Root cause", "## Resolution",
		"## Remediation actions", "## Follow-up items", "MTTD", "MTTR", "Total events: 12", "Peak event rate"} {
		require.Contains(t, pm, section)
	}
	require.Regexp(t, `\| restart_service \| succeeded \| alice \| bob \|`, pm)

	got := e.getIncident(t, inc.IncidentID)
	require.Equal(t, schemas.StatusClosed, got.Status)
	require.Equal(t, "alice", got.AcknowledgedBy)
	require.Equal(t, "john.doe", got.AssignedTo)
	require.Equal(t, "Fixed by scaling up", got.ResolutionNotes)
	require.NotNil(t, got.ResolvedAt)
	require.NotNil(t, got.MTTRSeconds)
	require.False(t, got.MTTRBreached)
	require.Contains(t, got.TemporalURL, fmt.Sprintf("http://127.0.0.1:%d/namespaces/default/workflows/", e.uiPort))
	kinds := map[string]int{}
	for _, en := range got.Timeline {
		kinds[en.Kind]++
	}
	for _, k := range []string{schemas.TimelineDetected, schemas.TimelineAcknowledged, schemas.TimelineAssigned,
		schemas.TimelineResolved, schemas.TimelineClosed, schemas.TimelineEventsAdded} {
		require.Positive(t, kinds[k], "timeline lacks %s: %+v", k, got.Timeline)
	}
	require.Equal(t, 6, kinds[schemas.TimelineStageStarted], "every stage ran once")
	require.Equal(t, 6, kinds[schemas.TimelineStageFinished])

	// The same through `incidents simulate`: a new incident for another source.
	out = e.mustRun(t, "incidents", "simulate", "--type", "error_burst", "--severity", "high", "--source", "web")
	require.Contains(t, out, "Posted 10 error events from web")
	require.Regexp(t, `Incident inc_[0-9a-f]{16}: high error_burst`, out)
	require.Len(t, e.listIncidents(t, "--status", "active"), 1)

	var events []schemas.Event
	require.NoError(t, json.Unmarshal([]byte(e.mustRun(t, "incidents", "events", "list", "--last", "5", "-o", "json")), &events))
	require.Len(t, events, 5)
	require.NoError(t, json.Unmarshal([]byte(e.mustRun(t, "incidents", "events", "list", "--source", "web", "--last", "50", "-o", "json")), &events))
	require.Len(t, events, 10)
	for _, ev := range events {
		require.Equal(t, "web", ev.Source)
		require.NotEmpty(t, ev.IncidentID, "simulated events are attached to their incident")
	}

	// A responder declares an incident by hand: same procedure, no events.
	out = e.mustRun(t, "incidents", "create", "--type", "error_burst", "--severity", "critical", "--title", "API Issues", "--by", "alice")
	require.Regexp(t, `Incident inc_[0-9a-f]{16} declared: critical error_burst`, out)
	require.Len(t, e.listIncidents(t, "--status", "active"), 2)

	watch := e.mustRun(t, "incidents", "watch", "--count", "1")
	require.Contains(t, watch, "API Issues")
	require.NotContains(t, watch, "API Error Burst on api", "a closed incident is not news")

	var stats struct {
		All struct {
			Total    int            `json:"total"`
			Active   int            `json:"active"`
			ByStatus map[string]int `json:"by_status"`
			MeanMTTR *float64       `json:"mean_mttr_seconds"`
		} `json:"all"`
		BySeverity map[string]json.RawMessage `json:"by_severity"`
	}
	require.NoError(t, json.Unmarshal([]byte(e.mustRun(t, "incidents", "stats", "--by-severity", "-o", "json")), &stats))
	require.Equal(t, 3, stats.All.Total)
	require.Equal(t, 2, stats.All.Active)
	require.Equal(t, 1, stats.All.ByStatus["closed"])
	require.NotNil(t, stats.All.MeanMTTR)
	require.Contains(t, stats.BySeverity, "critical")
	require.Contains(t, e.mustRun(t, "incidents", "stats"), "Mean MTTR")

	// The incidents' histories (one closed, two running) replay against this code.
	require.Contains(t, e.mustRun(t, "incidents", "replay", "--since", "1h"), "3 replayed, 3 compatible, 0 incompatible")
	require.Contains(t, e.mustRun(t, "incidents", "replay", "--file", "../testdata/histories/v1_manually_resolved_closed.json"),
		"1 replayed, 1 compatible")

	// Notifications went out in the real wire formats, routed by severity (HIGH: Slack and
	// the webhook, not PagerDuty), and each delivery is on the timeline.
	eventually(t, 20*time.Second, "the resolved notification", func() bool {
		for _, req := range hookRx.Requests() {
			if strings.Contains(string(req.Body), `"kind":"resolved"`) {
				return true
			}
		}
		return false
	}, func() string {
		return fmt.Sprintf("webhook got %d requests, the last: %.300s", len(hookRx.Requests()), lastBody(hookRx))
	})
	for _, rx := range []*notifytest.Receiver{slackRx, hookRx} {
		require.GreaterOrEqual(t, len(rx.Requests()), 4, "opened, approval requested, acknowledged, resolved")
		for _, req := range rx.Requests() {
			require.NoError(t, req.Invalid)
		}
	}
	sent := map[string]int{}
	for _, en := range e.getIncident(t, inc.IncidentID).Timeline {
		if en.Kind == schemas.TimelineNotified {
			sent[en.Actor]++
		}
	}
	require.Positive(t, sent["slack"])
	require.Positive(t, sent["webhook"])
	require.Zero(t, sent["pagerduty"], "pagerduty has no service key configured")
	require.Contains(t, e.mustRun(t, "incidents", "notify", "test", "--channel", "slack"), "Test message sent to slack: 200")
	status = e.mustRun(t, "incidents", "status")
	require.Regexp(t, `Notifications failed \(24h\):\s+0`, status)
	require.Regexp(t, `slack:\s+\d+ sent, 0 failed, 0 suppressed`, status)

	recordHistories(t, e, map[string]string{historyPrefix + "endtoend_cli": got.WorkflowID})
	stop()
}

func lastBody(rx *notifytest.Receiver) []byte {
	reqs := rx.Requests()
	if len(reqs) == 0 {
		return nil
	}
	return reqs[len(reqs)-1].Body
}

// historyPrefix names the workflow version that `make histories` records now (v4: the
// remediation policy, escalation to people and Alertmanager resolution changes). Histories of earlier versions stay in testdata/histories and must keep
// replaying; bump the prefix with the next versioned change.
const historyPrefix = "v4_"

// recordHistories writes the histories of finished workflows into the directory named by
// MAHAVISHNU_RECORD_HISTORIES (`make histories`); without it, it does nothing.
func recordHistories(t *testing.T, e *env, workflows map[string]string) {
	if os.Getenv("MAHAVISHNU_RECORD_HISTORIES") == "" {
		return
	}
	tc, err := client.Dial(client.Options{HostPort: fmt.Sprintf("127.0.0.1:%d", e.frontendPort)})
	require.NoError(t, err)
	defer tc.Close()
	recordHistoriesFrom(t, tc, workflows)
}

func recordHistoriesFrom(t *testing.T, tc client.Client, workflows map[string]string) {
	dir := os.Getenv("MAHAVISHNU_RECORD_HISTORIES")
	if dir == "" {
		return
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for name, wfID := range workflows {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var history historypb.History
		iter := tc.GetWorkflowHistory(ctx, wfID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			ev, err := iter.Next()
			require.NoError(t, err)
			history.Events = append(history.Events, ev)
		}
		cancel()
		data, err := protojson.MarshalOptions{Indent: "  "}.Marshal(&history)
		require.NoError(t, err)
		path := filepath.Join(dir, name+".json")
		require.NoError(t, os.WriteFile(path, data, 0o644))
		t.Logf("recorded %d history events of %s into %s", len(history.Events), wfID, path)
	}
}
