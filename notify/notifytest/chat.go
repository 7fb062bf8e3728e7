package notifytest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"testing"
)

// NewTeams starts a receiver that behaves like a Teams Workflows webhook: 202 Accepted
// (empty body) for a valid Adaptive Card message, 400 with the reason otherwise.
func NewTeams(t testing.TB) *Receiver {
	return NewReceiver(t, ReceiverOptions{
		Validate: func(r *http.Request, body []byte) error {
			if err := checkPost(r); err != nil {
				return err
			}
			return ValidateTeams(body)
		},
		Valid:   func([]byte) Reply { return Reply{Code: http.StatusAccepted} },
		Invalid: func(err error) Reply { return Reply{Code: http.StatusBadRequest, Body: "BadRequest: " + err.Error()} },
	})
}

type teamsElement struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Size     string `json:"size"`
	Weight   string `json:"weight"`
	Color    string `json:"color"`
	Wrap     bool   `json:"wrap"`
	IsSubtle bool   `json:"isSubtle"`
	Facts    []struct {
		Title string `json:"title"`
		Value string `json:"value"`
	} `json:"facts"`
}

type teamsCard struct {
	Schema  string         `json:"$schema"`
	Type    string         `json:"type"`
	Version string         `json:"version"`
	Body    []teamsElement `json:"body"`
	Actions []struct {
		Type  string `json:"type"`
		Title string `json:"title"`
		URL   string `json:"url"`
	} `json:"actions"`
	MSTeams map[string]string `json:"msteams"`
}

