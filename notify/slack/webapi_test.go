package slack_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/notify"
	"github.com/mahavishnu/mahavishnu/notify/notifytest"
	"github.com/mahavishnu/mahavishnu/notify/slack"
	"github.com/mahavishnu/mahavishnu/schemas"
)

const botToken = "xoxb-111-222-bot-secret"

func newAPINotifier(t *testing.T, api *notifytest.SlackAPI, threads slack.Threads) *slack.APINotifier {
	t.Helper()
	n, err := slack.NewAPI(slack.APIConfig{BotToken: botToken, Channel: "C0INCIDENTS", APIURL: api.URL(), Threads: threads})
	require.NoError(t, err)
	return n
}

// actionIDs lists the action_id of every button in a message's blocks.
func actionIDs(t *testing.T, blocks json.RawMessage) []string {
	t.Helper()
	var bs []struct {
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	require.NoError(t, json.Unmarshal(blocks, &bs))
	var out []string
	for _, b := range bs {
		for _, e := range b.Elements {
			if e.ActionID != "" && e.ActionID != "open_dashboard" && e.ActionID != "open_temporal_ui" {
				out = append(out, e.ActionID+"="+e.Value)
			}
		}
	}
	return out
}

func TestWebAPIThreadsEveryLaterMessage(t *testing.T) {
	api := notifytest.NewSlackAPI(t, botToken)
	n := newAPINotifier(t, api, &slack.MemoryThreads{})
	ctx := context.Background()

	opened := message()
	receipt, err := n.Send(ctx, opened)
	require.NoError(t, err)
	require.Equal(t, "ok ts=1700000000.000001", receipt.Response)

	approval := message()
	approval.Kind, approval.Action = notify.KindApprovalRequested, "restart_service"
	approval.Text = "approval needed to run restart_service: ..."
	require.NoError(t, n.Notify(ctx, approval))

	acked := message()
	acked.Kind, acked.Actor = notify.KindAcknowledged, "alice"
	require.NoError(t, n.Notify(ctx, acked))

	other := message()
	other.IncidentID = "inc_other"
	require.NoError(t, n.Notify(ctx, other))

	resolved := message()
	resolved.Kind, resolved.Actor, resolved.Status = notify.KindResolved, "bob", schemas.StatusResolved
	require.NoError(t, n.Notify(ctx, resolved))

	msgs := api.Messages()
	require.Len(t, msgs, 5)
	root := msgs[0]
	require.Empty(t, root.ThreadTS, "the first message opens the thread")
	require.Equal(t, "C0INCIDENTS", root.Channel)
	for _, i := range []int{1, 2, 4} {
		require.Equal(t, root.TS, msgs[i].ThreadTS, "message %d of the incident is in its thread", i)
	}
	require.Empty(t, msgs[3].ThreadTS, "another incident opens its own thread")

	require.Equal(t, []string{"mv_approve=inc_7f3a|restart_service", "mv_reject=inc_7f3a|restart_service"}, actionIDs(t, msgs[1].Blocks))
	require.Equal(t, []string{"mv_resolve=inc_7f3a"}, actionIDs(t, msgs[2].Blocks), "acknowledged: no Acknowledge button")
	require.Empty(t, actionIDs(t, msgs[4].Blocks), "resolved: no buttons")

	require.Equal(t, 2, root.Updates, "acknowledgement and resolution rewrite the first message")
	require.Empty(t, actionIDs(t, root.Blocks), "the first message now shows the resolution")
	require.Contains(t, root.Text, "Resolved")
	for _, c := range api.Calls() {
		require.Empty(t, c.Error, "%s: %v", c.Method, c.Body)
	}
}

func TestWebAPIFirstMessageHasAckAndResolve(t *testing.T) {
	api := notifytest.NewSlackAPI(t, botToken)
	require.NoError(t, newAPINotifier(t, api, nil).Notify(context.Background(), message()))
	require.Equal(t, []string{"mv_acknowledge=inc_7f3a", "mv_resolve=inc_7f3a"}, actionIDs(t, api.Messages()[0].Blocks))
}

func TestWebAPIErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		code      string
		retryable bool
	}{{"ratelimited", true}, {"channel_not_found", false}, {"not_in_channel", false}, {"invalid_auth", false}} {
		t.Run(tc.code, func(t *testing.T) {
			api := notifytest.NewSlackAPI(t, botToken)
			api.Fail(tc.code)
			err := newAPINotifier(t, api, nil).Notify(ctx, message())
			require.ErrorContains(t, err, "chat.postMessage: "+tc.code)
			require.Equal(t, tc.retryable, notify.Retryable(err))
			notifytest.RequireNoSecret(t, err, botToken)
		})
	}
	api := notifytest.NewSlackAPI(t, "xoxb-another-token")
	err := newAPINotifier(t, api, nil).Notify(ctx, message())
	require.ErrorContains(t, err, "invalid_auth", "the token goes in the Authorization header")
}

func TestWebAPITestMessageSaysThreadsAndButtons(t *testing.T) {
	api := notifytest.NewSlackAPI(t, botToken)
	receipt, err := newAPINotifier(t, api, nil).Send(context.Background(), notify.NewTestMessage(time.Now()))
	require.NoError(t, err)
	require.Contains(t, receipt.Response, "threaded per incident and carry buttons")
}

func TestNewAPIRejectsBadConfig(t *testing.T) {
	_, err := slack.NewAPI(slack.APIConfig{BotToken: botToken})
	require.EqualError(t, err, "slack.channel: is required with slack.bot_token")
	_, err = slack.NewAPI(slack.APIConfig{Channel: "C1"})
	require.EqualError(t, err, "slack.bot_token: is required")
	_, err = slack.NewAPI(slack.APIConfig{BotToken: botToken, Channel: "C1", APIURL: "slack.com/api"})
	require.ErrorContains(t, err, "slack.api_url")
}
