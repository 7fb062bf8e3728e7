package notifytest

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/notify/webhook"
)

func TestValidateSlack(t *testing.T) {
	header := `{"type":"header","text":{"type":"plain_text","text":"Incident opened"}}`
	withBlocks := func(blocks ...string) string { return `{"text":"x","blocks":[` + strings.Join(blocks, ",") + `]}` }
	fields := func(n int) string {
		var f []string
		for range n {
			f = append(f, `{"type":"mrkdwn","text":"*a*\nb"}`)
		}
		return `{"type":"section","fields":[` + strings.Join(f, ",") + `]}`
	}
	button := func(text, url, id string) string {
		return fmt.Sprintf(`{"type":"button","text":{"type":"plain_text","text":%q},"url":%q,"action_id":%q}`, text, url, id)
	}
	tests := []struct {
		name string
		body string
		want string
	}{
		{"valid", withBlocks(header, fields(10), `{"type":"actions","elements":[`+button("Open", "https://x.example/a", "a")+`]}`,
			`{"type":"context","elements":[{"type":"mrkdwn","text":"ctx"}]}`, `{"type":"divider"}`), ""},
		{"not json", `blocks`, "invalid_payload: body is not a JSON object"},
		{"unknown top-level field", `{"blockz":[]}`, `invalid_payload: unknown field "blockz"`},
		{"no blocks", `{"text":"x"}`, "blocks: missing"},
		{"empty blocks", withBlocks(), "blocks: want 1-50 blocks, got 0"},
		{"unknown block type", withBlocks(`{"type":"banner"}`), `blocks[0].type: unknown or unsupported block type "banner"`},
		{"unknown block field", withBlocks(`{"type":"header","title":"x"}`), `unknown field "title"`},
		{"header in mrkdwn", withBlocks(`{"type":"header","text":{"type":"mrkdwn","text":"x"}}`), "blocks[0].text.type: want plain_text"},
		{"header too long", withBlocks(`{"type":"header","text":{"type":"plain_text","text":"` + strings.Repeat("x", 151) + `"}}`), "want 1-150 characters, got 151"},
		{"empty section", withBlocks(`{"type":"section"}`), "a section needs text or fields"},
		{"eleven fields", withBlocks(fields(11)), "blocks[0].fields: at most 10, got 11"},
		{"section text too long", withBlocks(`{"type":"section","text":{"type":"mrkdwn","text":"` + strings.Repeat("x", 3001) + `"}}`), "want 1-3000 characters"},
		{"emoji on mrkdwn", withBlocks(`{"type":"section","text":{"type":"mrkdwn","text":"x","emoji":true}}`), "only plain_text takes emoji"},
		{"long button text", withBlocks(`{"type":"actions","elements":[` + button(strings.Repeat("b", 76), "https://x.example", "a") + `]}`), "want 1-75 characters"},
		{"javascript button", withBlocks(`{"type":"actions","elements":[` + button("Open", "javascript:alert(1)", "a") + `]}`), "url: want an absolute http(s) URL"},
		{"duplicate action id", withBlocks(`{"type":"actions","elements":[` + button("A", "https://x.example", "same") + "," + button("B", "https://x.example", "same") + `]}`), "action_id: duplicate"},
		{"button in context", withBlocks(`{"type":"context","elements":[` + button("A", "https://x.example", "a") + `]}`), `"button" is not allowed in a context block`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateSlack([]byte(tt.body))
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestValidatePagerDuty(t *testing.T) {
	key := strings.Repeat("k", 32)
	trigger := func(payload string) string {
		return `{"routing_key":"` + key + `","event_action":"trigger","dedup_key":"inc_1","payload":` + payload + `}`
	}
	good := `{"summary":"s","source":"api","severity":"critical","timestamp":"2025-03-01T12:00:00Z","custom_details":{"a":1}}`
	tests := []struct {
		name string
		body string
		want string
	}{
		{"valid trigger", trigger(good), ""},
		{"valid trigger with links", `{"routing_key":"` + key + `","event_action":"trigger","payload":` + good + `,"links":[{"href":"https://x","text":"x"}]}`, ""},
		{"valid resolve", `{"routing_key":"` + key + `","event_action":"resolve","dedup_key":"inc_1"}`, ""},
		{"short routing key", `{"routing_key":"abc","event_action":"resolve","dedup_key":"inc_1"}`, "Length of 'routing_key' is incorrect (should be 32 characters)"},
		{"no routing key", `{"event_action":"resolve","dedup_key":"inc_1"}`, "'routing_key' is missing"},
		{"bad action", `{"routing_key":"` + key + `","event_action":"close","dedup_key":"inc_1"}`, `'event_action' is invalid (must be one of trigger, acknowledge, resolve), got "close"`},
		{"acknowledge without dedup key", `{"routing_key":"` + key + `","event_action":"acknowledge"}`, "'dedup_key' is required for event_action acknowledge"},
		{"long dedup key", `{"routing_key":"` + key + `","event_action":"resolve","dedup_key":"` + strings.Repeat("d", 256) + `"}`, "'dedup_key' must be 1-255 characters"},
		{"trigger without payload", `{"routing_key":"` + key + `","event_action":"trigger"}`, "'payload' is missing"},
		{"summary too long", trigger(`{"summary":"` + strings.Repeat("s", 1025) + `","source":"a","severity":"info"}`), "'payload.summary' is longer than 1024 characters"},
		{"no summary", trigger(`{"source":"a","severity":"info"}`), "'payload.summary' is missing or blank"},
		{"no source", trigger(`{"summary":"s","severity":"info"}`), "'payload.source' is missing or blank"},
		{"bad severity", trigger(`{"summary":"s","source":"a","severity":"high"}`), `'payload.severity' is invalid (must be one of critical, error, warning, info), got "high"`},
		{"bad timestamp", trigger(`{"summary":"s","source":"a","severity":"info","timestamp":"yesterday"}`), "'payload.timestamp' is not an ISO 8601 timestamp"},
		{"details not an object", trigger(`{"summary":"s","source":"a","severity":"info","custom_details":[1]}`), "'payload.custom_details' must be an object"},
		{"unknown field", `{"routing_key":"` + key + `","event_action":"resolve","dedup_key":"x","severity":"critical"}`, `unknown field "severity"`},
		{"link without href", `{"routing_key":"` + key + `","event_action":"trigger","payload":` + good + `,"links":[{"text":"x"}]}`, "'links[0].href' is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidatePagerDuty([]byte(tt.body))
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestPagerDutyReceiverAnswersLikePagerDuty(t *testing.T) {
	rcv := NewPagerDuty(t)
	post := func(path, body string) (*http.Response, string) {
		resp, err := http.Post(rcv.URL()+path, "application/json", strings.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, err = buf.ReadFrom(resp.Body)
		require.NoError(t, err)
		return resp, buf.String()
	}
	resp, body := post(PagerDutyPath, `{"routing_key":"abc","event_action":"resolve"}`)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.JSONEq(t, `{"status":"invalid event","message":"Event object is invalid","errors":[
		"Length of 'routing_key' is incorrect (should be 32 characters)","'dedup_key' is required for event_action resolve"]}`, body)

	resp, body = post(PagerDutyPath, `{"routing_key":"`+strings.Repeat("k", 32)+`","event_action":"resolve","dedup_key":"inc_9"}`)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.JSONEq(t, `{"status":"success","message":"Event processed","dedup_key":"inc_9"}`, body)

	rcv.Reply(Reply{Code: 429}, Reply{Code: 500})
	for _, want := range []int{429, 500, 202} {
		resp, _ = post(PagerDutyPath, `{"routing_key":"`+strings.Repeat("k", 32)+`","event_action":"resolve","dedup_key":"inc_9"}`)
		require.Equal(t, want, resp.StatusCode, "queued replies first, then the channel's own answer")
	}
	resp, _ = post("/other", `{}`)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	reqs := rcv.Requests()
	require.Len(t, reqs, 6)
	require.ErrorContains(t, reqs[5].Invalid, "path: want /v2/enqueue, got /other")
}

func TestWebhookSignatureCheck(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"version":1,"incident_id":"inc_1","kind":"opened","title":"t","severity":"high","at":"2025-03-01T12:00:00Z","links":{}}`)
	ts := strconv.FormatInt(now.Unix(), 10)
	signed := func(secret, ts string) http.Header {
		return http.Header{"X-Mahavishnu-Timestamp": {ts}, "X-Mahavishnu-Signature": {webhook.Sign([]byte(secret), ts, body)}}
	}
	tests := []struct {
		name   string
		secret string
		h      http.Header
		want   string
	}{
		{"signed by notify/webhook", "s3cret", signed("s3cret", ts), ""},
		{"other secret", "s3cret", signed("other", ts), "does not verify"},
		{"stale", "s3cret", signed("s3cret", strconv.FormatInt(now.Add(-10*time.Minute).Unix(), 10)), "away from now"},
		{"unsigned", "s3cret", http.Header{}, "is not Unix seconds"},
		{"signed without a secret", "", signed("s3cret", ts), "sent without a secret"},
		{"unsigned without a secret", "", http.Header{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkSignature(tt.h, body, tt.secret, now)
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, errSignature)
			require.ErrorContains(t, err, tt.want)
		})
	}
	require.NoError(t, ValidateWebhook(body))
	require.ErrorContains(t, ValidateWebhook([]byte(`{"version":2,"kind":"opened","links":[]}`)), "version: want 1")
}

// fakeTB records Fatalf instead of stopping the test.
type fakeTB struct {
	testing.TB
	failed string
}

func (f *fakeTB) Helper()                           {}
func (f *fakeTB) Fatalf(format string, args ...any) { f.failed = fmt.Sprintf(format, args...) }

func TestRequireNoSecretFindsLeaks(t *testing.T) {
	tests := []struct {
		name string
		err  error
		leak bool
	}{
		{"clean", errors.New("POST request: connection refused"), false},
		{"in the message", errors.New("POST https://x/T/B/tok-secret failed"), true},
		{"only in a wrapped cause", &hidden{cause: errors.New("dial https://x/T/B/tok-secret")}, true},
		{"inside a join", errors.Join(errors.New("ok"), &hidden{cause: errors.New("tok-secret")}), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := &fakeTB{TB: t}
			RequireNoSecret(tb, tt.err, "tok-secret")
			require.Equal(t, tt.leak, tb.failed != "", tb.failed)
		})
	}
}

// hidden shows a clean message but wraps a cause holding the secret.
type hidden struct{ cause error }

func (h *hidden) Error() string { return "request failed" }
func (h *hidden) Unwrap() error { return h.cause }
