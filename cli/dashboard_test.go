package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"
	"go.temporal.io/sdk/client"

	"github.com/mahavishnu/mahavishnu/api"
	"github.com/mahavishnu/mahavishnu/config"
	"github.com/mahavishnu/mahavishnu/manager"
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
	require.Contains(t, string(body), `<body data-refresh="30">`, "dashboard.refresh_interval_seconds")

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

// TestDashboardPortHeldByTheManager: `incidents dashboard` on the port where the manager
// already serves the dashboard (dashboard.port and api.listen are both 8080 by default)
// says where the dashboard is and succeeds; another program on the port is a clear error.
func TestDashboardPortHeldByTheManager(t *testing.T) {
	for _, enabled := range []bool{true, false} {
		t.Run(fmt.Sprintf("dashboard enabled %v", enabled), func(t *testing.T) {
			r := dashboardRuntime(t, "")
			ctx := context.Background()
			st, err := r.Store(ctx)
			require.NoError(t, err)
			reg, err := r.registry()
			require.NoError(t, err)
			m, err := manager.New(manager.Options{Store: st, Client: healthyTemporal{}, Logger: slog.New(slog.DiscardHandler)})
			require.NoError(t, err)
			t.Cleanup(m.Close)
			opts := r.dashboardOptions(st, reg)
			opts.Enabled = enabled
			srv := httptest.NewServer(api.New(api.Options{Manager: m, Logger: slog.New(slog.DiscardHandler), Dashboard: opts}).Handler())
			defer srv.Close()
			port := srv.Listener.Addr().(*net.TCPAddr).Port

			var out strings.Builder
			err = runDashboard(ctx, r, &out, "--port", strconv.Itoa(port), "--host", "127.0.0.1")
			if enabled {
				require.NoError(t, err)
				require.Contains(t, out.String(), fmt.Sprintf("already serves the dashboard at http://127.0.0.1:%d/: open it there", port))
			} else {
				require.EqualError(t, err, fmt.Sprintf("dashboard port 127.0.0.1:%d is the running manager's api.listen, which serves no dashboard there "+
					"(incident_response.dashboard.enabled is false for it, or it runs without the api role): pick another --port", port))
			}
		})
	}
	t.Run("another program", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		addr := ln.Addr().String()
		_, port, _ := net.SplitHostPort(addr)
		err = runDashboard(context.Background(), dashboardRuntime(t, ""), io.Discard, "--port", port, "--host", "127.0.0.1")
		require.EqualError(t, err, "dashboard port "+addr+" (--port, incident_response.dashboard.port) is in use by another program: pick another --port")
	})
}
