package mattermost_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/notify"
	"github.com/mahavishnu/mahavishnu/notify/mattermost"
	"github.com/mahavishnu/mahavishnu/notify/notifytest"
	"github.com/mahavishnu/mahavishnu/schemas"
)

const hook = "xkq8j4mattermost-hook-id"

func message() notify.Message {
	return notify.Message{
		IncidentID: "inc_7f3a", Kind: notify.KindOpened, Title: "API error rate above threshold",
		Type: "error_rate", Severity: schemas.SeverityHigh, Status: schemas.StatusAssessing,
		Source: "api", Text: "42 errors in 60s from api", At: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		Links: notify.Links{Dashboard: "http://127.0.0.1:8080/incidents/inc_7f3a",
			TemporalUI: "http://127.0.0.1:8233/namespaces/default/workflows/incident%2Fx/history"},
	}
}

func newNotifier(t *testing.T, base string) *mattermost.Notifier {
	t.Helper()
	n, err := mattermost.New(mattermost.Config{WebhookURL: notify.Secret(base + "/hooks/" + hook)})
	require.NoError(t, err)
	return n
}

func TestSendPostsAttachment(t *testing.T) {
	hostile := message()
	hostile.Title = "@channel look [here](https://evil.example)"
	hostile.Links = notify.Links{Dashboard: "javascript:alert(1)"}
	acked := message()
	acked.Kind, acked.Actor = notify.KindAcknowledged, "alice"
	for name, tc := range map[string]struct {
		msg       notify.Message
		color     string
		titleLink string
		fields    map[string]string
		notIn     []string
	}{
		"opened":  {message(), "#f2711c", "http://127.0.0.1:8080/incidents/inc_7f3a", map[string]string{"Severity": "HIGH", "Incident": "inc_7f3a"}, nil},
		"acked":   {acked, "#f2711c", "http://127.0.0.1:8080/incidents/inc_7f3a", map[string]string{"By": "alice"}, nil},
		"hostile": {hostile, "#f2711c", "", nil, []string{"@channel", "[here](https", "javascript:"}},
	} {
		t.Run(name, func(t *testing.T) {
			rcv := notifytest.NewMattermost(t)
			receipt, err := newNotifier(t, rcv.URL()).Send(context.Background(), tc.msg)
			require.NoError(t, err)
			require.Equal(t, notify.Receipt{Channel: "mattermost", Code: 200, Response: "ok"}, receipt)
			reqs := rcv.Requests()
			require.Len(t, reqs, 1)
			require.NoError(t, reqs[0].Invalid, string(reqs[0].Body))
			require.Equal(t, "/hooks/"+hook, reqs[0].Path)

			var p mattermost.Payload
			require.NoError(t, json.Unmarshal(reqs[0].Body, &p))
			require.Len(t, p.Attachments, 1)
			a := p.Attachments[0]
			require.Equal(t, tc.color, a.Color)
			require.Equal(t, tc.titleLink, a.TitleLink)
			require.Contains(t, a.Fallback, "(inc_7f3a)")
			got := map[string]string{}
			for _, f := range a.Fields {
				require.True(t, f.Short)
				got[f.Title] = f.Value
			}
			for k, v := range tc.fields {
				require.Equal(t, v, got[k])
			}
			rendered := p.Text + "\n" + a.Title + "\n" + a.Text + "\n" + a.TitleLink // Markdown; fallback is plain text
			for _, bad := range tc.notIn {
				require.NotContains(t, rendered, bad)
			}
			require.NotContains(t, a.Fallback, "@channel")
		})
	}
}

func TestValidatorRefusesWrongShapes(t *testing.T) {
	good, err := json.Marshal(mattermost.BuildPayload(message()))
	require.NoError(t, err)
	require.NoError(t, notifytest.ValidateMattermost(good))
	for name, bad := range map[string]string{
		"unknown field": strings.Replace(string(good), `"title_link"`, `"titlelink"`, 1),
		"bad colour":    strings.Replace(string(good), `"#f2711c"`, `"orange"`, 1),
		"no short":      strings.Replace(string(good), `"short":true,`, ``, 1),
		"empty":         `{}`,
	} {
		require.Error(t, notifytest.ValidateMattermost([]byte(bad)), name)
	}
}

func TestSendClassifiesAnswers(t *testing.T) {
	for _, tc := range []struct {
		reply     notifytest.Reply
		retryable bool
	}{
		{notifytest.Reply{Code: 429}, true},
		{notifytest.Reply{Code: 500, Body: "failed /hooks/" + hook}, true},
		{notifytest.Reply{Code: 400, Body: `{"id":"web.incoming_webhook.parse.app_error"}`}, false},
		{notifytest.Reply{Code: 403, Body: "incoming webhooks disabled"}, false},
	} {
		t.Run(fmt.Sprint(tc.reply.Code), func(t *testing.T) {
			rcv := notifytest.NewMattermost(t)
			rcv.Reply(tc.reply)
			err := newNotifier(t, rcv.URL()).Notify(context.Background(), message())
			require.ErrorContains(t, err, fmt.Sprintf(`channel "mattermost": HTTP %d`, tc.reply.Code))
			require.Equal(t, tc.retryable, notify.Retryable(err))
			notifytest.RequireNoSecret(t, err, hook)
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	_, err := mattermost.New(mattermost.Config{})
	require.EqualError(t, err, "mattermost.webhook_url: is required")
}
