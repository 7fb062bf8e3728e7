package api

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/mahavishnu/mahavishnu/manager"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// updateFake answers the Updates manager.Ops sends; refuse makes it refuse them all.
type updateFake struct {
	client.Client
	mu      sync.Mutex
	refuse  string
	updates []client.UpdateWorkflowOptions
}

func (f *updateFake) UpdateWorkflow(_ context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates = append(f.updates, o)
	return updateHandle{refuse: f.refuse}, nil
}

func (f *updateFake) sent() []client.UpdateWorkflowOptions {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]client.UpdateWorkflowOptions(nil), f.updates...)
}

type updateHandle struct {
	client.WorkflowUpdateHandle
	refuse string
}

func (h updateHandle) Get(_ context.Context, out any) error {
	if h.refuse != "" {
		return temporal.NewApplicationError(h.refuse, "rejected")
	}
	if rec, ok := out.(*schemas.ActionRecord); ok {
		rec.Action, rec.Status = "clear_cache", schemas.ActionSucceeded
	}
	return nil
}

// seeded incident IDs: two active, one resolved (with a post-mortem), one closed.
const (
	incAPI      = "inc_api_critical"
	incDB       = "inc_db_high"
	incResolved = "inc_cache_resolved"
	incOld      = "inc_old_closed"
)

type dashEnv struct {
	h     http.Handler
	st    *store.Store
	tc    *updateFake
	csrf  string
	token string
}

func ptr[T any](v T) *T { return &v }

