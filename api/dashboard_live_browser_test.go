//go:build linux

package api

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// Browser tests of issue 12 in headless Chromium, driven over the DevTools protocol
// (chromedp): charts with data, approving from the incident page, a live update without a
// reload, and the phone layout. With DASHBOARD_SCREENSHOT_DIR set they also write the
// screenshots of docs/screenshots/.

func newBrowser(t *testing.T, width, height int64) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the dashboard browser tests need Chromium at %s (%v): run `apt-get install -y chromium`", chromiumPath, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath), chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()), chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(int(width), int(height)))
	// A bound for hangs, not a speed check: the machine may be loaded.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	require.NoError(t, chromedp.Do(bctx, chromedp.EmulateViewport(width, height)))
	return bctx
}

// do runs browser steps.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx, steps...))
}

// js evaluates a JavaScript expression in the page.
func js[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	require.NoError(t, err, expr)
	return v
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("DASHBOARD_SCREENSHOT_DIR")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG (lower is JPEG)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
}

func TestBrowserChartsRenderWithData(t *testing.T) {
	e := newDashEnv(t, "")
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	ctx := newBrowser(t, 1360, 1000)
	do(t, ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#chart-severity svg")))
	require.Greater(t, js[int](t, ctx, `document.querySelectorAll("#charts rect.bar").length`), 0)
	require.Equal(t, 1, js[int](t, ctx, `document.querySelectorAll("#chart-severity rect.bar.sev-critical").length`),
		"one critical incident, one bar segment")
	require.Equal(t, 4, js[int](t, ctx, `document.querySelectorAll("#chart-noisy rect.bar").length`), "four sources with incidents")
	require.Equal(t, "MTTA and MTTR by week (minutes)", js[string](t, ctx, `document.querySelector("#chart-times figcaption").textContent`))
	require.Greater(t, js[float64](t, ctx, `document.querySelector("#chart-severity svg").getBoundingClientRect().width`), 200.0,
		"the chart is drawn at a usable size")
	require.Greater(t, js[float64](t, ctx, `document.querySelector("#chart-severity svg").getBoundingClientRect().height`), 60.0)
	// Keyboard: the data table opens from the keyboard.
	do(t, ctx, chromedp.Focus(chromedp.CSS("#chart-severity summary")), chromedp.KeyEvent("\r"))
	require.True(t, js[bool](t, ctx, `document.querySelector("#chart-severity details").open`), "Enter on the summary opens the data table")
	screenshot(t, ctx, "dashboard.png")
}

func TestBrowserApproverApprovesFromIncidentPage(t *testing.T) {
	// Tokens exist: the approver logs in with theirs, and the decision is recorded under
	// the session's identity (no name field on the page).
	e := newAccessEnv(t)
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	ctx := newBrowser(t, 1360, 1400)
	do(t, ctx, chromedp.Navigate(srv.URL+"/login"), chromedp.WaitVisible(chromedp.CSS(`input[name="token"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="token"]`), e.tokens["approver"]),
		chromedp.Submit(chromedp.CSS(`input[name="token"]`)),
		chromedp.WaitVisible(chromedp.CSS("#who")))
	require.Equal(t, "approver-user (approver)", strings.TrimSpace(js[string](t, ctx, `document.getElementById("who").textContent`)))
	do(t, ctx, chromedp.Navigate(srv.URL+"/incidents/"+incAPI), chromedp.WaitVisible(chromedp.CSS("#approvals .form-approve")))
	require.Zero(t, js[int](t, ctx, `document.querySelectorAll('input[name="by"]').length`), "no \"Your name\" field")
	screenshot(t, ctx, "incident.png")
	do(t, ctx,
		chromedp.SendKeys(chromedp.CSS(`#approvals .form-approve input[name="reason"]`), "load is down"),
		chromedp.Click(chromedp.CSS(`#approvals .form-approve button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#flash")))
	require.Equal(t, "Approved restart_service (approver-user).", strings.TrimSpace(js[string](t, ctx, `document.getElementById("flash").textContent`)))
	sent := e.tc.sent()
	require.Len(t, sent, 1)
	require.Equal(t, schemas.UpdateApprove, sent[0].UpdateName)
	require.Equal(t, []any{schemas.ApprovalDecision{Action: "restart_service", By: "approver-user", Reason: "load is down"}}, sent[0].Args)
}

func TestBrowserLiveUpdateWithoutReload(t *testing.T) {
	e := newDashEnv(t, "")
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	ctx := newBrowser(t, 1000, 500)
	do(t, ctx, chromedp.Navigate(srv.URL+"/?severity=critical"), chromedp.WaitVisible(chromedp.CSS("#live.on"))) // the stream is open
	require.Equal(t, 300.0, js[float64](t, ctx, `window.notReloaded = 42; window.scrollTo(0, 300); window.scrollY`))
	now := time.Now().UTC()
	for _, inc := range []schemas.Incident{
		{IncidentID: "inc_live_critical", IncidentType: "service_down", Severity: schemas.SeverityCritical, Status: schemas.StatusAssessing,
			Title: "Payments down", Source: "payments", DetectedAt: now, WorkflowID: "incident/live/payments", Version: 1},
		{IncidentID: "inc_live_low", IncidentType: "disk_space_low", Severity: schemas.SeverityLow, Status: schemas.StatusAssessing,
			Title: "Disk filling", Source: "worker", DetectedAt: now, WorkflowID: "incident/live/worker", Version: 1},
	} {
		inc.Fingerprint = inc.IncidentType + "/" + inc.Source
		require.NoError(t, e.st.SaveIncident(context.Background(), &inc))
	}
	do(t, ctx, chromedp.WaitVisible(chromedp.CSS(`tr[data-id="inc_live_critical"]`)))
	require.Equal(t, 42.0, js[float64](t, ctx, `window.notReloaded`), "the page was updated in place, not reloaded")
	require.Equal(t, 300.0, js[float64](t, ctx, `window.scrollY`), "the scroll position is kept")
	require.Equal(t, 2, js[int](t, ctx, `document.querySelectorAll("tr.incident-row").length`),
		"the critical filter still holds: the existing and the new critical incident")
	require.Zero(t, js[int](t, ctx, `document.querySelectorAll('tr[data-id="inc_live_low"]').length`))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(loc, "/?severity=critical"), loc)
}

func TestBrowserPhoneLayout(t *testing.T) {
	e := newDashEnv(t, "")
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	ctx := newBrowser(t, 390, 844)
	for _, page := range []struct{ path, shot string }{
		{"/", "dashboard-phone.png"}, {"/incidents/" + incAPI, "incident-phone.png"}, {"/login", "login-phone.png"},
	} {
		do(t, ctx, chromedp.Navigate(srv.URL+page.path), chromedp.WaitVisible(chromedp.CSS("main")))
		clientW := js[float64](t, ctx, `document.documentElement.clientWidth`)
		require.Equal(t, 390.0, clientW)
		wide := js[[]string](t, ctx, `Array.from(document.querySelectorAll("body *")).filter(function (el) {
			var r = el.getBoundingClientRect(); return r.right > document.documentElement.clientWidth + 0.5 && !el.closest(".table-scroll");
		}).slice(0, 8).map(function (el) { return el.tagName + "#" + el.id + "." + el.className + " " + Math.round(el.getBoundingClientRect().right); })`)
		require.Empty(t, wide, "%s: nothing sticks out sideways at 390 px", page.path)
		require.LessOrEqual(t, js[float64](t, ctx, `document.documentElement.scrollWidth`), clientW,
			"%s: the page does not scroll sideways", page.path)
		if page.path == "/" {
			w := js[float64](t, ctx, `document.querySelector("#chart-severity svg").getBoundingClientRect().width`)
			require.Greater(t, w, 300.0, "charts use the phone's width")
			require.LessOrEqual(t, w, 390.0)
		}
		screenshot(t, ctx, page.shot)
	}
	// Keyboard: the skip link is the first stop.
	do(t, ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("main")), chromedp.KeyEvent("\t"))
	require.Equal(t, "skip", js[string](t, ctx, `document.activeElement.className`))
}
