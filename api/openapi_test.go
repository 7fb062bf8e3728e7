package api

import (
	"bytes"
	"context"
	"io"
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
	ctx := context.Background()
	req := httptest.NewRequest(method, "http://127.0.0.1:8080"+path, strings.NewReader(body))
	req.RemoteAddr = "127.0.0.1:40000"
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	route, params, err := c.router.FindRoute(req)
	require.NoError(c.t, err, "%s %s is not in the OpenAPI document", method, path)
	c.seen[method+" "+route.Path] = true
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	reqErr := openapi3filter.ValidateRequest(ctx, in)
	if validRequest {
		require.NoError(c.t, reqErr, "%s %s %s: request does not match the document", method, path, body)
	} else {
		require.Error(c.t, reqErr, "%s %s %s: the document accepts a request the handler rejects", method, path, body)
	}
	req.Body = io.NopCloser(strings.NewReader(body))
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
	c.do("POST", "/api/v1/incidents/inc_contract/close", `{}`, false, 400)
	// Acknowledge, assign and resolve go to the incident's workflow (this test has no
	// Temporal: the integration tests run them); here their requests and refusals.
	c.do("POST", "/api/v1/incidents/inc_contract/acknowledge", `{"by":"alice","note":"x"}`, false, 400)
	c.do("POST", "/api/v1/incidents/inc_contract/assign", `{"by":"alice"}`, true, 400)
	c.do("POST", "/api/v1/incidents/inc_contract/resolve", `{"notes":"fixed"}`, false, 400)

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
	c.do("GET", "/api/v1/rules/error_burst/backtest?threshold=2&time_window=60&since=1h", "", true, 200)
	c.do("GET", "/api/v1/rules/nope/backtest", "", true, 404)

	// Silences.
	body := c.do("POST", "/api/v1/silences", `{"matchers":["source=api"],"duration":"2h","comment":"deploy","created_by":"alice"}`, true, 201)
	id := regexp.MustCompile(`"id": "([^"]+)"`).FindSubmatch(body)
	require.NotNil(t, id, string(body))
	c.do("POST", "/api/v1/silences", `{"matchers":["source=api"],"duration":"2h"}`, false, 400)
	c.do("GET", "/api/v1/silences", "", true, 200)
	c.do("GET", "/api/v1/silences?all=true", "", true, 200)
	c.do("GET", "/api/v1/silences/"+string(id[1]), "", true, 200)
	c.do("GET", "/api/v1/silences/sil_nope", "", true, 404)
	c.do("POST", "/api/v1/silences/"+string(id[1])+"/expire", `{"by":"bob"}`, true, 200)
	c.do("POST", "/api/v1/silences/"+string(id[1])+"/expire", `{"by":"bob"}`, true, 409)

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
