// Package teams is the Microsoft Teams channel: an Adaptive Card posted to a Teams
// Workflows webhook ("Post to a channel when a webhook request is received") or to a
// legacy Office 365 incoming webhook. Both take the same envelope: a "message" whose one
// attachment is the card (https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using).
package teams

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
	w *httppost.Webhook
}

// New checks cfg and returns the channel. Errors name the key and never show the URL.
func New(cfg Config) (*Notifier, error) {
	w, err := httppost.NewWebhook(notify.ChannelTeams, "teams.webhook_url", cfg.WebhookURL, cfg.HTTPClient,
		func(m notify.Message) any { return BuildEnvelope(m) })
	if err != nil {
		return nil, err
	}
	return &Notifier{w: w}, nil
}

// Name returns notify.ChannelTeams.
func (n *Notifier) Name() string { return n.w.Name() }

// Notify posts m.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) error {
	_, err := n.Send(ctx, m)
	return err
}

// Send posts m. Workflows webhooks answer 202 Accepted, legacy incoming webhooks 200 "1":
// any 2xx is success. 429 and 5xx are retryable; other answers are not.
func (n *Notifier) Send(ctx context.Context, m notify.Message) (notify.Receipt, error) {
	return n.w.Send(ctx, m)
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
