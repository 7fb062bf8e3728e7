//go:build linux

package api

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/manager"
	"github.com/mahavishnu/mahavishnu/store"
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

// TestDashboardAutoRefreshInChromium: with dashboard.refresh_interval_seconds, both the
// overview and an incident page reload themselves in a real browser (static/dashboard.js,
// no inline script), and the overview keeps its filters.
func TestDashboardAutoRefreshInChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the dashboard browser test needs Chromium at %s (%v): run `apt-get install -y chromium`", chromiumPath, err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:///incidents.db", t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	seedDashboard(t, st)
	m, err := manager.New(manager.Options{Store: st, Client: &updateFake{}, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	h := New(Options{Manager: m, Logger: slog.New(slog.DiscardHandler),
		Dashboard: DashboardOptions{Enabled: true, Refresh: time.Second}}).Handler()
	var mu sync.Mutex
	hits := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.RequestURI()]++
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	for _, page := range []string{"/?severity=high&since=24h", "/incidents/" + incDB} {
		// The browser stays on the page until killed; the server sees its reloads.
		bctx, cancel := context.WithCancel(ctx)
		cmd := exec.CommandContext(bctx, chromiumPath, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
			"--user-data-dir="+t.TempDir(), "--remote-debugging-port=0", srv.URL+page)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = 2 * time.Second
		require.NoError(t, cmd.Start())
		deadline := time.Now().Add(30 * time.Second)
		n := 0
		for time.Now().Before(deadline) && n < 3 {
			time.Sleep(100 * time.Millisecond)
			mu.Lock()
			n = hits[page]
			mu.Unlock()
		}
		cancel()
		_ = cmd.Wait()
		require.GreaterOrEqual(t, n, 3, "%s reloaded itself, same URL (filters kept): hits %v", page, hits)
	}
	body := httptest.NewRecorder()
	h.ServeHTTP(body, httptest.NewRequest("GET", "/incidents/"+incDB, nil))
	require.Contains(t, body.Body.String(), `<body data-refresh="1">`)
	require.NotContains(t, body.Body.String(), "<script>", "no inline script")
}
