// Package mattermost is the Mattermost channel: a message posted to a Mattermost incoming
// webhook, which takes Slack's format with message attachments
// (https://developers.mattermost.com/integrate/webhooks/incoming/ and
// https://developers.mattermost.com/integrate/reference/message-attachments/).
package mattermost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mahavishnu/mahavishnu/notify"
	"github.com/mahavishnu/mahavishnu/notify/internal/httppost"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// Username is the name the posts show (webhooks may override it when the server allows).
const Username = "Mahavishnu"

// Payload is the webhook body.
type Payload struct {
	// Text is shown above the attachment and in notifications.
	Text        string       `json:"text"`
	Username    string       `json:"username,omitempty"`
	Attachments []Attachment `json:"attachments"`
}

// Attachment is a Slack-style message attachment.
type Attachment struct {
	Fallback  string  `json:"fallback"`
	Color     string  `json:"color"`
	Title     string  `json:"title"`
	TitleLink string  `json:"title_link,omitempty"`
	Text      string  `json:"text,omitempty"`
	Fields    []Field `json:"fields,omitempty"`
	Footer    string  `json:"footer"`
}

// Field is one attachment field; Short fields sit side by side.
type Field struct {
	Short bool   `json:"short"`
	Title string `json:"title"`
	Value string `json:"value"`
}

// Config configures the Mattermost channel.
type Config struct {
	// WebhookURL is notifications.mattermost.webhook_url. Secret: the hook ID is the key.
	WebhookURL notify.Secret
	// HTTPClient sends the requests; nil means a client with a 10 s timeout that does
	// not follow redirects.
	HTTPClient *http.Client
}

// Notifier posts to one Mattermost incoming webhook.
type Notifier struct {
	url    string
	client *http.Client
	red    *notify.Redactor
}

// New checks cfg and returns the channel. Errors name the key and never show the URL.
func New(cfg Config) (*Notifier, error) {
	raw := cfg.WebhookURL.Value()
	if raw == "" {
		return nil, errors.New("mattermost.webhook_url: is required")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("mattermost.webhook_url: want an http:// or https:// URL (value not shown: it is a secret)")
	}
	client := cfg.HTTPClient
	if client == nil {
		client = httppost.NewClient()
	}
	return &Notifier{url: raw, client: client, red: notify.NewURLRedactor(raw)}, nil
}

// Name returns notify.ChannelMattermost.
func (n *Notifier) Name() string { return notify.ChannelMattermost }

// Notify posts m.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) error {
	_, err := n.Send(ctx, m)
	return err
}

// Send posts m and returns Mattermost's answer ("ok"). 429 and 5xx are retryable; other
// answers (400 for a bad payload, 404/403 for a removed or disabled hook) are not.
func (n *Notifier) Send(ctx context.Context, m notify.Message) (notify.Receipt, error) {
	if err := m.Validate(); err != nil {
		return notify.Receipt{}, notify.Permanent(notify.ChannelMattermost, err)
	}
	body, err := json.Marshal(BuildPayload(m))
	if err != nil {
		return notify.Receipt{}, notify.Permanent(notify.ChannelMattermost, fmt.Errorf("encode payload: %w", err))
	}
	resp, err := httppost.Post(ctx, n.client, httppost.Request{
		Channel: notify.ChannelMattermost, URL: n.url, Body: body, Redactor: n.red,
	})
	if err != nil {
		return notify.Receipt{}, err
	}
	shown := resp.Shown(n.red)
	if resp.Code < 200 || resp.Code > 299 {
		return notify.Receipt{}, httppost.StatusError(notify.ChannelMattermost, resp, shown, n.red, time.Now())
	}
	return notify.Receipt{Channel: notify.ChannelMattermost, Code: resp.Code, Response: shown}, nil
}

// BuildPayload renders m as one attachment coloured by severity, titled with the kind and
// title and linked to the dashboard, with short fields and a footer. Mattermost renders
// Markdown, so user text is escaped where it could form links or mentions.
func BuildPayload(m notify.Message) Payload {
	fields := []Field{}
	for _, f := range append([]notify.Field{
		{Name: "Severity", Value: strings.ToUpper(string(m.Severity))},
		{Name: "Status", Value: string(m.Status)},
		{Name: "Type", Value: m.Type},
		{Name: "Incident", Value: m.IncidentID},
		{Name: "Source", Value: m.Source},
		{Name: "By", Value: m.Actor},
	}, m.Fields...) {
		if f.Value != "" {
			fields = append(fields, Field{Short: true, Title: notify.OneLine(f.Name, 100), Value: escape(notify.Truncate(f.Value, 1000))})
		}
	}
	text := escape(notify.Truncate(m.Text, 4000))
	if validLink(m.Links.TemporalUI) {
		text += "\n[Temporal UI](" + m.Links.TemporalUI + ")"
	}
	a := Attachment{
		Fallback: strings.ReplaceAll(m.Subject()+" — "+m.Kind.Label(), "@", "@\u200b"), // plain text: only mentions matter
		Color:    color(m),
		Title:    escape(notify.OneLine(m.Kind.Label()+": "+m.Title, 200)),
		Text:     strings.TrimSpace(text),
		Fields:   fields,
		Footer:   fmt.Sprintf("Mahavishnu Incident Response · %s · %s", m.Kind, m.Time().UTC().Format("2006-01-02 15:04:05 MST")),
	}
	if validLink(m.Links.Dashboard) {
		a.TitleLink = m.Links.Dashboard
	}
	return Payload{Text: escape(m.Subject()), Username: Username, Attachments: []Attachment{a}}
}

// escape keeps user text from mentioning everyone (@channel, @all, @here) or forming
// Markdown links: a zero-width space after @ breaks a mention, brackets are escaped.
func escape(s string) string {
	return strings.NewReplacer("@", "@\u200b", "[", `\[`, "]", `\]`, "<", "&lt;", ">", "&gt;").Replace(s)
}

func color(m notify.Message) string {
	switch {
	case m.Kind == notify.KindResolved:
		return "#2eb67d"
	case m.Severity == schemas.SeverityCritical:
		return "#d00000"
	case m.Severity == schemas.SeverityHigh:
		return "#f2711c"
	case m.Severity == schemas.SeverityMedium:
		return "#fbbd08"
	}
	return "#2185d0"
}

func validLink(s string) bool {
	u, err := url.Parse(s)
	return s != "" && err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
