package integration

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestHeartbeatMissedAndRecovered runs a heartbeat with second-scale intervals on the real
// embedded server: no ping opens a heartbeat_missed incident through the outbox; the next
// ping recovers it, and with auto_resolution it resolves.
func TestHeartbeatMissedAndRecovered(t *testing.T) {
	e := newEnv(t, "  auto_resolution: true\n")
	e.startManager(t)
	e.mustRun(t, "heartbeats", "create", "backup", "--every", "2s", "--grace", "1s")

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
}
