package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/auth"
	"github.com/mahavishnu/mahavishnu/manager"
	"github.com/mahavishnu/mahavishnu/oncall"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// contract sends real requests to the real handlers and validates each request and its
// answer against the OpenAPI document, recording which operations were exercised.
type contract struct {
	t      *testing.T
	h      http.Handler
	doc    *openapi3.T
	router routers.Router
	seen   map[string]bool
}

func newContract(t *testing.T, h http.Handler) *contract {
	t.Helper()
	// The iCalendar feed is text: its schema is a string.
	openapi3filter.RegisterBodyDecoder("text/calendar", func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		b, err := io.ReadAll(body)
		return string(b), err
	})
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPIDocument)
	require.NoError(t, err)
	require.True(t, doc.IsOpenAPI31OrLater())
	require.NoError(t, doc.Validate(context.Background()), "the document itself must be valid")
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	return &contract{t: t, h: h, doc: doc, router: router, seen: map[string]bool{}}
}

// do sends one request. validRequest says whether the document must accept it (a request
// the handler rejects, such as a missing field, must be rejected by the document too when
// the document can say so). The answer must always match the document.
func (c *contract) do(method, path, body string, validRequest bool, wantCode int) []byte {
	c.t.Helper()
	return c.doWith(method, path, body, nil, validRequest, wantCode)
}

// doWith is do with request headers (Authorization, Content-Type) set or overridden.
func (c *contract) doWith(method, path, body string, header map[string]string, validRequest bool, wantCode int) []byte {
	c.t.Helper()
	return c.send(method, path, body, header, func(reqErr error) {
		if validRequest {
			require.NoError(c.t, reqErr, "%s %s %s: request does not match the document", method, path, body)
		} else {
			require.Error(c.t, reqErr, "%s %s %s: the document accepts a request the handler rejects", method, path, body)
		}
	}, wantCode)
}

// refused sends a request refused before its handler runs (401, 403): whether the
// document accepts it does not matter, its answer must match the document.
func (c *contract) refused(method, path, body string, header map[string]string, wantCode int) []byte {
	c.t.Helper()
	return c.send(method, path, body, header, func(error) {}, wantCode)
}

func (c *contract) send(method, path, body string, header map[string]string, checkRequest func(error), wantCode int) []byte {
	c.t.Helper()
	ctx := context.Background()
	req := httptest.NewRequest(method, "http://127.0.0.1:8080"+path, strings.NewReader(body))
	req.RemoteAddr = "127.0.0.1:40000"
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	route, params, err := c.router.FindRoute(req)
	require.NoError(c.t, err, "%s %s is not in the OpenAPI document", method, path)
	c.seen[method+" "+route.Path] = true
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	checkRequest(openapi3filter.ValidateRequest(ctx, in))
	req.Body = io.NopCloser(strings.NewReader(body))
	if body == "" {
		req.Body = http.NoBody // as net/http serves a request without a body
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	require.Equal(c.t, wantCode, rec.Code, "%s %s: %s", method, path, rec.Body.String())
	err = openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: rec.Code, Header: rec.Header(), Body: io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	})
	require.NoError(c.t, err, "%s %s -> %d: answer does not match the document: %s", method, path, rec.Code, rec.Body.String())
	return rec.Body.Bytes()
}