func newDashEnv(t *testing.T, token string) *dashEnv {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:///incidents.db", t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	seedDashboard(t, st)
	tc := &updateFake{}
	m, err := manager.New(manager.Options{Store: st, Client: tc, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	h := New(Options{Manager: m, Token: token, Logger: slog.New(slog.DiscardHandler),
		WorkflowURL: func(wf, run string) string { return "http://temporal.test/workflows/" + wf + "/" + run },
		Dashboard: DashboardOptions{Enabled: true, Refresh: 30 * time.Second,
			Actions: func(context.Context, *schemas.Incident) []ActionChoice {
				return []ActionChoice{{ID: "clear_cache", Safe: true}, {ID: "restart_service", Description: "Restart the affected service"}}
			}},
	}).Handler()
	e := &dashEnv{h: h, st: st, tc: tc, token: token}
	page := "/incidents/" + incAPI
	if token != "" {
		page = "/login" // without a session only the login page shows, with the process's form token
	}
	body := e.get(t, page, http.StatusOK)
	m1 := regexp.MustCompile(`name="csrf" value="([0-9a-f]{64})"`).FindStringSubmatch(body)
	require.NotNil(t, m1, "the incident page carries the CSRF token")
	e.csrf = m1[1]
	return e
}

func seedDashboard(t *testing.T, st *store.Store) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	incs := []schemas.Incident{
		{IncidentID: incAPI, IncidentType: "error_burst", Severity: schemas.SeverityCritical, Status: schemas.StatusInvestigating,
			Title: "API error burst", Source: "api", AffectedComponents: []string{"api", "gateway"}, EventCount: 12,
			DetectedAt: now.Add(-10 * time.Minute), WorkflowID: "incident/error_burst/api", RunID: "run1", Version: 1},
		{IncidentID: incDB, IncidentType: "database_connection_failure", Severity: schemas.SeverityHigh, Status: schemas.StatusRemediating,
			Title: "Database connections failing", Source: "database", AffectedComponents: []string{"database", "api"}, EventCount: 5,
			DetectedAt: now.Add(-30 * time.Minute), AcknowledgedAt: ptr(now.Add(-25 * time.Minute)), AcknowledgedBy: "alice",
			MTTASeconds: ptr(300.0), WorkflowID: "incident/db/database", Version: 1},
		{IncidentID: incResolved, IncidentType: "cache_failure", Severity: schemas.SeverityMedium, Status: schemas.StatusResolved,
			Title: "Cache misses", Source: "cache", AffectedComponents: []string{"cache"}, EventCount: 3,
			DetectedAt: now.Add(-3 * time.Hour), ResolvedAt: ptr(now.Add(-2 * time.Hour)), ResolvedBy: "bob",
			MTTASeconds: ptr(100.0), MTTRSeconds: ptr(3600.0), WorkflowID: "incident/cache/cache", Version: 1},
		{IncidentID: incOld, IncidentType: "disk_space_low", Severity: schemas.SeverityLow, Status: schemas.StatusClosed,
			Title: "Disk space low", Source: "worker", AffectedComponents: []string{"worker"}, EventCount: 1,
			DetectedAt: now.Add(-48 * time.Hour), ResolvedAt: ptr(now.Add(-47 * time.Hour)), MTTRSeconds: ptr(1800.0),
			WorkflowID: "incident/disk/worker", Version: 1},
	}
	for i := range incs {
		inc := &incs[i]
		inc.Fingerprint = inc.IncidentType + "/" + inc.Source
		require.NoError(t, st.SaveIncident(ctx, inc, schemas.TimelineEntry{IncidentID: inc.IncidentID, At: inc.DetectedAt,
			Kind: schemas.TimelineDetected, Message: "Detected " + inc.Title, Key: "detected"}))
	}
	require.NoError(t, st.AddTimeline(ctx, schemas.TimelineEntry{IncidentID: incDB, At: now.Add(-25 * time.Minute),
		Kind: schemas.TimelineAcknowledged, Actor: "alice", Message: "Acknowledged by alice", Key: "ack"}))
	rec := schemas.ActionRecord{Action: "scale_up", Attempt: 1, Actor: "workflow", At: now.Add(-20 * time.Minute)}
	_, started, err := st.BeginAction(ctx, incDB, rec)
	require.NoError(t, err)
	require.True(t, started)
	rec.Status, rec.Output, rec.DurationMS = schemas.ActionSucceeded, "scaled to 4 replicas", 1200
	require.NoError(t, st.FinishAction(ctx, incDB, rec))
	require.NoError(t, st.SavePostMortem(ctx, incResolved, "# Post-mortem: Cache misses\n", now.Add(-2*time.Hour)))
}

// request sends a request from loopback unless remote is set.
func (e *dashEnv) request(t *testing.T, method, path string, form url.Values, mod func(*http.Request)) *httptest.ResponseRecorder {
	t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req := httptest.NewRequest(method, path, body)
	req.RemoteAddr, req.Host = "127.0.0.1:40000", "localhost:8080"
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if mod != nil {
		mod(req)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

func (e *dashEnv) get(t *testing.T, path string, want int) string {
	t.Helper()
	rec := e.request(t, http.MethodGet, path, nil, nil)
	require.Equal(t, want, rec.Code, rec.Body.String())
	return rec.Body.String()
}

// rows returns the incident IDs of the incidents table, in order.
func rows(body string) []string {
	var ids []string
	for _, m := range regexp.MustCompile(`class="incident-row" data-id="([^"]+)"`).FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

func TestDashboardRendersSections(t *testing.T) {
	e := newDashEnv(t, "")
	body := e.get(t, "/", http.StatusOK)
	for _, want := range []string{`id="overview"`, `id="incidents"`, `id="timeline"`, `id="metrics"`, `id="components"`,
		"Active Incidents", `<body data-refresh="30">`, "API error burst", "Database connections failing",
		`href="/incidents/inc_api_critical"`, `<b id="active-count">2</b>`, "running"} {
		require.Contains(t, body, want)
	}
	require.Equal(t, []string{incAPI, incDB}, rows(body), "active incidents, newest first")
	require.Contains(t, body, `<b id="mtta">3m20s</b>`, "MTTA averages 300s and 100s")
	require.Contains(t, body, `<b id="mttr">45m0s</b>`, "MTTR averages the resolved and closed incidents")
	require.Regexp(t, `(?s)component=api[^>]*>api</a></td><td><span class="badge sev-critical">`, body,
		"a component shows its worst active severity")
	require.NotContains(t, body, `component=cache"`, "resolved incidents leave the components section")
	require.Regexp(t, `(?s)id="timeline".*Detected API error burst.*Acknowledged by alice.*Detected Database`, body, "timeline, latest first")
}

func TestDashboardFilters(t *testing.T) {
	e := newDashEnv(t, "")
	for name, tc := range map[string]struct {
		query string
		want  []string
	}{
		"severity":            {"?severity=critical", []string{incAPI}},
		"severity any case":   {"?severity=HIGH", []string{incDB}},
		"status active":       {"?status=active", []string{incAPI, incDB}},
		"one status":          {"?status=resolved", []string{incResolved}},
		"all":                 {"?status=all", []string{incAPI, incDB, incResolved, incOld}},
		"component":           {"?component=database", []string{incDB}},
		"component in both":   {"?component=api", []string{incAPI, incDB}},
		"since":               {"?since=15m", []string{incAPI}},
		"since, all statuses": {"?since=4h&status=all", []string{incAPI, incDB, incResolved}},
		"combined":            {"?component=api&severity=high", []string{incDB}},
		"nothing":             {"?severity=low", nil},
	} {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.want, rows(e.get(t, "/"+tc.query, http.StatusOK)))
		})
	}
	for _, q := range []string{"?severity=urgent", "?status=open", "?since=yesterday"} {
		body := e.get(t, "/"+q, http.StatusBadRequest)
		require.Contains(t, body, strings.SplitN(strings.TrimPrefix(q, "?"), "=", 2)[0]+":", "the error names the parameter")
	}
}

func TestDashboardIncidentPage(t *testing.T) {
	e := newDashEnv(t, "")
	body := e.get(t, "/incidents/"+incDB, http.StatusOK)
	for _, want := range []string{"Database connections failing", "database_connection_failure", "database, api",
		"Acknowledged by alice", "scale_up", "scaled to 4 replicas", `href="http://temporal.test/workflows/incident/db/database/"`,
		`id="form-assign"`, `id="form-mitigate"`, `id="form-resolve"`, `<option value="restart_service">`, "Markdown summary"} {
		require.Contains(t, body, want)
	}
	require.NotContains(t, body, `id="form-acknowledge"`, "already acknowledged")
	resolved := e.get(t, "/incidents/"+incResolved, http.StatusOK)
	require.Contains(t, resolved, `id="form-close"`)
	require.Contains(t, resolved, "Post-mortem (Markdown)")
	require.NotContains(t, resolved, `id="form-resolve"`)
	require.Contains(t, e.get(t, "/incidents/inc_missing", http.StatusNotFound), "incident not found")
}

func TestDashboardDisabledKeepsJSONIndex(t *testing.T) {
	h, _ := newServerWithToken(t, "")
	code, body := call(t, h, http.MethodGet, "/", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "mahavishnu incident manager", body["service"])
}

func (e *dashEnv) form(kv ...string) url.Values {
	v := url.Values{"csrf": {e.csrf}}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			v.Del(kv[i])
			continue
		}
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func TestDashboardActionsAuthAndCSRF(t *testing.T) {
	remote := func(r *http.Request) { r.RemoteAddr = "10.1.2.3:5000" }
	for name, tc := range map[string]struct {
		token  string
		path   string
		form   []string
		mod    func(*http.Request)
		status int
		errMsg string
	}{
		"loopback without token":   {path: "acknowledge", form: []string{"by", "carol"}, status: http.StatusSeeOther},
		"remote without token":     {path: "acknowledge", form: []string{"by", "carol"}, mod: remote, status: http.StatusForbidden, errMsg: "loopback"},
		"missing csrf":             {path: "acknowledge", form: []string{"by", "carol", "csrf", ""}, status: http.StatusForbidden, errMsg: "form token"},
		"wrong csrf":               {path: "acknowledge", form: []string{"by", "carol", "csrf", "00"}, status: http.StatusForbidden, errMsg: "form token"},
		"cross-site origin":        {path: "acknowledge", form: []string{"by", "carol"}, mod: func(r *http.Request) { r.Header.Set("Origin", "http://evil.test") }, status: http.StatusForbidden, errMsg: "Origin"},
		"same origin":              {path: "acknowledge", form: []string{"by", "carol"}, mod: func(r *http.Request) { r.Header.Set("Origin", "http://localhost:8080") }, status: http.StatusSeeOther},
		"DNS-rebound host":         {path: "acknowledge", form: []string{"by", "carol"}, mod: func(r *http.Request) { r.Host = "evil.test:8080"; r.Header.Set("Origin", "http://evil.test:8080") }, status: http.StatusForbidden, errMsg: "localhost or 127.0.0.1"},
		"token set, no session":    {token: "s3cret", path: "acknowledge", form: []string{"by", "carol"}, status: http.StatusUnauthorized, errMsg: "/login"},
		"token set, token in form": {token: "s3cret", path: "acknowledge", form: []string{"by", "carol", "token", "s3cret"}, mod: remote, status: http.StatusUnauthorized},
		"token set, raw token cookie": {token: "s3cret", path: "acknowledge", form: []string{"by", "carol"}, mod: func(r *http.Request) {
			r.AddCookie(&http.Cookie{Name: sessionCookie, Value: "s3cret"})
		}, status: http.StatusUnauthorized},
		"name required":           {path: "acknowledge", form: []string{"by", "  "}, status: http.StatusBadRequest, errMsg: "your name"},
		"assignee required":       {path: "assign", form: []string{"by", "carol"}, status: http.StatusBadRequest, errMsg: "assignee"},
		"mitigate unknown action": {path: "mitigate", form: []string{"by", "carol", "action", "rm_rf"}, status: http.StatusBadRequest, errMsg: "not a recommended action"},
		"unknown incident":        {path: "../inc_missing/acknowledge", form: []string{"by", "carol"}, status: http.StatusNotFound},
	} {
		t.Run(name, func(t *testing.T) {
			e := newDashEnv(t, tc.token)
			path := "/incidents/" + incAPI + "/" + tc.path
			if strings.HasPrefix(tc.path, "../") {
				path = "/incidents/" + strings.TrimPrefix(tc.path, "../")
			}
			rec := e.request(t, http.MethodPost, path, e.form(tc.form...), tc.mod)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			require.NotContains(t, rec.Body.String(), "s3cret", "the token is never echoed")
			require.Contains(t, rec.Body.String(), tc.errMsg)
			if tc.status != http.StatusSeeOther {
				require.Empty(t, e.tc.sent(), "a refused form sends nothing to Temporal")
				return
			}
			require.Equal(t, "/incidents/"+incAPI, rec.Header().Get("Location"))
			require.Len(t, e.tc.sent(), 1)
		})
	}
}

// follow returns the page the redirect leads to, with the flash cookie.
func (e *dashEnv) follow(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	next := e.request(t, http.MethodGet, rec.Header().Get("Location"), nil, func(r *http.Request) {
		for _, c := range rec.Result().Cookies() {
			r.AddCookie(c)
		}
	})
	require.Equal(t, http.StatusOK, next.Code)
	return next.Body.String()
}

func TestDashboardActionsReachTheWorkflow(t *testing.T) {
	for name, tc := range map[string]struct {
		path, update, flash string
		form                []string
		arg                 any
	}{
		"acknowledge": {"acknowledge", schemas.UpdateAcknowledge, "Acknowledged by carol.", []string{"by", "carol"}, schemas.Acknowledge{By: "carol"}},
		"assign":      {"assign", schemas.UpdateAssign, "Assigned to dave by carol.", []string{"by", "carol", "assignee", "dave"}, schemas.Assign{To: "dave", By: "carol"}},
		"resolve": {"resolve", schemas.UpdateResolve, "Resolved by carol.", []string{"by", "carol", "notes", "scaled up"},
			schemas.Resolve{By: "carol", Notes: "scaled up"}},
		"approve": {"approve", schemas.UpdateApprove, "Approved restart_service (carol).",
			[]string{"by", "carol", "action", "restart_service", "reason", "safe now"},
			schemas.ApprovalDecision{Action: "restart_service", By: "carol", Reason: "safe now"}},
		"reject": {"reject", schemas.UpdateReject, "Rejected restart_service (carol).",
			[]string{"by", "carol", "action", "restart_service"}, schemas.ApprovalDecision{Action: "restart_service", By: "carol"}},
		"mitigate": {"mitigate", schemas.UpdateMitigate, "restart_service succeeded (run by carol).",
			[]string{"by", "carol", "action", "restart_service", "approved_by", "erin"},
			schemas.Mitigate{Action: "restart_service", Actor: "carol", ApprovedBy: "erin"}},
	} {
		t.Run(name, func(t *testing.T) {
			e := newDashEnv(t, "")
			rec := e.request(t, http.MethodPost, "/incidents/"+incAPI+"/"+tc.path, e.form(tc.form...), nil)
			page := e.follow(t, rec)
			require.Contains(t, page, `<p class="flash ok" role="status" id="flash">`+tc.flash+`</p>`)
			sent := e.tc.sent()
			require.Len(t, sent, 1)
			require.Equal(t, tc.update, sent[0].UpdateName)
			require.Equal(t, "incident/error_burst/api", sent[0].WorkflowID)
			require.Equal(t, []any{tc.arg}, sent[0].Args)
		})
	}
}

func TestDashboardShowsRefusalReason(t *testing.T) {
	e := newDashEnv(t, "")
	e.tc.refuse = "incident inc_api_critical is already acknowledged by alice"
	rec := e.request(t, http.MethodPost, "/incidents/"+incAPI+"/acknowledge", e.form("by", "carol"), nil)
	page := e.follow(t, rec)
	require.Contains(t, page, `class="flash error"`)
	require.Contains(t, page, "Refused: incident inc_api_critical is already acknowledged by alice")

	closed := e.request(t, http.MethodPost, "/incidents/"+incAPI+"/close", e.form("by", "carol"), nil)
	require.Contains(t, e.follow(t, closed), "Refused: incident inc_api_critical is investigating")
}

func TestDashboardLogin(t *testing.T) {
	e := newDashEnv(t, "s3cret")
	rec := e.request(t, http.MethodPost, "/login", e.form("token", "wrong"), nil)
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	require.Contains(t, rec.Body.String(), "Wrong token.")
	require.Empty(t, rec.Result().Cookies())

	rec = e.request(t, http.MethodPost, "/login", e.form("token", "s3cret", "csrf", ""), nil)
	require.Equal(t, http.StatusForbidden, rec.Code, "login needs the form token too")

	rec = e.request(t, http.MethodPost, "/login", e.form("token", "s3cret"), nil)
	require.Equal(t, http.StatusSeeOther, rec.Code)
	var sc *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == sessionCookie {
			sc = c
		}
	}
	require.NotNil(t, sc)
	require.True(t, sc.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, sc.SameSite)
	require.False(t, sc.Secure, "plain HTTP without an https public_url")
	require.NotContains(t, sc.Value, "s3cret", "the cookie holds a session ID, never the token")
	page := e.request(t, http.MethodGet, "/incidents/"+incAPI, nil, func(r *http.Request) { r.AddCookie(sc) })
	require.Equal(t, http.StatusOK, page.Code)
	require.NotContains(t, page.Body.String(), `name="token"`, "logged in: the forms need no token field")
	require.Contains(t, page.Body.String(), `<span id="who">api.token (admin)</span>`)
}

