//go:build linux

package api

import (
	"context"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// TestDashboardRolesInHeadlessChromium logs in with a viewer token in a real browser and
// sees no action forms, logs out, logs in as an approver and approves an unsafe action.
func TestDashboardRolesInHeadlessChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the dashboard browser test needs Chromium at %s (%v): run `apt-get install -y chromium`", chromiumPath, err)
	}
	e := newAccessEnv(t)
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()), chromedp.Flag("disable-dev-shm-usage", true))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, steps...))
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(sel))
		require.NoError(t, err)
		return v
	}
	eval := func(js string) int {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[int](js))
		require.NoError(t, err)
		return v
	}
	login := func(token string) {
		t.Helper()
		do(chromedp.Navigate(srv.URL+"/login"),
			chromedp.WaitVisible(`input[name="token"]`),
			chromedp.SendKeys(`input[name="token"]`, token),
			chromedp.Click(`form[action="/login"] button`),
			chromedp.WaitVisible(`#who`))
	}
	login(e.tokens["viewer"])
	require.Equal(t, "viewer-user (viewer)", text(`#who`))
	do(chromedp.Navigate(srv.URL+"/incidents/"+incAPI), chromedp.WaitVisible(`#timeline`))
	require.Zero(t, eval(`document.querySelectorAll('form[id^="form-"]').length`), "a viewer sees no action forms")
	require.Zero(t, eval(`document.querySelectorAll('#actions button').length`))
	cookies, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`))
	require.NoError(t, err)
	require.NotContains(t, cookies, "mahavishnu_session", "the session cookie is HttpOnly: scripts cannot read it")

	do(chromedp.Click(`#logout`), chromedp.WaitVisible(`input[name="token"]`))
	login(e.tokens["approver"])
	do(chromedp.Navigate(srv.URL+"/incidents/"+incAPI),
		chromedp.WaitVisible(`#form-mitigate`),
		chromedp.SetValue(`#form-mitigate select[name="action"]`, "restart_service"),
		chromedp.Click(`#approve-checkbox`),
		chromedp.Click(`#form-mitigate button`),
		chromedp.WaitVisible(`#flash`))
	flash := text(`#flash`)
	require.True(t, strings.Contains(flash, "run by approver-user"), flash)
	sent := e.tc.sent()
	require.NotEmpty(t, sent)
	require.Equal(t, []any{schemas.Mitigate{Action: "restart_service", Actor: "approver-user", ApprovedBy: "approver-user"}}, sent[len(sent)-1].Args,
		"the approval is recorded under the approver's own identity")
}