func TestOpenAPIContract(t *testing.T) {
	h, _, m := newTestServer(t)
	c := newContract(t, h)
	ctx := context.Background()
	st := m.Store()

	c.do("GET", "/api/v1/openapi.json", "", true, 200)
	code := 200
	if m.Health().Status != "ok" {
		code = 503
	}
	c.do("GET", "/healthz", "", true, code)

	// Ingest, in its three forms, and a rejected event.
	ev := `{"event_type":"error","source":"api","severity":"HIGH","component":"db","metadata":{"k":1},"timestamp":"2026-12-01T10:00:00Z"}`
	c.do("POST", "/api/v1/events", ev, true, 202)
	c.do("POST", "/api/v1/events", "["+ev+`,{"type":"timeout","source":"web","severity":"medium","timestamp":1764583200}]`, true, 202)
	c.do("POST", "/api/v1/events", `{"events":[`+ev+`]}`, true, 202)
	c.do("POST", "/api/v1/events", `{"event_type":"error"}`, false, 400)
	c.do("GET", "/api/v1/events?last=5&source=api", "", true, 200)
	c.do("GET", "/api/v1/events?since=2h", "", true, 200)
	c.do("GET", "/api/v1/events?since=soon", "", true, 400)
	c.do("POST", "/api/v1/alertmanager", `{"version":"4","status":"firing","alerts":[
		{"status":"firing","labels":{"alertname":"Breach","event_type":"security_breach","service":"gateway","severity":"critical"},"fingerprint":"f1"}]}`, true, 202)

	// Incidents: a resolved one with a timeline, closed through the API.
	now := time.Now().UTC()
	inc := &schemas.Incident{IncidentID: "inc_contract", IncidentType: "error_burst", Severity: schemas.SeverityHigh,
		Status: schemas.StatusResolved, Title: "errors", Fingerprint: "error_burst/api", DetectedAt: now, ResolvedAt: &now,
		AffectedComponents: []string{"db"}, WorkflowID: "incident/error_burst/api", UpdatedAt: now}
	require.NoError(t, st.UpsertIncident(ctx, inc))
	require.NoError(t, st.AddTimeline(ctx, schemas.TimelineEntry{IncidentID: inc.IncidentID, At: now, Kind: schemas.TimelineNote, Actor: "alice", Message: "looking"}))
	c.do("GET", "/api/v1/incidents", "", true, 200)
	c.do("GET", "/api/v1/incidents?status=active&severity=high&limit=5&since=7d", "", true, 200)
	c.do("GET", "/api/v1/incidents?severity=urgent", "", true, 400)
	c.do("GET", "/api/v1/incidents/inc_contract", "", true, 200)
	c.do("GET", "/api/v1/incidents/inc_nope", "", true, 404)
	c.do("GET", "/api/v1/incidents/inc_contract/timeline", "", true, 200)
	c.do("POST", "/api/v1/incidents/inc_contract/close", `{"by":"alice"}`, true, 200)
	c.do("POST", "/api/v1/incidents/inc_contract/close", `{"by":"alice"}`, true, 409)
	c.do("POST", "/api/v1/incidents/inc_contract/close", `{}`, true, 400) // by: required without a token
	c.do("POST", "/api/v1/incidents/inc_contract/close", `{"by":"alice","to":1}`, false, 400)
	// Acknowledge, assign and resolve go to the incident's workflow (this test has no
	// Temporal: the integration tests run them); here their requests and refusals.
	c.do("POST", "/api/v1/incidents/inc_contract/acknowledge", `{"by":"alice","note":"x"}`, false, 400)
	c.do("POST", "/api/v1/incidents/inc_contract/assign", `{"by":"alice"}`, true, 400)
	c.do("POST", "/api/v1/incidents/inc_contract/resolve", `{"notes":"fixed"}`, true, 400)
	c.do("POST", "/api/v1/incidents/inc_contract/resolve", `{"by":"alice","notes":"fixed","note":"x"}`, false, 400)

	// Rules.
	c.do("GET", "/api/v1/rules", "", true, 200)
	c.do("GET", "/api/v1/rules?enabled=true", "", true, 200)
	c.do("GET", "/api/v1/rules/error_burst", "", true, 200)
	c.do("GET", "/api/v1/rules/nope", "", true, 404)
	c.do("POST", "/api/v1/rules", `{"by":"alice","rule":{"id":"disk_full","name":"Disk full","incident_type":"disk_full","severity":"high",
		"enabled":true,"threshold":2,"time_window_seconds":120,"event_types":["disk_full"],"group_by":"source"}}`, true, 201)
	c.do("PATCH", "/api/v1/rules/disk_full", `{"threshold":3,"require_consecutive":true,"by":"alice"}`, true, 200)
	c.do("PATCH", "/api/v1/rules/disk_full", `{"treshold":3,"by":"alice"}`, true, 400)
	c.do("POST", "/api/v1/rules/disk_full/disable", `{"by":"alice"}`, true, 200)
	c.do("POST", "/api/v1/rules/disk_full/enable", `{"by":"alice"}`, true, 200)
	c.do("GET", "/api/v1/rules/review?since=24h", "", true, 200)
	c.do("GET", "/api/v1/rules/review?since=24h&noisy_fires=1", "", true, 200)
	c.do("GET", "/api/v1/rules/review?noisy_fires=many", "", false, 400)
	c.do("GET", "/api/v1/rules/review?since=soon", "", true, 400)
	c.do("GET", "/api/v1/rules/error_burst/backtest?threshold=2&time_window=60&since=1h", "", true, 200)
	c.do("GET", "/api/v1/rules/nope/backtest", "", true, 404)

	// Silences.
	body := c.do("POST", "/api/v1/silences", `{"matchers":["source=api"],"duration":"2h","comment":"deploy","created_by":"alice"}`, true, 201)
	id := regexp.MustCompile(`"id": "([^"]+)"`).FindSubmatch(body)
	require.NotNil(t, id, string(body))
	c.do("POST", "/api/v1/silences", `{"matchers":["source=api"],"duration":"2h"}`, true, 400) // created_by, without a token
	c.do("POST", "/api/v1/silences", `{"matchers":[],"duration":"2h","created_by":"alice"}`, false, 400)
	c.do("GET", "/api/v1/silences", "", true, 200)
	c.do("GET", "/api/v1/silences?all=true", "", true, 200)
	c.do("GET", "/api/v1/silences/"+string(id[1]), "", true, 200)
	c.do("GET", "/api/v1/silences/sil_nope", "", true, 404)
	c.do("POST", "/api/v1/silences/"+string(id[1])+"/expire", `{"by":"bob"}`, true, 200)
	c.do("POST", "/api/v1/silences/"+string(id[1])+"/expire", `{"by":"bob"}`, true, 409)

	exerciseResponse(t, c, m)
	exerciseOnCall(t, c, m)

	// Every operation of the document was exercised.
	var missing []string
	for path, item := range c.doc.Paths.Map() {
		for method := range item.Operations() {
			if !c.seen[method+" "+path] {
				missing = append(missing, method+" "+path)
			}
		}
	}
	slices.Sort(missing)
	require.Empty(t, missing, "operations of the document no request exercised")
}