func TestDashboardExports(t *testing.T) {
	e := newDashEnv(t, "")
	rec := e.request(t, http.MethodGet, "/incidents/"+incDB+"/export?format=json", nil, nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, `attachment; filename="inc_db_high.json"`, rec.Header().Get("Content-Disposition"))
	var ex IncidentExport
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &ex))
	require.Equal(t, incDB, ex.Incident.IncidentID)
	require.Len(t, ex.Timeline, 2)
	require.Len(t, ex.Actions, 1)
	require.Equal(t, "http://temporal.test/workflows/incident/db/database/", ex.TemporalURL)

	for name, tc := range map[string]struct{ id, want string }{
		"summary when no post-mortem": {incDB, "# Incident inc_db_high: Database connections failing"},
		"the stored post-mortem":      {incResolved, "# Post-mortem: Cache misses\n"},
	} {
		t.Run(name, func(t *testing.T) {
			rec := e.request(t, http.MethodGet, "/incidents/"+tc.id+"/export?format=md", nil, nil)
			require.Equal(t, http.StatusOK, rec.Code)
			require.True(t, strings.HasPrefix(rec.Body.String(), tc.want), rec.Body.String())
			require.Equal(t, "text/markdown; charset=utf-8", rec.Header().Get("Content-Type"))
		})
	}
	summary := e.request(t, http.MethodGet, "/incidents/"+incDB+"/export?format=md", nil, nil).Body.String()
	require.Contains(t, summary, "| Acknowledged by | alice |")
	require.Contains(t, summary, "| scale_up | succeeded | workflow | - |")

	rec = e.request(t, http.MethodGet, "/export?format=json&status=all&since=4h", nil, nil)
	require.Equal(t, http.StatusOK, rec.Code)
	var list struct{ Incidents []schemas.Incident }
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
	require.Len(t, list.Incidents, 3)

	rec = e.request(t, http.MethodGet, "/export?format=csv&component=api", nil, nil)
	require.Equal(t, http.StatusOK, rec.Code)
	records, err := csv.NewReader(rec.Body).ReadAll()
	require.NoError(t, err)
	require.Len(t, records, 3, "header and the two active api incidents")
	require.Equal(t, "incident_id", records[0][0])
	require.Equal(t, []string{incAPI, "critical", "investigating", "error_burst"}, records[1][:4])

	for _, path := range []string{"/export?format=xml", "/incidents/" + incDB + "/export?format=pdf", "/export?format=csv&severity=bad"} {
		require.Contains(t, e.get(t, path, http.StatusBadRequest), "want", path)
	}
	e.get(t, "/incidents/inc_missing/export?format=json", http.StatusNotFound)
}

func TestDashboardCSRFToken(t *testing.T) {
	st, err := store.Open(context.Background(), "sqlite:///incidents.db", t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	csrf := func(token string) string {
		d, err := NewDashboard(DashboardDeps{Store: st, Token: token})
		require.NoError(t, err)
		require.Len(t, d.csrf, 64)
		return d.csrf
	}
	require.Equal(t, csrf("s3cret"), csrf("s3cret"), "replicas sharing api.token accept each other's forms")
	require.NotEqual(t, csrf("s3cret"), csrf("other"))
	require.NotEqual(t, csrf(""), csrf(""), "without a token the form token is random per process")
}
