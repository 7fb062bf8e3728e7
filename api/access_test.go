package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/auth"
	"github.com/mahavishnu/mahavishnu/manager"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// accessEnv is a server over a seeded store with one token per role, plus a bad, a
// revoked and an expired one.
type accessEnv struct {
	h        http.Handler
	st       *store.Store
	tc       *updateFake
	tokens   map[string]string // credential name -> bearer token
	declared int
}

var credentialNames = []string{"none", "bad", "revoked", "expired", "viewer", "ingest", "responder", "approver", "admin"}

func issue(t *testing.T, st *store.Store, name string, role auth.Role, expires *time.Time) string {
	t.Helper()
	secret, id, err := auth.NewToken()
	require.NoError(t, err)
	require.NoError(t, st.InsertToken(context.Background(), store.APIToken{ID: id, Name: name, Role: string(role), Hash: auth.Hash(secret),
		CreatedAt: time.Now().Add(-2 * time.Hour), ExpiresAt: expires}))
	return secret
}

func newAccessEnv(t *testing.T) *accessEnv {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:///incidents.db", t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	seedDashboard(t, st)
	_, err = st.SeedRules(ctx, schemas.DefaultRules(), time.Now())
	require.NoError(t, err)
	e := &accessEnv{st: st, tc: &updateFake{}, tokens: map[string]string{"bad": auth.TokenPrefix + "not-a-token"}}
	for _, r := range []auth.Role{auth.Viewer, auth.Ingest, auth.Responder, auth.Approver, auth.Admin} {
		e.tokens[string(r)] = issue(t, st, string(r)+"-user", r, nil)
	}
	e.tokens["revoked"] = issue(t, st, "gone", auth.Admin, nil)
	_, err = st.RevokeTokens(ctx, "gone", time.Now())
	require.NoError(t, err)
	past := time.Now().Add(-time.Hour)
	e.tokens["expired"] = issue(t, st, "old", auth.Admin, &past)
	m, err := manager.New(manager.Options{Store: st, Client: e.tc, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	e.h = New(Options{Manager: m, Logger: slog.New(slog.DiscardHandler),
		Declare: func(context.Context, DeclareRequest) (schemas.IncidentInput, error) {
			e.declared++
			return schemas.IncidentInput{IncidentID: "inc_declared"}, nil
		},
		Dashboard: DashboardOptions{Enabled: true, Actions: func(context.Context, *schemas.Incident) []ActionChoice {
			return []ActionChoice{{ID: "clear_cache", Safe: true}, {ID: "restart_service"}}
		}},
	}).Handler()
	return e
}

// state is everything a write could change, to check that a refusal changed nothing.
func (e *accessEnv) state(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	n, err := e.st.CountEvents(ctx, store.EventFilter{})
	require.NoError(t, err)
	rules, err := e.st.RuleRecords(ctx)
	require.NoError(t, err)
	sils, err := e.st.Silences(ctx, time.Now(), true)
	require.NoError(t, err)
	incs, err := e.st.ListIncidents(ctx, store.IncidentFilter{})
	require.NoError(t, err)
	b, err := json.Marshal([]any{n, rules, len(sils), incs, len(e.tc.sent()), e.declared})
	require.NoError(t, err)
	return string(b)
}

func (e *accessEnv) call(t *testing.T, cred, method, path, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr, req.Host = "127.0.0.1:40000", "127.0.0.1:8080"
	req.Header.Set("Content-Type", "application/json")
	if tok := e.tokens[cred]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

type writeCase struct {
	name, method, path, body string
	perm                     auth.Permission
}

func writeEndpoints() []writeCase {
	ev := `{"event_type":"error","source":"api","severity":"HIGH"}`
	r := schemas.DefaultRules()[0]
	r.ID, r.Name = "custom_x", "Custom X"
	rb, _ := json.Marshal(map[string]any{"rule": r})
	rule := string(rb)
	return []writeCase{
		{"events", "POST", "/api/v1/events", ev, auth.PostEvents},
		{"alertmanager", "POST", "/api/v1/alertmanager", `{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"Breach","event_type":"security_breach","service":"gateway","severity":"critical"},"fingerprint":"f1"}]}`, auth.PostEvents},
		{"acknowledge", "POST", "/api/v1/incidents/" + incAPI + "/acknowledge", `{}`, auth.Respond},
		{"assign", "POST", "/api/v1/incidents/" + incAPI + "/assign", `{"to":"dave"}`, auth.Respond},
		{"resolve", "POST", "/api/v1/incidents/" + incAPI + "/resolve", `{"notes":"ok"}`, auth.Respond},
		{"close", "POST", "/api/v1/incidents/" + incResolved + "/close", `{}`, auth.Respond},
		{"update", "POST", "/api/v1/incidents/" + incAPI + "/update", `{"note":"looking"}`, auth.Respond},
		{"mitigate safe", "POST", "/api/v1/incidents/" + incAPI + "/mitigate", `{"action":"clear_cache"}`, auth.Respond},
		{"approve", "POST", "/api/v1/incidents/" + incAPI + "/approve", `{"action":"restart_service"}`, auth.Approve},
		{"reject", "POST", "/api/v1/incidents/" + incAPI + "/reject", `{"action":"restart_service"}`, auth.Approve},
		{"declare", "POST", "/api/v1/incidents", `{"type":"error_burst","severity":"high","title":"t"}`, auth.Respond},
		{"create rule", "POST", "/api/v1/rules", rule, auth.Administer},
		{"patch rule", "PATCH", "/api/v1/rules/error_burst", `{"threshold":42}`, auth.Administer},
		{"disable rule", "POST", "/api/v1/rules/error_burst/disable", `{}`, auth.Administer},
		{"enable rule", "POST", "/api/v1/rules/error_burst/enable", `{}`, auth.Administer},
		{"create silence", "POST", "/api/v1/silences", `{"matchers":["source=api"],"duration":"1h","comment":"deploy"}`, auth.Respond},
	}
}

// TestWriteEndpointsByRoleAndCredential runs every write endpoint with every credential:
// no token, a bad, a revoked and an expired token, and a token of each role.
func TestWriteEndpointsByRoleAndCredential(t *testing.T) {
	for _, wc := range writeEndpoints() {
		for _, cred := range credentialNames {
			t.Run(wc.name+"/"+cred, func(t *testing.T) {
				e := newAccessEnv(t)
				before := e.state(t)
				code, body := e.call(t, cred, wc.method, wc.path, wc.body)
				role, isRole := auth.ParseRole(cred)
				switch {
				case isRole != nil: // none, bad, revoked, expired
					require.Equal(t, http.StatusUnauthorized, code, body)
				case !role.Can(wc.perm):
					require.Equal(t, http.StatusForbidden, code, body)
					require.Contains(t, body, "may not")
				default:
					require.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, code, body)
					require.Less(t, code, 300, body)
					require.NotEqual(t, before, e.state(t), "an allowed write changes something")
					return
				}
				require.Equal(t, before, e.state(t), "a refused write changes nothing")
				rows, err := e.st.Audit(context.Background(), store.AuditFilter{Result: store.AuditDenied})
				require.NoError(t, err)
				require.Len(t, rows, 1, "the refusal is audited")
				require.Equal(t, wc.method+" "+strings.NewReplacer(incAPI, "{id}", incResolved, "{id}", "error_burst", "{id}").Replace(wc.path), rows[0].Action)
			})
		}
	}
}

func TestReadsNeedATokenOnceOneExists(t *testing.T) {
	e := newAccessEnv(t)
	for _, path := range []string{"/api/v1/incidents", "/api/v1/events", "/api/v1/incidents/" + incAPI + "/timeline", "/api/v1/rules", "/metrics"} {
		code, _ := e.call(t, "none", "GET", path, "")
		require.Equal(t, http.StatusUnauthorized, code, path)
		code, _ = e.call(t, "ingest", "GET", path, "")
		require.Equal(t, http.StatusForbidden, code, path)
		code, _ = e.call(t, "viewer", "GET", path, "")
		require.Equal(t, http.StatusOK, code, path)
	}
	code, _ := e.call(t, "none", "GET", "/healthz", "")
	require.NotEqual(t, http.StatusUnauthorized, code, "health stays open for probes")
	code, _ = e.call(t, "approver", "GET", "/api/v1/audit", "")
	require.Equal(t, http.StatusForbidden, code, "the audit log is for admins")
	code, _ = e.call(t, "admin", "GET", "/api/v1/audit", "")
	require.Equal(t, http.StatusOK, code)
}

func TestActorIsTheIdentity(t *testing.T) {
	e := newAccessEnv(t)
	code, body := e.call(t, "responder", "POST", "/api/v1/incidents/"+incAPI+"/acknowledge", `{"by":"mallory"}`)
	require.Equal(t, http.StatusForbidden, code, body)
	require.Contains(t, body, `authenticated as \"responder-user\"`)

	code, body = e.call(t, "responder", "POST", "/api/v1/incidents/"+incAPI+"/acknowledge", `{}`)
	require.Equal(t, http.StatusOK, code, body)
	sent := e.tc.sent()
	require.Equal(t, []any{schemas.Acknowledge{By: "responder-user"}}, sent[len(sent)-1].Args, "the token's name is the actor")

	// A responder may not approve, not even through mitigate --approved-by.
	code, body = e.call(t, "responder", "POST", "/api/v1/incidents/"+incAPI+"/approve", `{"action":"restart_service"}`)
	require.Equal(t, http.StatusForbidden, code, body)
	code, body = e.call(t, "responder", "POST", "/api/v1/incidents/"+incAPI+"/mitigate", `{"action":"restart_service","approved_by":"responder-user"}`)
	require.Equal(t, http.StatusForbidden, code, body)
	require.Contains(t, body, "may not approve")
	// An approver may not approve in someone else's name.
	code, body = e.call(t, "approver", "POST", "/api/v1/incidents/"+incAPI+"/mitigate", `{"action":"restart_service","approved_by":"bob"}`)
	require.Equal(t, http.StatusForbidden, code, body)
	require.Contains(t, body, "cannot approve in the name of")
	n := len(e.tc.sent())
	code, body = e.call(t, "approver", "POST", "/api/v1/incidents/"+incAPI+"/mitigate", `{"action":"restart_service","approved_by":"approver-user"}`)
	require.Equal(t, http.StatusOK, code, body)
	sent = e.tc.sent()
	require.Len(t, sent, n+1)
	require.Equal(t, []any{schemas.Mitigate{Action: "restart_service", Actor: "approver-user", ApprovedBy: "approver-user"}}, sent[n].Args)

	rows, err := e.st.Audit(context.Background(), store.AuditFilter{Actor: "approver-user"})
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Equal(t, store.AuditDenied, rows[0].Result)
	require.Equal(t, store.AuditAllowed, rows[1].Result)
	require.True(t, rows[1].Authenticated)
	require.Equal(t, incAPI, rows[1].IncidentID)
	require.Equal(t, "127.0.0.1:40000", rows[1].RemoteAddr)
}

// TestNoTokenLoopbackMode is the quickstart: no token exists, loopback JSON writes pass
// with self-asserted names, marked unauthenticated; browser-forgeable requests do not.
func TestNoTokenLoopbackMode(t *testing.T) {
	e := newDashEnv(t, "")
	post := func(path, body string, mod func(*http.Request)) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.RemoteAddr, req.Host = "127.0.0.1:40000", "127.0.0.1:8080"
		req.Header.Set("Content-Type", "application/json")
		if mod != nil {
			mod(req)
		}
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		return rec
	}
	for name, tc := range map[string]struct {
		mod  func(*http.Request)
		code int
	}{
		"cross-origin text/plain": {func(r *http.Request) {
			r.Header.Set("Content-Type", "text/plain")
			r.Header.Set("Origin", "http://evil.test")
		}, http.StatusForbidden},
		"text/plain":            {func(r *http.Request) { r.Header.Set("Content-Type", "text/plain;charset=UTF-8") }, http.StatusUnsupportedMediaType},
		"form":                  {func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") }, http.StatusUnsupportedMediaType},
		"foreign origin":        {func(r *http.Request) { r.Header.Set("Origin", "http://evil.test") }, http.StatusForbidden},
		"DNS-rebound host":      {func(r *http.Request) { r.Host = "evil.test:8080" }, http.StatusForbidden},
		"remote peer":           {func(r *http.Request) { r.RemoteAddr = "10.0.0.9:1234" }, http.StatusForbidden},
		"same-origin JSON":      {func(r *http.Request) { r.Header.Set("Origin", "http://127.0.0.1:8080") }, http.StatusCreated},
		"CLI (JSON, no Origin)": {nil, http.StatusCreated},
	} {
		t.Run(name, func(t *testing.T) {
			before, err := e.st.Silences(context.Background(), time.Now(), true)
			require.NoError(t, err)
			rec := post("/api/v1/silences", `{"matchers":["source=api"],"duration":"1h","created_by":"carol"}`, tc.mod)
			require.Equal(t, tc.code, rec.Code, rec.Body.String())
			after, err := e.st.Silences(context.Background(), time.Now(), true)
			require.NoError(t, err)
			if tc.code == http.StatusCreated {
				require.Len(t, after, len(before)+1)
			} else {
				require.Len(t, after, len(before), "nothing stored")
			}
		})
	}
	// Reads from beyond loopback are served; the names of loopback writes are marked.
	req := httptest.NewRequest("GET", "/api/v1/incidents", nil)
	req.RemoteAddr = "10.0.0.9:1234"
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code)

	rec = post("/api/v1/incidents/"+incAPI+"/acknowledge", `{"by":"carol"}`, nil)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	tl, err := e.st.Timeline(context.Background(), incAPI)
	require.NoError(t, err)
	last := tl[len(tl)-1]
	require.Equal(t, TimelineUnauthenticated, last.Kind)
	require.Equal(t, "carol", last.Actor)
	require.Contains(t, last.Message, "self-asserted")
	rows, err := e.st.Audit(context.Background(), store.AuditFilter{Actor: "carol", IncidentID: incAPI})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.False(t, rows[0].Authenticated)
}

// session logs in with the credential's token and returns the session cookie and the
// session's CSRF token (empty when the login failed).
func (e *accessEnv) login(t *testing.T, cred string) (*http.Cookie, string) {
	t.Helper()
	page := e.page(t, "GET", "/login", nil, nil)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page.Body.String())
	require.NotNil(t, m, page.Body.String())
	rec := e.page(t, "POST", "/login", url.Values{"csrf": {m[1]}, "token": {e.tokens[cred]}}, nil)
	var sc *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == sessionCookie && c.MaxAge > 0 {
			sc = c
		}
	}
	if sc == nil {
		return nil, ""
	}
	require.NotContains(t, sc.Value, e.tokens[cred], "the cookie never holds the token")
	require.NotContains(t, rec.Header().Get("Set-Cookie"), e.tokens[cred])
	require.True(t, sc.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, sc.SameSite)
	inc := e.page(t, "GET", "/incidents/"+incAPI, nil, sc)
	require.Equal(t, http.StatusOK, inc.Code)
	if m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(inc.Body.String()); m != nil {
		return sc, m[1]
	}
	return sc, ""
}