// TestOpenAPIListsEveryRoute reads the routes registered in server.go: each JSON route
// (under /api/ and /healthz) must be an operation of the document.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	src, err := os.ReadFile("server.go")
	require.NoError(t, err)
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPIDocument)
	require.NoError(t, err)
	routes := regexp.MustCompile(`handle\("([A-Z]+) (/(?:api/|healthz)[^"]*)"`).FindAllSubmatch(src, -1)
	require.Greater(t, len(routes), 20)
	var undocumented []string
	for _, r := range routes {
		method, path := string(r[1]), string(r[2])
		item := doc.Paths.Find(path)
		if item == nil || item.GetOperation(method) == nil {
			undocumented = append(undocumented, method+" "+path)
		}
	}
	require.Empty(t, undocumented, "routes missing from api/openapi.json: document them")
}

// exerciseResponse sends issue 10's responder operations and the audit log. The contract
// server has no Temporal: mitigate, approve, reject and update go to the incident's
// workflow, and declare needs its Temporal hook (Options.Declare), so here they are
// exercised through their validation errors and refusals (the integration and CLI tests
// run them against a real Temporal server). Approvals are queried through the manager's
// client, which here is the test's fake: it answers with none.
func exerciseResponse(t *testing.T, c *contract, m *manager.Manager) {
	// inc_contract is closed: each workflow operation is refused before it reaches Temporal.
	for _, tc := range []struct{ op, ok, invalid string }{
		{"mitigate", `{"action":"clear_cache","by":"alice"}`, `{"by":"alice"}`},
		{"approve", `{"action":"restart_service","reason":"ok","by":"bob"}`, `{"reason":"ok","by":"bob"}`},
		{"reject", `{"action":"restart_service","by":"bob"}`, `{"action":"restart_service","by":"bob","note":"x"}`},
		{"update", `{"status":"investigating","severity":"critical","title":"db","note":"n","by":"alice"}`, `{"severity":"urgent","by":"alice"}`},
	} {
		c.do("POST", "/api/v1/incidents/inc_contract/"+tc.op, tc.ok, true, 409)
		c.do("POST", "/api/v1/incidents/inc_nope/"+tc.op, tc.ok, true, 404)
		c.do("POST", "/api/v1/incidents/inc_contract/"+tc.op, tc.invalid, false, 400)
	}
	// Without a token, who does it must be named (with a token it is the token's name).
	c.do("POST", "/api/v1/incidents/inc_contract/mitigate", `{"action":"clear_cache"}`, true, 400)
	c.do("POST", "/api/v1/incidents/inc_contract/update", `{"note":"n"}`, true, 400)
	c.do("GET", "/api/v1/incidents/inc_nope/approvals", "", true, 404)
	c.do("GET", "/api/v1/incidents/inc_contract/approvals", "", true, 200)
	decl := `{"type":"error_burst","severity":"high","title":"db down","source":"ops","by":"alice"}`
	c.do("POST", "/api/v1/incidents", decl, true, 503) // no Declare hook: cannot declare

	// A server with a Declare hook validates the request before declaring; the hook must
	// not be reached by an invalid one.
	withDeclare := *c
	withDeclare.h = New(Options{Manager: m, Logger: slog.New(slog.DiscardHandler),
		Declare: func(context.Context, DeclareRequest) (schemas.IncidentInput, error) {
			t.Error("an invalid declaration reached the Declare hook")
			return schemas.IncidentInput{}, errors.New("not declared")
		}}).Handler()
	withDeclare.do("POST", "/api/v1/incidents", `{"type":"error_burst","severity":"urgent","title":"t","by":"alice"}`, false, 400)
	withDeclare.do("POST", "/api/v1/incidents", `{"severity":"high","title":"t","by":"alice"}`, false, 400)
	withDeclare.do("POST", "/api/v1/incidents", `{"type":"error_burst","severity":"high","title":"t"}`, true, 400) // by, without a token
	withDeclare.do("POST", "/api/v1/incidents", `{"type":"error_burst","severity":"high","title":"t","by":"alice","sev":1}`, false, 400)

	exerciseReads(t, c, m)

	// The audit log holds the writes above, refusals included.
	body := c.do("GET", "/api/v1/audit", "", true, 200)
	require.Contains(t, string(body), `"action": "POST /api/v1/incidents/{id}/mitigate"`)
	c.do("GET", "/api/v1/audit?since=1h&actor=alice&incident_id=inc_contract&result=failed&limit=10", "", true, 200)
	c.do("GET", "/api/v1/audit?since=soon", "", true, 400)
	c.do("GET", "/api/v1/audit?limit=many", "", false, 400)
}

