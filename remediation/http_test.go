package remediation

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// seenRequest is what the test server received.
type seenRequest struct {
	method, escapedPath, path string
	query                     map[string][]string
	header                    http.Header
	body                      []byte
}

// recordingServer answers every request with status and body and sends what it saw.
func recordingServer(t *testing.T, status int, body string) (*httptest.Server, <-chan seenRequest) {
	t.Helper()
	seen := make(chan seenRequest, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen <- seenRequest{method: r.Method, escapedPath: r.URL.EscapedPath(), path: r.URL.Path,
			query: r.URL.Query(), header: r.Header.Clone(), body: b}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, seen
}

func TestHTTPExecutorSendsEscapedRequest(t *testing.T) {
	srv, seen := recordingServer(t, http.StatusAccepted, `{"ok":true}`)
	ex, err := NewHTTPExecutor(HTTPConfig{
		Method: "put",
		URL:    srv.URL + "/services/{{.Component}}/scale?incident={{.IncidentID}}&source={{.Source}}",
		Headers: map[string]Secret{
			"Authorization":   "Bearer s3cret-token",
			"X-Incident":      "{{.IncidentID}} {{.Source}}",
			"Idempotency-Key": "{{.IdempotencyKey}}",
		},
		Body: `{"component": {{json .Component}}, "source": {{json .Source}}, "severity": {{json .Severity}}}`,
	}, time.Minute)
	require.NoError(t, err)

	in := sampleInput()
	in.Component = `a/b?c=d&e#f "x"` + "\n$(id)"
	in.Source = "api&admin=true\r\nX-Evil: 1"
	res, err := ex.Execute(context.Background(), in)
	require.NoError(t, err)
	require.Equal(t, StatusSucceeded, res.Status)
	require.Equal(t, http.StatusAccepted, res.HTTPStatus)
	require.Equal(t, `{"ok":true}`, res.Output)
	require.Contains(t, res.Details, "202 Accepted")

	got := <-seen
	require.Equal(t, http.MethodPut, got.method)
	require.Equal(t, "/services/"+in.Component+"/scale", got.path, "one path segment, decoded back exactly")
	require.Equal(t, "/services/a%2Fb%3Fc%3Dd%26e%23f%20%22x%22%0A%24%28id%29/scale", got.escapedPath)
	require.Equal(t, map[string][]string{"incident": {"inc_01"}, "source": {in.Source}}, got.query, "no injected parameter")
	require.Equal(t, "Bearer s3cret-token", got.header.Get("Authorization"))
	require.Equal(t, "inc_01 api&admin=true  X-Evil: 1", got.header.Get("X-Incident"))
	require.Empty(t, got.header.Get("X-Evil"))
	require.Equal(t, "remediation/inc_01/scale_up/1", got.header.Get("Idempotency-Key"))
	require.Equal(t, "application/json", got.header.Get("Content-Type"))
	var body map[string]string
	require.NoError(t, json.Unmarshal(got.body, &body))
	require.Equal(t, map[string]string{"component": in.Component, "source": in.Source, "severity": "high"}, body)
	require.NotContains(t, res.Details, "s3cret-token")
}

func TestHTTPExecutorStatus(t *testing.T) {
	tests := []struct {
		name     string
		answer   int
		expected []int
		status   Status
	}{
		{"2xx by default", http.StatusNoContent, nil, StatusSucceeded},
		{"500 by default", http.StatusInternalServerError, nil, StatusFailed},
		{"redirect is not followed", http.StatusFound, nil, StatusFailed},
		{"listed", http.StatusConflict, []int{200, 409}, StatusSucceeded},
		{"not listed", http.StatusOK, []int{202}, StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, seen := recordingServer(t, tt.answer, "answer body")
			ex, err := NewHTTPExecutor(HTTPConfig{URL: srv.URL + "/flush", ExpectedStatus: tt.expected}, time.Minute)
			require.NoError(t, err)
			res, err := ex.Execute(context.Background(), sampleInput())
			require.Equal(t, http.MethodPost, (<-seen).method)
			require.Equal(t, tt.status, res.Status)
			require.Equal(t, tt.answer, res.HTTPStatus)
			if tt.status == StatusSucceeded {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrFailed)
			require.Contains(t, err.Error(), fmt.Sprintf("answered %d %s", tt.answer, http.StatusText(tt.answer)))
			require.Equal(t, "answer body", res.Output)
		})
	}
}

func TestHTTPExecutorTruncatesResponse(t *testing.T) {
	srv, _ := recordingServer(t, http.StatusOK, strings.Repeat("r", MaxOutputBytes+100))
	ex, err := NewHTTPExecutor(HTTPConfig{Method: "GET", URL: srv.URL}, time.Minute)
	require.NoError(t, err)
	res, err := ex.Execute(context.Background(), sampleInput())
	require.NoError(t, err)
	require.Equal(t, strings.Repeat("r", MaxOutputBytes)+"\n[truncated 100 bytes]", res.Output)
}

func TestHTTPExecutorTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers; the client gives up
	}))
	t.Cleanup(srv.Close)
	ex, err := NewHTTPExecutor(HTTPConfig{URL: srv.URL + "/?token=abc123"}, 200*time.Millisecond)
	require.NoError(t, err)
	res, err := ex.Execute(context.Background(), sampleInput())
	require.ErrorIs(t, err, ErrTimeout)
	require.ErrorIs(t, err, ErrFailed)
	require.Equal(t, StatusFailed, res.Status)
	require.NotContains(t, err.Error(), "abc123")
	require.NotContains(t, res.Details, "abc123")
	require.Contains(t, res.Details, "token=xxxxx")
}

func TestHTTPExecutorTransportErrorHidesSecrets(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // connection refused from now on
	ex, err := NewHTTPExecutor(HTTPConfig{URL: strings.Replace(url, "http://", "http://user:pa55word@", 1) + "/x?api_key=k3y&x=1",
		Headers: map[string]Secret{"Authorization": "Bearer s3cret"}}, time.Minute)
	require.NoError(t, err)
	res, err := ex.Execute(context.Background(), sampleInput())
	require.ErrorIs(t, err, ErrFailed)
	require.NotErrorIs(t, err, ErrTimeout)
	require.Equal(t, StatusFailed, res.Status)
	for _, secret := range []string{"pa55word", "k3y", "s3cret"} {
		require.NotContains(t, err.Error(), secret)
		require.NotContains(t, res.Details, secret)
	}
	require.Contains(t, err.Error(), "connection refused")
}

func TestHTTPExecutorDryRun(t *testing.T) {
	srv, seen := recordingServer(t, http.StatusOK, "")
	ex, err := NewHTTPExecutor(HTTPConfig{
		Method:         "POST",
		URL:            srv.URL + "/scale/{{.Component}}?token=t0ken",
		Headers:        map[string]Secret{"Authorization": "Bearer s3cret"},
		Body:           `{"replicas": 5}`,
		ExpectedStatus: []int{200, 202},
	}, 10*time.Second)
	require.NoError(t, err)
	in := sampleInput()
	in.Component = "a b"
	res, err := ex.DryRun(in)
	require.NoError(t, err)
	require.Equal(t, StatusDryRun, res.Status)
	require.Equal(t, "would send POST "+srv.URL+"/scale/a%20b?token=xxxxx with headers [Authorization, Content-Type] and a 15-byte application/json body, timeout 10s, expecting 200, 202", res.Details)
	require.Empty(t, seen, "a dry run sends nothing")
}

func TestNewHTTPExecutorErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  HTTPConfig
		want string
	}{
		{"no url", HTTPConfig{}, "url: is required"},
		{"bad method", HTTPConfig{Method: "TRACE", URL: "http://x/"}, `method: want one of GET, POST, PUT, PATCH, DELETE, got "TRACE"`},
		{"bad scheme", HTTPConfig{URL: "ftp://x/"}, `url: want an http:// or https:// URL, got scheme "ftp"`},
		{"no host", HTTPConfig{URL: "http:///path"}, "url: has no host"},
		{"host from a field", HTTPConfig{URL: "http://{{.Source}}.internal/x"}, "url: the scheme and host must not depend on incident fields"},
		{"bad url template", HTTPConfig{URL: "http://x/{{.Nope}}"},
			"url: template: 1:11: executing \"url\" at <.Nope>: can't evaluate field Nope in type remediation.Input"},
		{"unquoted JSON value", HTTPConfig{URL: "http://x/", Body: `{"c": "{{.Component}}"}`},
			"body: renders invalid JSON when a field holds quotes or newlines; quote fields with the json function, e.g. {{json .Source}}"},
		{"GET with body", HTTPConfig{Method: "GET", URL: "http://x/", Body: "{}"}, "body: a GET request has no body; use POST, PUT, PATCH or DELETE"},
		{"bad header name", HTTPConfig{URL: "http://x/", Headers: map[string]Secret{"Bad Header": "1"}}, "headers.Bad Header: not a valid header name"},
		{"host header", HTTPConfig{URL: "http://x/", Headers: map[string]Secret{"host": "y"}}, "headers.host: set by the HTTP client, not configurable"},
		{"header template hides value", HTTPConfig{URL: "http://x/", Headers: map[string]Secret{"Authorization": "Bearer s3cret{{"}},
			"headers.Authorization: invalid template (value not shown, it may be a secret)"},
		{"bad status", HTTPConfig{URL: "http://x/", ExpectedStatus: []int{200, 99}}, "expected_status[1]: want an HTTP status code 100-599, got 99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewHTTPExecutor(tt.cfg, time.Minute)
			require.EqualError(t, err, tt.want)
		})
	}
}

func TestHTTPExecutorPlainTextBody(t *testing.T) {
	srv, seen := recordingServer(t, http.StatusOK, "")
	ex, err := NewHTTPExecutor(HTTPConfig{URL: srv.URL, Headers: map[string]Secret{"content-type": "text/plain"},
		Body: "flush {{.Component}}"}, time.Minute)
	require.NoError(t, err)
	in := sampleInput()
	in.Component = `"quoted"`
	_, err = ex.Execute(context.Background(), in)
	require.NoError(t, err)
	got := <-seen
	require.Equal(t, `flush "quoted"`, string(got.body))
	require.Equal(t, "text/plain", got.header.Get("Content-Type"))
}
