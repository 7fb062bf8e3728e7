package slack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/notify"
	"github.com/mahavishnu/mahavishnu/notify/notifytest"
	"github.com/mahavishnu/mahavishnu/notify/slack"
	"github.com/mahavishnu/mahavishnu/schemas"
)

const token = "xoxb-slack-secret-token-42"

func message() notify.Message {
	return notify.Message{
		IncidentID: "inc_7f3a", Kind: notify.KindOpened, Title: "API error rate above threshold",
		Type: "error_rate", Severity: schemas.SeverityCritical, Status: schemas.StatusAssessing,
		Source: "api", Text: "42 errors in 60s from api",
		At: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		Links: notify.Links{
			Dashboard:  "http://127.0.0.1:8080/incidents/inc_7f3a",
			TemporalUI: "http://127.0.0.1:8233/namespaces/default/workflows/incident%2Frule%2Fapi/history",
		},
	}
}

func newNotifier(t *testing.T, base string) *slack.Notifier {
	t.Helper()
	n, err := slack.New(slack.Config{WebhookURL: notify.Secret(base + "/services/T0001/B0001/" + token)})
	require.NoError(t, err)
	return n
}

type sentPayload struct {
	Text   string `json:"text"`
	Blocks []struct {
		Type string `json:"type"`
		Text *struct {
			Text string `json:"text"`
		} `json:"text"`
		Fields []struct {
			Text string `json:"text"`
		} `json:"fields"`
		Elements []struct {
			Type string `json:"type"`
			URL  string `json:"url"`
		} `json:"elements"`
	} `json:"blocks"`
}

func TestSendPostsValidBlockKit(t *testing.T) {
	manyFields := message()
	for i := range 12 {
		manyFields.Fields = append(manyFields.Fields, notify.Field{Name: fmt.Sprintf("f%d", i), Value: "v"})
	}
	hostile := message()
	hostile.Title = "<!channel> " + strings.Repeat("very long title ", 20) + "\nsecond line"
	hostile.Text = "see <https://evil.example|here> & <@U123>"
	hostile.Links = notify.Links{Dashboard: "javascript:alert(1)"}
	huge := message()
	huge.Text = strings.Repeat("a<b ", 3000)
	huge.Actor = strings.Repeat("x", 500)
	huge.Fields = []notify.Field{{Name: "log", Value: strings.Repeat("&", 5000)}}
	acked := message()
	acked.Kind, acked.Actor = notify.KindAcknowledged, "alice"
	resolved := message()
	resolved.Kind, resolved.Actor, resolved.Status = notify.KindResolved, "bob", schemas.StatusResolved

	tests := []struct {
		name        string
		msg         notify.Message
		wantHeader  string
		wantButtons int
		wantInBody  []string
		notInBody   []string
	}{
		{name: "opened", msg: message(), wantHeader: "🔴 Incident opened: API error rate above threshold", wantButtons: 2,
			wantInBody: []string{"*Severity*\nCRITICAL", "*Status*\nassessing", "*Type*\nerror_rate", "*Incident*\ninc_7f3a", "42 errors in 60s"}},
		{name: "acknowledged", msg: acked, wantHeader: "👀 Acknowledged: API error rate above threshold", wantButtons: 2,
			wantInBody: []string{"Acknowledged by alice", "*Actor*\nalice"}},
		{name: "resolved", msg: resolved, wantHeader: "✅ Resolved: API error rate above threshold", wantButtons: 2,
			wantInBody: []string{"Resolved by bob", "*Status*\nresolved"}},
		{name: "test", msg: notify.NewTestMessage(time.Now()), wantHeader: "🧪 Test notification: Mahavishnu test notification"},
		{name: "more than ten fields", msg: manyFields, wantHeader: "🔴 Incident opened: API error rate above threshold", wantButtons: 2,
			wantInBody: []string{"*f11*\nv"}},
		{name: "huge text is cut to Slack's limits", msg: huge, wantButtons: 2, wantInBody: []string{"a&lt;b a&lt;b", "…"}},
		{name: "hostile text", msg: hostile, wantButtons: 0,
			wantInBody: []string{"&lt;https://evil.example|here&gt; &amp; &lt;@U123&gt;", "&lt;!channel&gt;"},
			notInBody:  []string{"<!channel>", "<@U123>", "javascript:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := notifytest.NewSlack(t)
			receipt, err := newNotifier(t, rcv.URL()).Send(context.Background(), tt.msg)
			require.NoError(t, err)
			require.Equal(t, notify.Receipt{Channel: "slack", Code: 200, Response: "ok"}, receipt)

			reqs := rcv.Requests()
			require.Len(t, reqs, 1)
			require.NoError(t, reqs[0].Invalid)
			require.Equal(t, "/services/T0001/B0001/"+token, reqs[0].Path)
			var p sentPayload
			require.NoError(t, json.Unmarshal(reqs[0].Body, &p))
			require.Equal(t, "header", p.Blocks[0].Type)
			require.LessOrEqual(t, len([]rune(p.Blocks[0].Text.Text)), 150)
			if tt.wantHeader != "" {
				require.Equal(t, tt.wantHeader, p.Blocks[0].Text.Text)
			}
			require.Contains(t, p.Text, "("+tt.msg.IncidentID+")")
			buttons := 0
			for _, b := range p.Blocks {
				if b.Type == "actions" {
					buttons = len(b.Elements)
					require.Equal(t, tt.msg.Links.Dashboard, b.Elements[0].URL)
				}
			}
			require.Equal(t, tt.wantButtons, buttons)
			require.Equal(t, "context", p.Blocks[len(p.Blocks)-1].Type)
			text := allText(t, reqs[0].Body)
			for _, want := range tt.wantInBody {
				require.Contains(t, text, want)
			}
			for _, bad := range tt.notInBody {
				require.NotContains(t, text, bad)
			}
		})
	}
}