// exerciseReads sends the CLI's reads of issue 10 (events, post-mortem, activity, action
// runs, incident aggregates), seeding through the store what each answers with.
func exerciseReads(t *testing.T, c *contract, m *manager.Manager) {
	ctx := context.Background()
	st := m.Store()
	now := time.Now().UTC().Truncate(time.Second)

	// Events attached to inc_contract, oldest first.
	evs := []schemas.Event{
		{EventID: "evt_contract_1", Timestamp: now.Add(-2 * time.Minute), EventType: "error", Source: "api", Severity: schemas.SeverityHigh,
			Message: "first", Metadata: map[string]any{"k": 1}, Component: "db"},
		{EventID: "evt_contract_2", Timestamp: now.Add(-time.Minute), EventType: "error", Source: "api", Severity: schemas.SeverityHigh, Component: "db"},
	}
	_, err := st.InsertEvents(ctx, evs, now)
	require.NoError(t, err)
	_, err = st.AttachEvents(ctx, "inc_contract", []string{"evt_contract_1", "evt_contract_2"})
	require.NoError(t, err)
	body := c.do("GET", "/api/v1/incidents/inc_contract/events", "", true, 200)
	require.Regexp(t, `(?s)"evt_contract_1".*"evt_contract_2"`, string(body))
	c.do("GET", "/api/v1/incidents/inc_nope/events", "", true, 404)

	// The post-mortem: 404 before one is written, for a missing incident, then 200.
	c.do("GET", "/api/v1/incidents/inc_contract/postmortem", "", true, 404)
	c.do("GET", "/api/v1/incidents/inc_nope/postmortem", "", true, 404)
	require.NoError(t, st.SavePostMortem(ctx, "inc_contract", "# Post-mortem\n\nerrors", now))
	body = c.do("GET", "/api/v1/incidents/inc_contract/postmortem", "", true, 200)
	require.Contains(t, string(body), `"incident_id": "inc_contract"`)
	require.Contains(t, string(body), `"written_at": "`)

	// Activity: the timeline entries across incidents.
	body = c.do("GET", "/api/v1/activity", "", true, 200)
	require.Contains(t, string(body), `"incident_id": "inc_contract"`)
	body = c.do("GET", "/api/v1/activity?incident_id=inc_contract&since=7d&kind="+schemas.TimelineNote+"&kind="+schemas.TimelineClosed+
		"&exclude_kind="+schemas.TimelineDetected+"&exclude_kind="+schemas.TimelineResolved+"&last=10", "", true, 200)
	require.Contains(t, string(body), `"message": "looking"`)
	c.do("GET", "/api/v1/activity?since=soon", "", true, 400)
	c.do("GET", "/api/v1/activity?last=many", "", false, 400)

	// Remediation action runs, with their incident.
	rec := schemas.ActionRecord{Action: "clear_cache", Attempt: 1, Actor: "alice", At: now}
	_, started, err := st.BeginAction(ctx, "inc_contract", rec)
	require.NoError(t, err)
	require.True(t, started)
	rec.Status, rec.Output, rec.DurationMS = "succeeded", "ok", 12
	require.NoError(t, st.FinishAction(ctx, "inc_contract", rec))
	body = c.do("GET", "/api/v1/actions", "", true, 200)
	require.Contains(t, string(body), `"incident_id": "inc_contract"`)
	require.Contains(t, string(body), `"action": "clear_cache"`)
	c.do("GET", "/api/v1/actions?incident_id=inc_contract&since=1h&last=5", "", true, 200)
	c.do("GET", "/api/v1/actions?since=soon", "", true, 400)
	c.do("GET", "/api/v1/actions?last=many", "", false, 400)

	// Incident aggregates.
	body = c.do("GET", "/api/v1/stats/groups", "", true, 200)
	require.Contains(t, string(body), `"incident_type": "error_burst"`)
	c.do("GET", "/api/v1/stats/groups?since=7d&severity=HIGH", "", true, 200)
	c.do("GET", "/api/v1/stats/groups?severity=urgent", "", true, 400)
	c.do("GET", "/api/v1/stats/groups?since=soon", "", true, 400)
}