func (e *accessEnv) page(t *testing.T, method, path string, form url.Values, cookie *http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	var body string
	if form != nil {
		body = form.Encode()
	}
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr, req.Host = "127.0.0.1:40000", "localhost:8080"
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

// TestDashboardActionsByRoleAndCredential runs every dashboard action with a session of
// each role and with no, a bad, a revoked and an expired session.
func TestDashboardActionsByRoleAndCredential(t *testing.T) {
	actions := []struct {
		name   string
		form   url.Values
		perm   auth.Permission
		target string
	}{
		{"acknowledge", url.Values{}, auth.Respond, incAPI},
		{"assign", url.Values{"assignee": {"dave"}}, auth.Respond, incAPI},
		{"mitigate", url.Values{"action": {"clear_cache"}}, auth.Respond, incAPI},
		{"mitigate", url.Values{"action": {"restart_service"}, "approve": {"1"}}, auth.Approve, incAPI},
		{"resolve", url.Values{"notes": {"done"}}, auth.Respond, incAPI},
		{"close", url.Values{}, auth.Respond, incResolved},
		{"approve", url.Values{"action": {"restart_service"}}, auth.Approve, incAPI},
		{"reject", url.Values{"action": {"restart_service"}, "reason": {"not now"}}, auth.Approve, incAPI},
	}
	for _, a := range actions {
		for _, cred := range credentialNames {
			t.Run(fmt.Sprintf("%s %v/%s", a.name, a.form, cred), func(t *testing.T) {
				e := newAccessEnv(t)
				var cookie *http.Cookie
				csrf := "x"
				switch cred {
				case "none":
				case "bad":
					cookie = &http.Cookie{Name: sessionCookie, Value: "forged"}
				case "revoked", "expired":
					// A session opened before the token was revoked or expired.
					cookie, csrf = e.login(t, "admin")
					require.NotNil(t, cookie)
					if cred == "revoked" {
						_, err := e.st.RevokeTokens(context.Background(), "admin-user", time.Now())
						require.NoError(t, err)
					} else {
						require.NoError(t, e.st.DeleteSession(context.Background(), auth.Hash(cookie.Value)))
						require.NoError(t, e.st.InsertSession(context.Background(), store.Session{Hash: auth.Hash(cookie.Value), Name: "admin-user",
							Role: "admin", TokenID: "x", CSRF: csrf, CreatedAt: time.Now().Add(-2 * time.Hour), ExpiresAt: time.Now().Add(-time.Hour)}))
					}
				default:
					cookie, csrf = e.login(t, cred)
				}
				before := e.state(t)
				form := url.Values{"csrf": {csrf}}
				for k, v := range a.form {
					form[k] = v
				}
				rec := e.page(t, "POST", "/incidents/"+a.target+"/"+a.name, form, cookie)
				role, err := auth.ParseRole(cred)
				switch {
				case cred == "ingest":
					require.Nil(t, cookie, "an ingest token cannot log in to the dashboard")
					require.Equal(t, http.StatusForbidden, rec.Code, rec.Body.String())
				case err != nil:
					require.Contains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, rec.Code, rec.Body.String())
				case !role.Can(a.perm):
					require.Equal(t, http.StatusForbidden, rec.Code, rec.Body.String())
				default:
					require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
					require.NotEqual(t, before, e.state(t), "the action reached the workflow or the store")
					rows, err := e.st.Audit(context.Background(), store.AuditFilter{Result: store.AuditAllowed, IncidentID: a.target})
					require.NoError(t, err)
					require.Len(t, rows, 1, "the action is audited")
					require.Equal(t, string(role)+"-user", rows[0].Actor)
					return
				}
				require.Equal(t, before, e.state(t), "a refused action changes nothing")
				rows, err2 := e.st.Audit(context.Background(), store.AuditFilter{Result: store.AuditDenied, IncidentID: a.target})
				require.NoError(t, err2)
				require.Len(t, rows, 1, "the refusal is audited")
			})
		}
	}
}

