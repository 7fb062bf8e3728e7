package cli

import (
	"log/slog"

	"github.com/mahavishnu/mahavishnu/api"
	"github.com/mahavishnu/mahavishnu/config"
	"github.com/mahavishnu/mahavishnu/notify"
	"github.com/mahavishnu/mahavishnu/notify/slack"
)

// slackOptions configures the Slack interactions endpoint (issue 12) from the config:
// the signing secret, and the Web API client that updates messages when a bot token is
// set. Directory is the people directory that maps Slack users to people.
func slackOptions(cfg *config.Config, logger *slog.Logger) api.SlackOptions {
	s := cfg.IncidentResponse.Notifications.Slack
	opts := api.SlackOptions{SigningSecret: s.SigningSecret.Value()}
	if s.WebAPI() {
		c, err := slack.NewClient(notify.Secret(s.BotToken.Value()), s.APIURL, nil)
		if err != nil {
			logger.Warn("slack interactions: messages will not be updated", "error", err)
		} else {
			opts.Client = c
		}
	}
	return opts
}
