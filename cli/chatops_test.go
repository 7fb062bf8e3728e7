package cli

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/config"
	"github.com/mahavishnu/mahavishnu/notify"
	"github.com/mahavishnu/mahavishnu/notify/notifytest"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// runNotifyTest runs `incidents notify test` with a config file holding yaml.
func runNotifyTest(t *testing.T, yaml string, args ...string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "mahavishnu.yaml")
	require.NoError(t, os.WriteFile(path, []byte("data_dir: \""+dir+"\"\n"+yaml), 0o600))
	prev := cli.OsExiter
	cli.OsExiter = func(int) {}
	t.Cleanup(func() { cli.OsExiter = prev })
	var out, errOut bytes.Buffer
	app := NewApp(Options{Stdout: &out, Stderr: &errOut})
	err := Run(context.Background(), app, append([]string{"mahavishnu", "--config", path, "incidents", "notify", "test"}, args...))
	return out.String(), err
}

func TestNotifyTestSaysWhichSlackMode(t *testing.T) {
	hook := notifytest.NewSlack(t)
	out, err := runNotifyTest(t, "incident_response:\n  notifications:\n    slack:\n      webhook_url: \""+hook.URL()+"/services/T/B/x\"\n", "--channel", "slack")
	require.NoError(t, err)
	require.Contains(t, out, "Test message sent to slack: 200 ok")
	require.Contains(t, out, "webhook mode: messages are not threaded and carry no buttons")

	api := notifytest.NewSlackAPI(t, "xoxb-test")
	out, err = runNotifyTest(t, "incident_response:\n  notifications:\n    slack:\n      bot_token: xoxb-test\n      channel: C1\n      api_url: \""+api.URL()+"\"\n", "--channel", "slack")
	require.NoError(t, err)
	require.Contains(t, out, "threaded per incident and carry buttons")
	require.NotContains(t, out, "webhook mode")
	require.Len(t, api.Messages(), 1)
}

func TestTeamsAndMattermostRoutedBySeverity(t *testing.T) {
	tm, mm := notifytest.NewTeams(t), notifytest.NewMattermost(t)
	cfg := config.Default()
	n := &cfg.IncidentResponse.Notifications
	n.Teams.Enabled, n.Teams.WebhookURL, n.Teams.NotifyOnSeverity = true, config.Secret(tm.URL()+"/hook"), []string{"critical"}
	n.Mattermost.Enabled, n.Mattermost.WebhookURL = true, config.Secret(mm.URL()+"/hooks/x")
	notes, err := newNotifications(cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.Equal(t, []string{"log", "mattermost", "teams"}, notes.Route(testNotifyInput(schemas.SeverityCritical)))
	require.Equal(t, []string{"log", "mattermost"}, notes.Route(testNotifyInput(schemas.SeverityMedium)))
	require.Equal(t, []string{"log"}, notes.Route(testNotifyInput(schemas.SeverityLow)))
	ctx := context.Background()
	require.NoError(t, notes.Send(ctx, notify.ChannelTeams, testNotifyInput(schemas.SeverityCritical)))
	require.NoError(t, notes.Send(ctx, notify.ChannelMattermost, testNotifyInput(schemas.SeverityCritical)))
	require.Len(t, tm.Requests(), 1)
	require.NoError(t, tm.Requests()[0].Invalid)
	require.Len(t, mm.Requests(), 1)
	require.NoError(t, mm.Requests()[0].Invalid)
}