func TestDashboardSessionCSRFAndHeaders(t *testing.T) {
	e := newAccessEnv(t)
	cookie, csrf := e.login(t, "responder")
	require.NotEmpty(t, csrf)
	// CSRF missing or wrong: refused, nothing sent.
	for _, bad := range []string{"", "nope"} {
		rec := e.page(t, "POST", "/incidents/"+incAPI+"/acknowledge", url.Values{"csrf": {bad}}, cookie)
		require.Equal(t, http.StatusForbidden, rec.Code)
		require.Contains(t, rec.Body.String(), "form token")
	}
	require.Empty(t, e.tc.sent())

	page := e.page(t, "GET", "/incidents/"+incAPI, nil, cookie)
	h := page.Header()
	require.Equal(t, "DENY", h.Get("X-Frame-Options"))
	require.Equal(t, "same-origin", h.Get("Referrer-Policy"))
	require.Contains(t, h.Get("Content-Security-Policy"), "script-src 'self'")
	require.NotContains(t, h.Get("Content-Security-Policy"), "unsafe-inline")
	body := page.Body.String()
	require.NotContains(t, body, "<script>", "no inline script")
	require.Contains(t, body, `id="form-acknowledge"`)
	require.NotContains(t, body, "restart_service", "a responder is not offered unsafe actions")
	require.NotContains(t, body, `name="by"`, "the actor is the session's identity")

	viewerCookie, viewerCSRF := e.login(t, "viewer")
	require.NotNil(t, viewerCookie)
	body = e.page(t, "GET", "/incidents/"+incAPI, nil, viewerCookie).Body.String()
	require.NotContains(t, body, `id="form-`, "a viewer sees no action forms")
	require.NotContains(t, body, `id="actions"`)

	// Without a session the dashboard sends the browser to /login.
	rec := e.page(t, "GET", "/", nil, nil)
	require.Equal(t, http.StatusSeeOther, rec.Code)
	require.Equal(t, "/login", rec.Header().Get("Location"))

	// Logout ends the session server-side.
	rec = e.page(t, "POST", "/logout", url.Values{"csrf": {viewerCSRF}}, viewerCookie)
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	rec = e.page(t, "GET", "/", nil, viewerCookie)
	require.Equal(t, http.StatusSeeOther, rec.Code, "the old cookie no longer works")
}