// exerciseOnCall sends issue 11's people, schedules, overrides and heartbeats.
func exerciseOnCall(t *testing.T, c *contract, m *manager.Manager) {
	ctx := context.Background()
	c.do("GET", "/api/v1/people", "", true, 200)
	c.do("POST", "/api/v1/people", `{"name":"alice","email":"alice@example.com","slack_user":"U111","time_zone":"Europe/Berlin"}`, true, 201)
	c.do("POST", "/api/v1/people", `{"name":"bob","role":"approver","phone":"+15550100","chat_handle":"@bob"}`, true, 201)
	c.do("POST", "/api/v1/people", `{"name":"carol"}`, true, 201)
	c.do("POST", "/api/v1/people", `{"name":"bob"}`, true, 409)
	c.do("POST", "/api/v1/people", `{"name":"dan","role":"king"}`, true, 400)
	c.do("POST", "/api/v1/people", `{"email":"x@example.com"}`, false, 400)
	c.do("GET", "/api/v1/people/alice", "", true, 200)
	c.do("GET", "/api/v1/people/nobody", "", true, 404)
	c.do("PATCH", "/api/v1/people/alice", `{"phone":"+15550101","role":"admin"}`, true, 200)
	c.do("PATCH", "/api/v1/people/alice", `{"slack_user":"nope"}`, true, 400)
	c.do("PATCH", "/api/v1/people/alice", `{"name":"alicia"}`, false, 400)
	c.do("PATCH", "/api/v1/people/nobody", `{"phone":"1"}`, true, 404)

	start := time.Now().UTC().Add(-24 * time.Hour).Format(time.RFC3339)
	c.do("GET", "/api/v1/schedules", "", true, 200)
	c.do("POST", "/api/v1/schedules", `{"name":"payments","layer":{"people":["alice","bob"],"rotation":"weekly","every":1,
		"handoff":"mon 09:00","time_zone":"Europe/Berlin","start":"`+start+`"}}`, true, 201)
	c.do("POST", "/api/v1/schedules", `{"name":"payments","layer":{"people":["carol"],"rotation":"daily","handoff":"09:00","time_zone":"UTC"}}`, true, 409)
	c.do("POST", "/api/v1/schedules", `{"name":"web","layer":{"people":["nobody"],"rotation":"daily","handoff":"09:00","time_zone":"UTC"}}`, true, 400)
	c.do("POST", "/api/v1/schedules", `{"name":"web.ics","layer":{"people":["carol"],"rotation":"daily","handoff":"09:00","time_zone":"UTC"}}`, true, 400)
	c.do("POST", "/api/v1/schedules", `{"name":"web","layer":{"people":["carol"],"rotation":"daily","handoff":"09:00"}}`, false, 400)
	c.do("POST", "/api/v1/schedules/payments/layers", `{"people":["carol"],"rotation":"daily","handoff":"09:00","time_zone":"UTC"}`, true, 200)
	c.do("POST", "/api/v1/schedules/payments/layers", `{"people":["carol"],"rotation":"hourly","handoff":"09:00","time_zone":"UTC"}`, true, 400)
	c.do("POST", "/api/v1/schedules/nope/layers", `{"people":["carol"],"rotation":"daily","handoff":"09:00","time_zone":"UTC"}`, true, 404)
	c.do("GET", "/api/v1/schedules/payments", "", true, 200)
	c.do("GET", "/api/v1/schedules/nope", "", true, 404)
	ics := c.do("GET", "/api/v1/schedules/payments.ics", "", true, 200)
	require.Contains(t, string(ics), "BEGIN:VCALENDAR")
	c.do("GET", "/api/v1/schedules/nope.ics", "", true, 404)

	from := time.Now().UTC().Add(time.Hour).Truncate(time.Second)
	window := `"from":"` + from.Format(time.RFC3339) + `","to":"` + from.Add(2*time.Hour).Format(time.RFC3339) + `"`
	body := c.do("POST", "/api/v1/schedules/payments/overrides", `{"person":"carol","layer":1,`+window+`,"created_by":"bob"}`, true, 201)
	ovr := regexp.MustCompile(`"id": "([^"]+)"`).FindSubmatch(body)
	require.NotNil(t, ovr, string(body))
	c.do("POST", "/api/v1/schedules/payments/overrides", `{"person":"nobody",`+window+`,"created_by":"bob"}`, true, 400)
	c.do("POST", "/api/v1/schedules/payments/overrides", `{"person":"carol",`+window+`}`, false, 400)
	c.do("POST", "/api/v1/schedules/nope/overrides", `{"person":"carol",`+window+`,"created_by":"bob"}`, true, 404)
	c.do("GET", "/api/v1/schedules/payments/overrides", "", true, 200)
	c.do("GET", "/api/v1/schedules/nope/overrides", "", true, 404)
	at := "?at=" + from.Add(time.Minute).Format(time.RFC3339)
	body = c.do("GET", "/api/v1/schedules/payments/oncall"+at, "", true, 200)
	require.Contains(t, string(body), `"override": "`+string(ovr[1])+`"`)
	c.do("GET", "/api/v1/schedules/payments/oncall", "", true, 200)
	c.do("GET", "/api/v1/schedules/nope/oncall", "", true, 404)
	c.do("GET", "/api/v1/schedules/payments/oncall?at=tomorrow", "", false, 400)
	c.do("GET", "/api/v1/oncall", "", true, 200)
	c.do("GET", "/api/v1/oncall"+at, "", true, 200)
	c.do("GET", "/api/v1/oncall?at=tomorrow", "", false, 400)
	c.do("GET", "/api/v1/schedules/payments/shifts", "", true, 200)
	c.do("GET", "/api/v1/schedules/payments/shifts?"+strings.ReplaceAll(strings.ReplaceAll(window, `"`, ""), ",", "&"), "", true, 200)
	c.do("GET", "/api/v1/schedules/payments/shifts?from=yesterday", "", false, 400)
	c.do("GET", "/api/v1/schedules/nope/shifts", "", true, 404)
	c.do("DELETE", "/api/v1/overrides/"+string(ovr[1]), "", true, 204)
	c.do("DELETE", "/api/v1/overrides/"+string(ovr[1]), "", true, 404)
	c.do("DELETE", "/api/v1/schedules/payments", "", true, 204)
	c.do("DELETE", "/api/v1/schedules/payments", "", true, 404)
	c.do("DELETE", "/api/v1/people/carol", "", true, 204)
	c.do("DELETE", "/api/v1/people/carol", "", true, 404)

	// Heartbeats. Creating one starts its workflow and deleting one ends it: with no
	// Temporal here, create is exercised through its refusals (the heartbeat below is
	// stored directly, as a created one would be) and delete through its 404; the
	// integration tests run both on the real embedded server. Ping, pause and resume
	// signal the workflow, which the test's Temporal client accepts.
	c.do("GET", "/api/v1/heartbeats", "", true, 200)
	c.do("POST", "/api/v1/heartbeats", `{"name":"nightly","every":"1d","grace":"1h","escalation":"pager","created_by":"alice"}`, true, 400)
	c.do("POST", "/api/v1/heartbeats", `{"name":"nightly","every":"soon"}`, true, 400)
	c.do("POST", "/api/v1/heartbeats", `{"name":"nightly","every":"1h","severity":"urgent"}`, true, 400)
	c.do("POST", "/api/v1/heartbeats", `{"name":"nightly"}`, false, 400)
	now := time.Now().UTC()
	require.NoError(t, m.Store().InsertHeartbeat(ctx, oncall.Heartbeat{Name: "nightly", Every: 24 * time.Hour, Grace: time.Hour,
		Severity: schemas.SeverityHigh, State: oncall.HeartbeatWaiting, CreatedBy: "alice", CreatedAt: now, UpdatedAt: now}))
	c.do("POST", "/api/v1/heartbeats", `{"name":"nightly","every":"1d","severity":"critical","created_by":"alice"}`, true, 409)
	c.do("GET", "/api/v1/heartbeats", "", true, 200)
	c.do("GET", "/api/v1/heartbeats/nightly", "", true, 200)
	c.do("GET", "/api/v1/heartbeats/nope", "", true, 404)
	c.do("POST", "/api/v1/heartbeats/nightly/pause", "", true, 200)
	c.do("POST", "/api/v1/heartbeats/nightly/resume", "", true, 200)
	c.do("POST", "/api/v1/heartbeats/nope/pause", "", true, 404)
	c.do("POST", "/api/v1/heartbeats/nope/resume", "", true, 404)
	for _, method := range []string{"POST", "GET"} {
		body := c.do(method, "/api/v1/heartbeats/nightly/ping", "", true, 202)
		require.Contains(t, string(body), `"pinged": "nightly"`)
		c.do(method, "/api/v1/heartbeats/nope/ping", "", true, 404)
	}
	require.Empty(t, c.do("HEAD", "/api/v1/heartbeats/nightly/ping", "", true, 202))
	c.do("HEAD", "/api/v1/heartbeats/nope/ping", "", true, 404)
	c.do("DELETE", "/api/v1/heartbeats/nope?by=alice", "", true, 404)
}

