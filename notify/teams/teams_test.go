package teams_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/notify"
	"github.com/mahavishnu/mahavishnu/notify/notifytest"
	"github.com/mahavishnu/mahavishnu/notify/teams"
	"github.com/mahavishnu/mahavishnu/schemas"
)

const sig = "sig=teams-secret-signature-42"

func message() notify.Message {
	return notify.Message{
		IncidentID: "inc_7f3a", Kind: notify.KindOpened, Title: "API error rate above threshold",
		Type: "error_rate", Severity: schemas.SeverityCritical, Status: schemas.StatusAssessing,
		Source: "api", Text: "42 errors in 60s from api", At: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		Links: notify.Links{Dashboard: "http://127.0.0.1:8080/incidents/inc_7f3a",
			TemporalUI: "http://127.0.0.1:8233/namespaces/default/workflows/incident%2Fx/history"},
	}
}

func newNotifier(t *testing.T, base string) *teams.Notifier {
	t.Helper()
	n, err := teams.New(teams.Config{WebhookURL: notify.Secret(base + "/workflows/abc/triggers/manual/paths/invoke?" + sig)})
	require.NoError(t, err)
	return n
}

func TestSendPostsAdaptiveCard(t *testing.T) {
	resolved := message()
	resolved.Kind, resolved.Actor, resolved.Status = notify.KindResolved, "bob", schemas.StatusResolved
	resolved.Fields = []notify.Field{{Name: "Assigned to", Value: "alice"}}
	noLinks := notify.NewTestMessage(time.Now())
	huge := message()
	huge.Text = strings.Repeat("x", 10000)
	for name, tc := range map[string]struct {
		msg       notify.Message
		headline  string
		color     string
		actions   int
		wantFacts map[string]string
	}{
		"opened":   {message(), "Incident opened: API error rate above threshold", "Attention", 2, map[string]string{"Severity": "CRITICAL", "Incident": "inc_7f3a", "Source": "api"}},
		"resolved": {resolved, "Resolved: API error rate above threshold", "Good", 2, map[string]string{"By": "bob", "Assigned to": "alice", "Status": "resolved"}},
		"test":     {noLinks, "Test notification: Mahavishnu test notification", "Default", 0, map[string]string{"Severity": "LOW"}},
		"huge":     {huge, "Incident opened: API error rate above threshold", "Attention", 2, nil},
	} {
		t.Run(name, func(t *testing.T) {
			rcv := notifytest.NewTeams(t)
			receipt, err := newNotifier(t, rcv.URL()).Send(context.Background(), tc.msg)
			require.NoError(t, err)
			require.Equal(t, notify.Receipt{Channel: "teams", Code: 202}, receipt)
			reqs := rcv.Requests()
			require.Len(t, reqs, 1)
			require.NoError(t, reqs[0].Invalid, string(reqs[0].Body))

			var env teams.Envelope
			require.NoError(t, json.Unmarshal(reqs[0].Body, &env))
			card := env.Attachments[0].Content
			require.Equal(t, tc.headline, card.Body[0].Text)
			require.Equal(t, tc.color, card.Body[0].Color)
			require.Len(t, card.Actions, tc.actions)
			if tc.actions > 0 {
				require.Equal(t, tc.msg.Links.Dashboard, card.Actions[0].URL)
			}
			facts := map[string]string{}
			for _, e := range card.Body {
				for _, f := range e.Facts {
					facts[f.Title] = f.Value
				}
			}
			for k, v := range tc.wantFacts {
				require.Equal(t, v, facts[k], "fact %s", k)
			}
			require.Contains(t, string(reqs[0].Body), `"contentUrl":null`)
		})
	}
}

func TestValidatorRefusesWrongShapes(t *testing.T) {
	good, err := json.Marshal(teams.BuildEnvelope(message()))
	require.NoError(t, err)
	require.NoError(t, notifytest.ValidateTeams(good))
	for name, bad := range map[string]string{
		"not a message":    strings.Replace(string(good), `"type":"message"`, `"type":"card"`, 1),
		"wrong content":    strings.Replace(string(good), "application/vnd.microsoft.card.adaptive", "application/json", 1),
		"unknown field":    strings.Replace(string(good), `"wrap":true`, `"wrapp":true`, 1),
		"bad action":       strings.Replace(string(good), "Action.OpenUrl", "Action.Submit", 1),
		"too new a schema": strings.Replace(string(good), `"version":"1.4"`, `"version":"2.0"`, 1),
	} {
		require.Error(t, notifytest.ValidateTeams([]byte(bad)), name)
	}
}

func TestSendClassifiesAnswers(t *testing.T) {
	for _, tc := range []struct {
		reply     notifytest.Reply
		retryable bool
	}{
		{notifytest.Reply{Code: 429, Body: "Too many requests"}, true},
		{notifytest.Reply{Code: 502}, true},
		{notifytest.Reply{Code: 400, Body: "Bad payload " + sig}, false},
		{notifytest.Reply{Code: 404}, false},
	} {
		t.Run(fmt.Sprint(tc.reply.Code), func(t *testing.T) {
			rcv := notifytest.NewTeams(t)
			rcv.Reply(tc.reply)
			err := newNotifier(t, rcv.URL()).Notify(context.Background(), message())
			require.ErrorContains(t, err, fmt.Sprintf(`channel "teams": HTTP %d`, tc.reply.Code))
			require.Equal(t, tc.retryable, notify.Retryable(err))
			notifytest.RequireNoSecret(t, err, sig)
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	_, err := teams.New(teams.Config{})
	require.EqualError(t, err, "teams.webhook_url: is required")
	_, err = teams.New(teams.Config{WebhookURL: "outlook.office.com/webhook/" + sig})
	require.EqualError(t, err, "teams.webhook_url: want an http:// or https:// URL (value not shown: it is a secret)")
}
