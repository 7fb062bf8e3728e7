package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAlertmanagerResolvesTheIncident: a real Prometheus Alertmanager (Debian's
// prometheus-alertmanager) sends a firing alert to the webhook, then, with send_resolved,
// its resolution; the incident counts as recovered and, with auto_resolution, resolves.
func TestAlertmanagerResolvesTheIncident(t *testing.T) {
	bin := "/usr/bin/prometheus-alertmanager"
	if v := os.Getenv("MAHAVISHNU_ALERTMANAGER"); v != "" {
		bin = v
	}
	_, err := os.Stat(bin)
	require.NoError(t, err, "Prometheus Alertmanager is needed: apt-get install -y prometheus-alertmanager")

	e := newEnv(t, "  auto_resolution: true\n")
	e.startManager(t)

	dir := t.TempDir()
	conf := filepath.Join(dir, "alertmanager.yml")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`route:
  receiver: mahavishnu
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: mahavishnu
    webhook_configs:
      - url: http://%s/api/v1/alertmanager
        send_resolved: true
`, e.apiAddr)), 0o600))
	addr := fmt.Sprintf("127.0.0.1:%d", freePortRange(t, 1))
	logPath := filepath.Join(dir, "alertmanager.log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	cmd := exec.Command(bin, "--config.file="+conf, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=info")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		logFile.Close()
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("alertmanager log:\n%s", out)
		}
	})
	amURL := "http://" + addr
	eventually(t, 30*time.Second, "alertmanager ready", func() bool {
		resp, err := http.Get(amURL + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	starts := time.Now().UTC().Add(-time.Minute)
	postAlert := func(ends time.Time) {
		body := fmt.Sprintf(`[{"labels":{"alertname":"CertExpiry","event_type":"ssl_error","service":"billing","severity":"critical"},
			"annotations":{"summary":"Certificate expires in 2h"},"startsAt":%q,"endsAt":%q}]`,
			starts.Format(time.RFC3339), ends.UTC().Format(time.RFC3339))
		resp, err := http.Post(amURL+"/api/v2/alerts", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	postAlert(time.Now().Add(time.Hour))
	inc := e.waitIncident(t, "ssl_expiry", "billing")

	postAlert(time.Now()) // resolved now; Alertmanager sends it with send_resolved
	eventually(t, 60*time.Second, "the incident to resolve once its alert resolved", func() bool {
		var got map[string]any
		out, err := e.run(t.Context(), "incidents", "get", inc.IncidentID, "-o", "json")
		if err != nil || json.Unmarshal([]byte(out), &got) != nil {
			return false
		}
		notes, _ := got["resolution_notes"].(string)
		return got["status"] == "resolved" && strings.Contains(notes, "every alert resolved by Alertmanager (1: ")
	}, func() string { return e.mustRun(t, "incidents", "get", inc.IncidentID, "--timeline") })
	require.Contains(t, e.mustRun(t, "incidents", "get", inc.IncidentID, "--timeline"), "recovered: every alert resolved by Alertmanager")
}
