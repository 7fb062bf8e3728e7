// Package slack is the Slack channel: Block Kit messages posted to an incoming webhook.
// Every kind (opened, acknowledged, resolved...) is posted as a new message; incoming
// webhooks cannot edit an earlier one.
package slack

import (
	"context"
	"net/http"

	"github.com/mahavishnu/mahavishnu/notify"
	"github.com/mahavishnu/mahavishnu/notify/internal/httppost"
)

// Config configures the Slack channel.
type Config struct {
	// WebhookURL is the incoming-webhook URL (notifications.slack.webhook_url). Secret.
	WebhookURL notify.Secret
	// HTTPClient sends the requests; nil means a client with a 10 s timeout that does
	// not follow redirects.
	HTTPClient *http.Client
}

// Notifier posts to one Slack incoming webhook.
type Notifier struct {
	w *httppost.Webhook
}

// New checks cfg and returns the channel. Errors name the key and never show the URL.
func New(cfg Config) (*Notifier, error) {
	w, err := httppost.NewWebhook(notify.ChannelSlack, "slack.webhook_url", cfg.WebhookURL, cfg.HTTPClient,
		func(m notify.Message) any { return BuildPayload(m) })
	if err != nil {
		return nil, err
	}
	return &Notifier{w: w}, nil
}

// Name returns notify.ChannelSlack.
func (n *Notifier) Name() string { return n.w.Name() }

// Notify posts m.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) error {
	_, err := n.Send(ctx, m)
	return err
}

// Send posts m and returns Slack's answer ("ok" on success). 429 (with its Retry-After)
// and 5xx are retryable; other answers, such as 400 invalid_blocks or 404 no_service,
// are not, and their text is in the error.
func (n *Notifier) Send(ctx context.Context, m notify.Message) (notify.Receipt, error) {
	return n.w.Send(ctx, m)
}