// ValidateTeams checks a body against the message-with-Adaptive-Card shape Teams webhooks
// take (https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using
// and the Adaptive Card schema at https://adaptivecards.io/explorer/): "type": "message",
// exactly one attachment of contentType application/vnd.microsoft.card.adaptive whose
// content is an AdaptiveCard with $schema, a version Teams renders (at most 1.5), a body of
// TextBlocks (non-empty text, known size/weight/color) and FactSets (facts with title and
// value), and Action.OpenUrl actions with a title and an absolute http(s) URL. Unknown
// fields are refused, so a typo does not pass.
func ValidateTeams(body []byte) error {
	var env struct {
		Type        string `json:"type"`
		Attachments []struct {
			ContentType string          `json:"contentType"`
			ContentURL  *string         `json:"contentUrl"`
			Content     json.RawMessage `json:"content"`
		} `json:"attachments"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return errorf("body: %v", err)
	}
	if env.Type != "message" {
		return errorf("type: want \"message\", got %q", env.Type)
	}
	if len(env.Attachments) != 1 {
		return errorf("attachments: want exactly 1, got %d", len(env.Attachments))
	}
	a := env.Attachments[0]
	if a.ContentType != "application/vnd.microsoft.card.adaptive" {
		return errorf("attachments[0].contentType: want application/vnd.microsoft.card.adaptive, got %q", a.ContentType)
	}
	var card teamsCard
	dec = json.NewDecoder(bytes.NewReader(a.Content))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&card); err != nil {
		return errorf("attachments[0].content: %v", err)
	}
	var errs []error
	if card.Type != "AdaptiveCard" {
		errs = append(errs, errorf("content.type: want AdaptiveCard, got %q", card.Type))
	}
	if card.Schema != "http://adaptivecards.io/schemas/adaptive-card.json" {
		errs = append(errs, errorf("content.$schema: got %q", card.Schema))
	}
	switch card.Version {
	case "1.0", "1.1", "1.2", "1.3", "1.4", "1.5":
	default:
		errs = append(errs, errorf("content.version: want 1.0-1.5, got %q", card.Version))
	}
	if len(card.Body) == 0 {
		errs = append(errs, errorf("content.body: is empty"))
	}
	sizes := map[string]bool{"": true, "Small": true, "Default": true, "Medium": true, "Large": true, "ExtraLarge": true}
	weights := map[string]bool{"": true, "Lighter": true, "Default": true, "Bolder": true}
	colors := map[string]bool{"": true, "Default": true, "Dark": true, "Light": true, "Accent": true, "Good": true, "Warning": true, "Attention": true}
	for i, e := range card.Body {
		at := fmt.Sprintf("content.body[%d]", i)
		switch e.Type {
		case "TextBlock":
			if e.Text == "" {
				errs = append(errs, errorf("%s.text: is required", at))
			}
			if !sizes[e.Size] || !weights[e.Weight] || !colors[e.Color] {
				errs = append(errs, errorf("%s: unknown size, weight or color (%q, %q, %q)", at, e.Size, e.Weight, e.Color))
			}
			if len(e.Facts) > 0 {
				errs = append(errs, errorf("%s.facts: not a TextBlock property", at))
			}
		case "FactSet":
			if len(e.Facts) == 0 {
				errs = append(errs, errorf("%s.facts: is required", at))
			}
			for j, f := range e.Facts {
				if f.Title == "" || f.Value == "" {
					errs = append(errs, errorf("%s.facts[%d]: title and value are required", at, j))
				}
			}
			if e.Text != "" {
				errs = append(errs, errorf("%s.text: not a FactSet property", at))
			}
		default:
			errs = append(errs, errorf("%s.type: unsupported element %q", at, e.Type))
		}
	}
	for i, act := range card.Actions {
		at := fmt.Sprintf("content.actions[%d]", i)
		if act.Type != "Action.OpenUrl" {
			errs = append(errs, errorf("%s.type: want Action.OpenUrl, got %q", at, act.Type))
		}
		if act.Title == "" {
			errs = append(errs, errorf("%s.title: is required", at))
		}
		if u, err := url.Parse(act.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, errorf("%s.url: want an absolute http(s) URL", at))
		}
	}
	return errors.Join(errs...)
}

// NewMattermost starts a receiver that behaves like a Mattermost incoming webhook: 200
// "ok" for a valid message, 400 with Mattermost's error JSON otherwise.
func NewMattermost(t testing.TB) *Receiver {
	return NewReceiver(t, ReceiverOptions{
		Validate: func(r *http.Request, body []byte) error {
			if err := checkPost(r); err != nil {
				return err
			}
			return ValidateMattermost(body)
		},
		Valid: func([]byte) Reply { return Reply{Code: http.StatusOK, Body: "ok"} },
		Invalid: func(err error) Reply {
			b, _ := json.Marshal(map[string]any{"id": "web.incoming_webhook.parse.app_error", "message": err.Error(), "status_code": 400})
			return Reply{Code: http.StatusBadRequest, Body: string(b)}
		},
	})
}

// ValidateMattermost checks a body against Mattermost's incoming-webhook parameters
// (https://developers.mattermost.com/integrate/webhooks/incoming/#parameters) and message
// attachments (https://developers.mattermost.com/integrate/reference/message-attachments/):
// only known fields, text or attachments present, each attachment with a fallback, a
// colour in #rrggbb (or good/warning/danger), a title_link that is an absolute URL, and
// fields with a title, a value and a boolean short.
func ValidateMattermost(body []byte) error {
	type field struct {
		Title string `json:"title"`
		Value any    `json:"value"`
		Short *bool  `json:"short"`
	}
	type attachment struct {
		Fallback   string  `json:"fallback"`
		Color      string  `json:"color"`
		Pretext    string  `json:"pretext"`
		AuthorName string  `json:"author_name"`
		AuthorLink string  `json:"author_link"`
		AuthorIcon string  `json:"author_icon"`
		Title      string  `json:"title"`
		TitleLink  string  `json:"title_link"`
		Text       string  `json:"text"`
		Fields     []field `json:"fields"`
		ImageURL   string  `json:"image_url"`
		ThumbURL   string  `json:"thumb_url"`
		Footer     string  `json:"footer"`
		FooterIcon string  `json:"footer_icon"`
	}
	var p struct {
		Text        string         `json:"text"`
		Channel     string         `json:"channel"`
		Username    string         `json:"username"`
		IconURL     string         `json:"icon_url"`
		IconEmoji   string         `json:"icon_emoji"`
		Attachments []attachment   `json:"attachments"`
		Type        string         `json:"type"`
		Props       map[string]any `json:"props"`
		Priority    map[string]any `json:"priority"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return errorf("body: %v", err)
	}
	if p.Text == "" && len(p.Attachments) == 0 {
		return errorf("text or attachments: one is required")
	}
	var errs []error
	for i, a := range p.Attachments {
		at := fmt.Sprintf("attachments[%d]", i)
		if a.Fallback == "" {
			errs = append(errs, errorf("%s.fallback: is required", at))
		}
		if !mmColor(a.Color) {
			errs = append(errs, errorf("%s.color: want #rrggbb, good, warning or danger, got %q", at, a.Color))
		}
		if a.TitleLink != "" {
			if u, err := url.Parse(a.TitleLink); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				errs = append(errs, errorf("%s.title_link: want an absolute http(s) URL", at))
			}
		}
		for j, f := range a.Fields {
			if f.Title == "" || f.Value == nil || f.Short == nil {
				errs = append(errs, errorf("%s.fields[%d]: title, value and short are required", at, j))
			}
		}
	}
	return errors.Join(errs...)
}

func mmColor(c string) bool {
	switch c {
	case "", "good", "warning", "danger":
		return true
	}
	if len(c) != 7 || c[0] != '#' {
		return false
	}
	for _, r := range c[1:] {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
			return false
		}
	}
	return true
}
