package cli

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"
	"go.temporal.io/sdk/client"

	"github.com/mahavishnu/mahavishnu/api"
	"github.com/mahavishnu/mahavishnu/config"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// healthyTemporal is a Temporal client that only answers health checks.
type healthyTemporal struct{ client.Client }

func (healthyTemporal) CheckHealth(context.Context, *client.CheckHealthRequest) (*client.CheckHealthResponse, error) {
	return &client.CheckHealthResponse{}, nil
}

func (healthyTemporal) Close() {}

// dashboardRuntime loads yaml (plus a temp data_dir) into a runtime whose Temporal
// client is already connected.
func dashboardRuntime(t *testing.T, yaml string) *runtime {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "mahavishnu.yaml")
	require.NoError(t, os.WriteFile(path, []byte("data_dir: "+dir+"\n"+yaml), 0o600))
	cfg, err := config.Load(path, func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	r := &runtime{cfg: cfg, client: healthyTemporal{}, opts: Options{Stdout: io.Discard, Stderr: io.Discard}}
	t.Cleanup(r.close)
	return r
}

func runDashboard(ctx context.Context, r *runtime, out io.Writer, args ...string) error {
	app := &cli.App{Name: "mahavishnu", Writer: out, ErrWriter: io.Discard, Commands: []*cli.Command{dashboardCommand(r)}}
	return app.RunContext(ctx, append([]string{"mahavishnu", "dashboard"}, args...))
}

func TestDashboardCommandServesUntilStopped(t *testing.T) {
	r := dashboardRuntime(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- runDashboard(ctx, r, pw, "--port", "0", "--host", "127.0.0.1")
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	require.True(t, lines.Scan())
	url, ok := strings.CutPrefix(lines.Text(), "Mahavishnu dashboard: ")
	require.True(t, ok, lines.Text())
	require.True(t, strings.HasPrefix(url, "http://127.0.0.1:"), url)
	go func() { _, _ = io.Copy(io.Discard, pr) }()

	resp, err := http.Get(url + "/")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), `id="incidents"`)
	require.Contains(t, string(body), `<meta http-equiv="refresh" content="30">`, "dashboard.refresh_interval_seconds")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("the dashboard did not stop when its context ended")
	}
}

func TestDashboardCommandRefusals(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, port, want string }{
		"disabled": {"incident_response:\n  dashboard:\n    enabled: false\n", "0",
			"incident_response.dashboard.enabled is false: set it to true to serve the dashboard"},
		"bad port": {"", "70000", "--port: want a port number 0-65535, got 70000"},
	} {
		t.Run(name, func(t *testing.T) {
			err := runDashboard(context.Background(), dashboardRuntime(t, tc.yaml), io.Discard, "--port", tc.port)
			require.EqualError(t, err, tc.want)
		})
	}
}

func TestDashboardOptionsOfferTheRecommendedActions(t *testing.T) {
	r := dashboardRuntime(t, "incident_response:\n  dashboard:\n    refresh_interval_seconds: 15\n")
	st, err := r.Store(context.Background())
	require.NoError(t, err)
	reg, err := r.registry()
	require.NoError(t, err)
	opts := r.dashboardOptions(st, reg)
	require.True(t, opts.Enabled)
	require.Equal(t, 15*time.Second, opts.Refresh)
	got := opts.Actions(context.Background(), &schemas.Incident{RuleID: "error_burst", IncidentType: "error_burst"})
	var ids []string
	for _, a := range got {
		ids = append(ids, a.ID)
	}
	require.Equal(t, []string{"clear_cache", "scale_up", "restart_service"}, ids, "the error_burst rule's actions")
	require.Equal(t, api.ActionChoice{ID: "restart_service", Description: "Restart the affected service"}, got[2],
		"restart_service needs approval")
	require.True(t, got[0].Safe)
}
