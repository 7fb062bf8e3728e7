//go:build linux

package api

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// chromiumPath is where Debian's chromium package installs the browser.
const chromiumPath = "/usr/bin/chromium"

// runChromium runs headless Chromium with args and returns its stdout. The whole process
// group is killed when ctx ends, so a hung browser cannot outlive the test.
func runChromium(ctx context.Context, t *testing.T, args ...string) []byte {
	t.Helper()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, chromiumPath, append(base, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "chromium did not finish in time; stderr:\n%s", stderr.String())
	require.NoError(t, err, "chromium failed; stderr:\n%s", stderr.String())
	return stdout.Bytes()
}

func TestDashboardInHeadlessChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the dashboard browser test needs Chromium at %s (%v): run `apt-get install -y chromium`", chromiumPath, err)
	}
	e := newDashEnv(t, "")
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second) // a bound for hangs, not a speed check: the machine may be loaded
	defer cancel()

	dom := string(runChromium(ctx, t, "--virtual-time-budget=3000", "--dump-dom", srv.URL+"/"))
	for _, want := range []string{`id="overview"`, `id="incidents"`, `id="timeline"`, `id="metrics"`, `id="components"`,
		"Active Incidents", `data-id="` + incAPI + `"`, `data-id="` + incDB + `"`, "API error burst", "Database connections failing",
		`<b id="active-count">2</b>`} {
		require.Contains(t, dom, want)
	}
	require.NotContains(t, dom, `data-id="`+incResolved+`"`, "resolved incidents are not in the active table")
	require.Equal(t, []string{incAPI, incDB}, rows(dom), "the browser sees the active incident rows")

	page := string(runChromium(ctx, t, "--virtual-time-budget=3000", "--dump-dom", srv.URL+"/incidents/"+incDB))
	for _, want := range []string{`id="form-assign"`, `id="form-mitigate"`, `id="form-resolve"`, "scaled to 4 replicas",
		"Acknowledged by alice", `name="csrf" value="` + e.csrf + `"`} {
		require.Contains(t, page, want)
	}
	if dir := os.Getenv("DASHBOARD_SCREENSHOT_DIR"); dir != "" { // the incident page, to look at by hand
		runChromium(ctx, t, "--virtual-time-budget=3000", "--hide-scrollbars", "--window-size=1360,1400",
			"--screenshot="+filepath.Join(dir, "incident.png"), srv.URL+"/incidents/"+incDB)
	}

	shot := filepath.Join(t.TempDir(), "dashboard.png")
	if dir := os.Getenv("DASHBOARD_SCREENSHOT_DIR"); dir != "" { // to look at it by hand
		shot = filepath.Join(dir, "dashboard.png")
	}
	runChromium(ctx, t, "--virtual-time-budget=3000", "--hide-scrollbars", "--window-size=1360,1100",
		"--screenshot="+shot, srv.URL+"/")
	png, err := os.ReadFile(shot)
	require.NoError(t, err)
	require.Greater(t, len(png), 10_000, "a rendered page, not a blank image")
	require.Equal(t, []byte("\x89PNG"), png[:4])
}
