package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestHeartbeatMissedAndRecovered runs a heartbeat with second-scale intervals on the real
// embedded server: no ping opens a heartbeat_missed incident through the outbox; the next
// ping recovers it, and with auto_resolution it resolves. The heartbeat names an
// escalation policy, whose level 0 pages its person when the incident opens. Then pause
// (no incident after the deadline), resume, ping and delete, through the CLI.
func TestHeartbeatMissedAndRecovered(t *testing.T) {
	e := newEnv(t, `  auto_resolution: true
  escalation:
    policies:
      backups:
        levels:
          - name: backup-owner
            people: [carol]
`)
	e.startManager(t)
	e.mustRun(t, "people", "add", "carol", "--email", "carol@example.com")
	_, err := e.run(t.Context(), "heartbeats", "create", "backup", "--every", "2s", "--escalation", "nope")
	require.ErrorContains(t, err, `--escalation nope:`)
	require.ErrorContains(t, err, `unknown escalation policy "nope" (known: backups`)
	e.mustRun(t, "heartbeats", "create", "backup", "--every", "2s", "--grace", "1s", "--escalation", "backups")

	show := func() map[string]any {
		var h map[string]any
		require.NoError(t, json.Unmarshal([]byte(e.mustRun(t, "heartbeats", "show", "backup", "-o", "json")), &h))
		return h
	}
	var incidentID string
	eventually(t, 60*time.Second, "the heartbeat to be missed", func() bool {
		h := show()
		incidentID, _ = h["incident_id"].(string)
		return h["state"] == "missed" && incidentID != ""
	}, func() string { return e.mustRun(t, "heartbeats", "list") })

	get := func() map[string]any {
		out, err := e.run(t.Context(), "incidents", "get", incidentID, "-o", "json")
		if err != nil {
			return map[string]any{}
		}
		var inc map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &inc))
		return inc
	}
	eventually(t, 60*time.Second, "the heartbeat_missed incident's workflow to run", func() bool {
		inc := get()
		return inc["incident_type"] == "heartbeat_missed" && inc["status"] != nil && inc["status"] != "detected"
	})

	resp, err := http.Post("http://"+e.apiAddr+"/api/v1/heartbeats/backup/ping", "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)

	eventually(t, 60*time.Second, "the incident to resolve on the ping", func() bool {
		inc := get()
		notes, _ := inc["resolution_notes"].(string)
		return inc["status"] == "resolved" && strings.Contains(notes, "heartbeat backup pinged again")
	}, func() string { return e.mustRun(t, "incidents", "get", incidentID, "--timeline") })
	timeline := e.mustRun(t, "incidents", "get", incidentID, "--timeline")
	require.Contains(t, timeline, "paging level 0 (backup-owner) for the new incident", "the heartbeat's policy, not the default levels")
	require.Contains(t, timeline, "carol")

	// Pause: no incident while deadlines pass. (A deadline may have passed since the ping:
	// then a second incident opened before the pause, which is fine.)
	e.mustRun(t, "heartbeats", "pause", "backup")
	eventually(t, 30*time.Second, "the heartbeat to be paused", func() bool { return show()["state"] == "paused" })
	heartbeatIncidents := func() int {
		var list []map[string]any
		require.NoError(t, json.Unmarshal([]byte(e.mustRun(t, "incidents", "list", "--type", "heartbeat_missed", "-o", "json")), &list))
		return len(list)
	}
	before, atPause := heartbeatIncidents(), show()["incident_id"]
	pausedAt := time.Now()
	require.GreaterOrEqual(t, before, 1)
	time.Sleep(3 * (2 + 1) * time.Second) // three deadlines (every 2s + grace 1s) pass while paused
	h := show()
	require.Equal(t, "paused", h["state"])
	require.Equal(t, atPause, h["incident_id"], "no new incident while paused")
	require.Equal(t, before, heartbeatIncidents(), "no new incident while paused")

	// Resume (the deadline counts from now), then a ping (GET, as from cron) makes it up.
	e.mustRun(t, "heartbeats", "resume", "backup")
	resp, err = http.Get("http://" + e.apiAddr + "/api/v1/heartbeats/backup/ping")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	eventually(t, 30*time.Second, "the heartbeat to be up after resume and ping", func() bool {
		h := show()
		last, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(h["last_ping_at"]))
		return h["state"] == "up" && last.After(pausedAt)
	}, func() string { return e.mustRun(t, "heartbeats", "list") })

	e.mustRun(t, "heartbeats", "delete", "backup")
	_, err = e.run(t.Context(), "heartbeats", "show", "backup")
	require.Error(t, err, "a deleted heartbeat is gone")
	require.Contains(t, e.mustRun(t, "heartbeats", "list"), "No heartbeats.")
}
