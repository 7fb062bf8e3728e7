package httppost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/mahavishnu/mahavishnu/notify"
)

// CheckURL checks a secret webhook URL: present, http or https, with a host. Errors name
// key (e.g. "slack.webhook_url") and never show the value.
func CheckURL(key, raw string) error {
	if raw == "" {
		return errors.New(key + ": is required")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New(key + ": want an http:// or https:// URL (value not shown: it is a secret)")
	}
	return nil
}

// Webhook is the sending side shared by the chat channels that post one JSON payload to
// one secret incoming-webhook URL (Slack, Mattermost, Teams): the channel keeps only its
// payload. Any 2xx answer is success; the rest is classified by StatusError.
type Webhook struct {
	channel string
	url     string
	client  *http.Client
	red     *notify.Redactor
	build   func(notify.Message) any
}

// NewWebhook checks the URL (errors name key, see CheckURL) and returns the sender for
// channel. A nil client means NewClient(). build renders a valid message as the body.
func NewWebhook(channel, key string, webhookURL notify.Secret, client *http.Client, build func(notify.Message) any) (*Webhook, error) {
	raw := webhookURL.Value()
	if err := CheckURL(key, raw); err != nil {
		return nil, err
	}
	if client == nil {
		client = NewClient()
	}
	return &Webhook{channel: channel, url: raw, client: client, red: notify.NewURLRedactor(raw), build: build}, nil
}

// Name returns the channel name.
func (w *Webhook) Name() string { return w.channel }

// Send validates m, posts build(m) and returns the receiver's answer in the receipt.
// Invalid messages and unencodable payloads are permanent errors; a non-2xx answer is
// StatusError's (retryable for 408, 425, 429 and 5xx, with the Retry-After asked for).
func (w *Webhook) Send(ctx context.Context, m notify.Message) (notify.Receipt, error) {
	if err := m.Validate(); err != nil {
		return notify.Receipt{}, notify.Permanent(w.channel, err)
	}
	body, err := json.Marshal(w.build(m))
	if err != nil {
		return notify.Receipt{}, notify.Permanent(w.channel, fmt.Errorf("encode payload: %w", err))
	}
	resp, err := Post(ctx, w.client, Request{Channel: w.channel, URL: w.url, Body: body, Redactor: w.red})
	if err != nil {
		return notify.Receipt{}, err
	}
	shown := resp.Shown(w.red)
	if resp.Code < 200 || resp.Code > 299 {
		return notify.Receipt{}, StatusError(w.channel, resp, shown, w.red, time.Now())
	}
	return notify.Receipt{Channel: w.channel, Code: resp.Code, Response: shown}, nil
}