// allText joins every string in a JSON document, decoded.
func allText(t *testing.T, body []byte) string {
	t.Helper()
	var doc any
	require.NoError(t, json.Unmarshal(body, &doc))
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(doc)
	return strings.Join(out, "\n")
}

func TestSendClassifiesAnswers(t *testing.T) {
	tests := []struct {
		name       string
		reply      notifytest.Reply
		retryable  bool
		retryAfter time.Duration
		wantErr    string
	}{
		{"rate limited", notifytest.Reply{Code: 429, Body: "rate_limited", Header: http.Header{"Retry-After": {"7"}}}, true, 7 * time.Second, `channel "slack": HTTP 429: rate_limited`},
		{"server error", notifytest.Reply{Code: 500, Body: "internal_error"}, true, 0, "HTTP 500: internal_error"},
		{"unavailable", notifytest.Reply{Code: 503}, true, 0, "HTTP 503"},
		{"invalid payload", notifytest.Reply{Code: 400, Body: "invalid_payload"}, false, 0, "HTTP 400: invalid_payload"},
		{"forbidden", notifytest.Reply{Code: 403, Body: "action_prohibited"}, false, 0, "HTTP 403: action_prohibited"},
		{"no service", notifytest.Reply{Code: 404, Body: "no_service"}, false, 0, "HTTP 404: no_service"},
		{"archived", notifytest.Reply{Code: 410, Body: "channel_is_archived"}, false, 0, "HTTP 410: channel_is_archived"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := notifytest.NewSlack(t)
			rcv.Reply(tt.reply)
			n := newNotifier(t, rcv.URL())
			err := n.Notify(context.Background(), message())
			require.ErrorContains(t, err, tt.wantErr)
			require.Equal(t, tt.retryable, notify.Retryable(err))
			require.Equal(t, tt.retryAfter, notify.RetryAfter(err))
			var ne *notify.Error
			require.ErrorAs(t, err, &ne)
			require.Equal(t, tt.reply.Code, ne.Code)
			notifytest.RequireNoSecret(t, err, token)

			require.NoError(t, n.Notify(context.Background(), message()), "the retry succeeds")
		})
	}
}

func TestSendInvalidMessageIsPermanent(t *testing.T) {
	rcv := notifytest.NewSlack(t)
	m := message()
	m.Severity = ""
	err := newNotifier(t, rcv.URL()).Notify(context.Background(), m)
	require.ErrorContains(t, err, "message.severity")
	require.False(t, notify.Retryable(err))
	require.Empty(t, rcv.Requests())
}

func TestSecretNeverLeaks(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	echo := notifytest.NewSlack(t)
	echo.Reply(notifytest.Reply{Code: 500, Body: "failed POST " + echo.URL() + "/services/T0001/B0001/" + token})
	tests := []struct {
		name      string
		base      string
		ctx       context.Context
		retryable bool
	}{
		{"connection refused", "http://" + notifytest.ClosedPort(t), context.Background(), true},
		{"cancelled", notifytest.NewSlack(t).URL(), cancelled, false},
		{"answer echoes the URL", echo.URL(), context.Background(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := newNotifier(t, tt.base).Notify(tt.ctx, message())
			require.Error(t, err)
			require.Equal(t, tt.retryable, notify.Retryable(err))
			notifytest.RequireNoSecret(t, err, token, "/services/T0001/B0001/")
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	_, err := slack.New(slack.Config{})
	require.EqualError(t, err, "slack.webhook_url: is required")
	_, err = slack.New(slack.Config{WebhookURL: "hooks.slack.com/services/" + token})
	require.EqualError(t, err, "slack.webhook_url: want an http:// or https:// URL (value not shown: it is a secret)")
	cfg := slack.Config{WebhookURL: notify.Secret("https://hooks.slack.com/services/" + token)}
	require.NotContains(t, fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), token)
}