// TestOpenAPIAccessAnswers sends every operation of the document, except /healthz, to a
// server with tokens: without a token (and with a bad one) each answers 401, with a
// token whose role lacks the operation's permission 403, and both answers match the
// document. Without any token, a loopback write that is not JSON answers 415.
func TestOpenAPIAccessAnswers(t *testing.T) {
	h, st := newServerWithToken(t, "s3cret-token")
	viewer := issue(t, st, "viewer-user", auth.Viewer, nil)
	ingest := issue(t, st, "ingest-user", auth.Ingest, nil)
	c := newContract(t, h)
	params := regexp.MustCompile(`\{[a-z_]+\}`)
	n := 0
	for _, path := range c.doc.Paths.InMatchingOrder() {
		if path == "/healthz" {
			continue
		}
		for method, op := range c.doc.Paths.Value(path).Operations() {
			require.NotNil(t, op.Security, "%s %s: no security requirement", method, path)
			require.NotNil(t, op.Responses.Status(401), "%s %s: 401 undocumented", method, path)
			require.NotNil(t, op.Responses.Status(403), "%s %s: 403 undocumented", method, path)
			url := params.ReplaceAllString(path, "x")
			body := ""
			if op.RequestBody != nil {
				body = "{}"
			}
			c.refused(method, url, body, nil, 401)
			c.refused(method, url, body, map[string]string{"Authorization": "Bearer mhv_wrong"}, 401)
			// An ingest token may only post events and ping; a viewer may not ping.
			weak := ingest
			if path == "/api/v1/events" && method == "POST" || path == "/api/v1/alertmanager" || strings.HasSuffix(path, "/ping") {
				weak = viewer
			}
			c.refused(method, url, body, map[string]string{"Authorization": "Bearer " + weak}, 403)
			n++
		}
	}
	require.Greater(t, n, 50)

	// With a token, a write may leave out who does it (the token's name is recorded),
	// and naming anybody else is refused.
	admin := map[string]string{"Authorization": "Bearer s3cret-token"}
	c.doWith("POST", "/api/v1/silences", `{"matchers":["source=api"],"duration":"1h"}`, admin, true, 201)
	c.doWith("POST", "/api/v1/people", `{"name":"erin"}`, admin, true, 201)
	c.doWith("POST", "/api/v1/incidents/inc_x/mitigate", `{"action":"clear_cache","by":"mallory"}`, admin, true, 403)
	c.doWith("POST", "/api/v1/incidents/inc_x/mitigate", `{"action":"restart_service","approved_by":"mallory"}`, admin, true, 403)
	c.doWith("POST", "/api/v1/incidents/inc_x/update", `{"by":"mallory"}`, admin, true, 403)
	c.doWith("POST", "/api/v1/incidents/inc_x/close", "", admin, true, 404)

	open, _ := newServerWithToken(t, "")
	o := newContract(t, open)
	o.doWith("POST", "/api/v1/people", `{"name":"eve"}`, map[string]string{"Content-Type": "text/plain"}, false, 415)
	o.doWith("POST", "/api/v1/incidents/x/mitigate", `{"action":"a","by":"eve"}`, map[string]string{"Content-Type": "text/plain"}, false, 415)
}
