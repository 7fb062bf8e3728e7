// Package teams is the Microsoft Teams channel: an Adaptive Card posted to a Teams
// Workflows webhook ("Post to a channel when a webhook request is received") or to a
// legacy Office 365 incoming webhook. Both take the same envelope: a "message" whose one
// attachment is the card (https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using).
package teams

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

// Adaptive Card constants.
const (
	// ContentType is the attachment content type of an Adaptive Card.
	ContentType = "application/vnd.microsoft.card.adaptive"
	// Schema is the card's $schema.
	Schema = "http://adaptivecards.io/schemas/adaptive-card.json"
	// Version is the card version: 1.4 is the highest Teams renders everywhere,
	// mobile included.
	Version = "1.4"
	// maxText bounds a TextBlock; Teams cuts messages over about 28 KB as a whole.
	maxText = 4000
)

// Envelope is the body of the POST.
type Envelope struct {
	Type        string       `json:"type"`
	Attachments []Attachment `json:"attachments"`
}

// Attachment carries the card.
type Attachment struct {
	ContentType string `json:"contentType"`
	// ContentURL is null for an inline card; Workflows webhooks expect the key.
	ContentURL *string `json:"contentUrl"`
	Content    Card    `json:"content"`
}

// Card is an Adaptive Card.
type Card struct {
	Schema  string    `json:"$schema"`
	Type    string    `json:"type"`
	Version string    `json:"version"`
	Body    []Element `json:"body"`
	Actions []Action  `json:"actions,omitempty"`
	// MSTeams asks Teams to use the full message width.
	MSTeams map[string]string `json:"msteams,omitempty"`
}

// Element is a TextBlock or a FactSet; only the fields of its type are set.
type Element struct {
	Type   string `json:"type"`
	Text   string `json:"text,omitempty"`
	Size   string `json:"size,omitempty"`
	Weight string `json:"weight,omitempty"`
	Color  string `json:"color,omitempty"`
	Wrap   bool   `json:"wrap,omitempty"`
	// IsSubtle dims a footer line.
	IsSubtle bool   `json:"isSubtle,omitempty"`
	Facts    []Fact `json:"facts,omitempty"`
}

// Fact is one title/value row of a FactSet.
type Fact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

// Action is an Action.OpenUrl button.
type Action struct {
	Type  string `json:"type"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

// Config configures the Teams channel.
type Config struct {
	// WebhookURL is notifications.teams.webhook_url. Secret: it carries a signature.
	WebhookURL notify.Secret
	// HTTPClient sends the requests; nil means a client with a 10 s timeout that does
	// not follow redirects.
	HTTPClient *http.Client
}

// Notifier posts to one Teams webhook.
type Notifier struct {
	url    string
	client *http.Client
	red    *notify.Redactor
}

// New checks cfg and returns the channel. Errors name the key and never show the URL.
func New(cfg Config) (*Notifier, error) {
	raw := cfg.WebhookURL.Value()
	if raw == "" {
		return nil, errors.New("teams.webhook_url: is required")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("teams.webhook_url: want an http:// or https:// URL (value not shown: it is a secret)")
	}
	client := cfg.HTTPClient
	if client == nil {
		client = httppost.NewClient()
	}
	return &Notifier{url: raw, client: client, red: notify.NewURLRedactor(raw)}, nil
}

// Name returns notify.ChannelTeams.
func (n *Notifier) Name() string { return notify.ChannelTeams }

// Notify posts m.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) error {
	_, err := n.Send(ctx, m)
	return err
}

// Send posts m. Workflows webhooks answer 202 Accepted, legacy incoming webhooks 200 "1":
// any 2xx is success. 429 and 5xx are retryable; other answers are not.
func (n *Notifier) Send(ctx context.Context, m notify.Message) (notify.Receipt, error) {
	if err := m.Validate(); err != nil {
		return notify.Receipt{}, notify.Permanent(notify.ChannelTeams, err)
	}
	body, err := json.Marshal(BuildEnvelope(m))
	if err != nil {
		return notify.Receipt{}, notify.Permanent(notify.ChannelTeams, fmt.Errorf("encode payload: %w", err))
	}
	resp, err := httppost.Post(ctx, n.client, httppost.Request{
		Channel: notify.ChannelTeams, URL: n.url, Body: body, Redactor: n.red,
	})
	if err != nil {
		return notify.Receipt{}, err
	}
	shown := resp.Shown(n.red)
	if resp.Code < 200 || resp.Code > 299 {
		return notify.Receipt{}, httppost.StatusError(notify.ChannelTeams, resp, shown, n.red, time.Now())
	}
	return notify.Receipt{Channel: notify.ChannelTeams, Code: resp.Code, Response: shown}, nil
}

// BuildEnvelope renders m as an Adaptive Card: a bold headline coloured by severity, the
// text, a FactSet (severity, status, type, incident, source, actor, extra fields), links
// to the dashboard and the Temporal UI as Action.OpenUrl, and a subtle footer.
func BuildEnvelope(m notify.Message) Envelope {
	body := []Element{
		{Type: "TextBlock", Text: notify.OneLine(m.Kind.Label()+": "+m.Title, 200), Size: "Medium", Weight: "Bolder",
			Color: color(m), Wrap: true},
	}
	if m.Text != "" {
		body = append(body, Element{Type: "TextBlock", Text: notify.Truncate(m.Text, maxText), Wrap: true})
	}
	facts := []Fact{}
	for _, f := range append([]notify.Field{
		{Name: "Severity", Value: strings.ToUpper(string(m.Severity))},
		{Name: "Status", Value: string(m.Status)},
		{Name: "Type", Value: m.Type},
		{Name: "Incident", Value: m.IncidentID},
		{Name: "Source", Value: m.Source},
		{Name: "By", Value: m.Actor},
	}, m.Fields...) {
		if f.Value != "" {
			facts = append(facts, Fact{Title: notify.OneLine(f.Name, 100), Value: notify.Truncate(f.Value, 1000)})
		}
	}
	body = append(body, Element{Type: "FactSet", Facts: facts})
	body = append(body, Element{Type: "TextBlock", IsSubtle: true, Size: "Small", Wrap: true,
		Text: fmt.Sprintf("Mahavishnu Incident Response · %s · %s", m.Kind, m.Time().UTC().Format("2006-01-02 15:04:05 MST"))})
	var actions []Action
	for _, l := range []struct{ title, url string }{{"Open dashboard", m.Links.Dashboard}, {"Temporal UI", m.Links.TemporalUI}} {
		if validLink(l.url) {
			actions = append(actions, Action{Type: "Action.OpenUrl", Title: l.title, URL: l.url})
		}
	}
	return Envelope{Type: "message", Attachments: []Attachment{{
		ContentType: ContentType,
		Content: Card{Schema: Schema, Type: "AdaptiveCard", Version: Version, Body: body, Actions: actions,
			MSTeams: map[string]string{"width": "Full"}},
	}}}
}

// color is the headline's Adaptive Card colour.
func color(m notify.Message) string {
	switch {
	case m.Kind == notify.KindResolved:
		return "Good"
	case m.Severity == schemas.SeverityCritical || m.Severity == schemas.SeverityHigh:
		return "Attention"
	case m.Severity == schemas.SeverityMedium:
		return "Warning"
	}
	return "Default"
}

func validLink(s string) bool {
	u, err := url.Parse(s)
	return s != "" && err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
