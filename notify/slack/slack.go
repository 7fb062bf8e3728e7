// Package slack is the Slack channel: Block Kit messages posted to an incoming webhook.
// Every kind (opened, acknowledged, resolved...) is posted as a new message; incoming
// webhooks cannot edit an earlier one.
package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

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
	url    string
	client *http.Client
	red    *notify.Redactor
}

// New checks cfg and returns the channel. Errors name the key and never show the URL.
func New(cfg Config) (*Notifier, error) {
	raw := cfg.WebhookURL.Value()
	if raw == "" {
		return nil, errors.New("slack.webhook_url: is required")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("slack.webhook_url: want an http:// or https:// URL (value not shown: it is a secret)")
	}
	client := cfg.HTTPClient
	if client == nil {
		client = httppost.NewClient()
	}
	return &Notifier{url: raw, client: client, red: notify.NewURLRedactor(raw)}, nil
}

// Name returns notify.ChannelSlack.
func (n *Notifier) Name() string { return notify.ChannelSlack }

// Notify posts m.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) error {
	_, err := n.Send(ctx, m)
	return err
}

// Send posts m and returns Slack's answer ("ok" on success). 429 (with its Retry-After)
// and 5xx are retryable; other answers, such as 400 invalid_blocks or 404 no_service,
// are not, and their text is in the error.
func (n *Notifier) Send(ctx context.Context, m notify.Message) (notify.Receipt, error) {
	if err := m.Validate(); err != nil {
		return notify.Receipt{}, notify.Permanent(notify.ChannelSlack, err)
	}
	body, err := json.Marshal(BuildPayload(m))
	if err != nil {
		return notify.Receipt{}, notify.Permanent(notify.ChannelSlack, fmt.Errorf("encode payload: %w", err))
	}
	resp, err := httppost.Post(ctx, n.client, httppost.Request{
		Channel: notify.ChannelSlack, URL: n.url, Body: body, Redactor: n.red,
	})
	if err != nil {
		return notify.Receipt{}, err
	}
	shown := resp.Shown(n.red)
	if resp.Code < 200 || resp.Code > 299 {
		return notify.Receipt{}, httppost.StatusError(notify.ChannelSlack, resp, shown, n.red, time.Now())
	}
	return notify.Receipt{Channel: notify.ChannelSlack, Code: resp.Code, Response: shown}, nil
}
