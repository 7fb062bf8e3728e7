// Package mattermost is the Mattermost channel: a message posted to a Mattermost incoming
// webhook, which takes Slack's format with message attachments
// (https://developers.mattermost.com/integrate/webhooks/incoming/ and
// https://developers.mattermost.com/integrate/reference/message-attachments/).
package mattermost

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

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
	w *httppost.Webhook
}

// New checks cfg and returns the channel. Errors name the key and never show the URL.
func New(cfg Config) (*Notifier, error) {
	w, err := httppost.NewWebhook(notify.ChannelMattermost, "mattermost.webhook_url", cfg.WebhookURL, cfg.HTTPClient,
		func(m notify.Message) any { return BuildPayload(m) })
	if err != nil {
		return nil, err
	}
	return &Notifier{w: w}, nil
}

// Name returns notify.ChannelMattermost.
func (n *Notifier) Name() string { return n.w.Name() }

// Notify posts m.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) error {
	_, err := n.Send(ctx, m)
	return err
}

// Send posts m and returns Mattermost's answer ("ok"). 429 and 5xx are retryable; other
// answers (400 for a bad payload, 404/403 for a removed or disabled hook) are not.
func (n *Notifier) Send(ctx context.Context, m notify.Message) (notify.Receipt, error) {
	return n.w.Send(ctx, m)
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
