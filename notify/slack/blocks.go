package slack

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/mahavishnu/mahavishnu/notify"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// Block Kit limits (https://api.slack.com/reference/block-kit/blocks).
const (
	maxHeaderText  = 150
	maxSectionText = 3000
	maxFieldText   = 2000
	maxFields      = 10
	maxButtonText  = 75
	maxURL         = 3000
	maxContextText = 2000
)

// Payload is an incoming-webhook message.
type Payload struct {
	// Text is the fallback shown in notifications and by clients without blocks.
	Text   string  `json:"text"`
	Blocks []Block `json:"blocks"`
}

// Block is one Block Kit layout block; only the fields of its type are set.
type Block struct {
	Type     string       `json:"type"`
	BlockID  string       `json:"block_id,omitempty"`
	Text     *TextObject  `json:"text,omitempty"`
	Fields   []TextObject `json:"fields,omitempty"`
	Elements []Element    `json:"elements,omitempty"`
}

// TextObject is a plain_text or mrkdwn text object.
type TextObject struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

// Element is a button (in an actions block) or a text element (in a context block).
type Element struct {
	Type string `json:"type"`
	// Text is a TextObject for a button, a string for a context text element.
	Text     any    `json:"text,omitempty"`
	URL      string `json:"url,omitempty"`
	ActionID string `json:"action_id,omitempty"`
	// Value and Style are set on interactive buttons (Web API mode only).
	Value string `json:"value,omitempty"`
	Style string `json:"style,omitempty"`
}

// BuildPayload renders m as a Block Kit message: a header with the kind and title, a
// section with the text and the severity/status/type/incident fields, extra fields, link
// buttons to the dashboard and the Temporal UI, and a context line.
func BuildPayload(m notify.Message) Payload { return buildPayload(m, nil) }

// buildPayload is BuildPayload with interactive buttons placed before the link buttons.
func buildPayload(m notify.Message, interactive []Element) Payload {
	// Slack treats &, < and > as control characters in every text, plain_text included.
	header := escapeFit(notify.OneLine(emoji(m)+" "+m.Kind.Label()+": "+m.Title, 0), maxHeaderText)

	intro := fmt.Sprintf("*%s* · %s", escapeFit(m.IncidentID, 200), escape(m.Kind.Label()))
	if m.Actor != "" {
		intro += " by " + escapeFit(m.Actor, 200)
	}
	// Paged people are mentioned (<@U123> is Slack's mention syntax, never escaped).
	mentions := Mentions(m)
	if mentions != "" {
		intro = mentions + "\n" + intro
	}
	if m.Text != "" {
		intro += "\n" + escapeFit(m.Text, maxSectionText-utf8.RuneCountInString(intro)-1)
	}
	fields := []notify.Field{
		{Name: "Severity", Value: strings.ToUpper(string(m.Severity))},
		{Name: "Status", Value: string(m.Status)},
		{Name: "Type", Value: m.Type},
		{Name: "Incident", Value: m.IncidentID},
		{Name: "Source", Value: m.Source},
		{Name: "Actor", Value: m.Actor},
	}
	fields = append(fields, m.Fields...)

	blocks := []Block{
		{Type: "header", Text: &TextObject{Type: "plain_text", Text: header, Emoji: true}},
		{Type: "section", Text: mrkdwn(intro)},
	}
	var objs []TextObject
	for _, f := range fields {
		if f.Value == "" {
			continue
		}
		name := escapeFit(notify.OneLine(f.Name, 0), 100)
		text := fmt.Sprintf("*%s*\n%s", name, escapeFit(f.Value, maxFieldText-utf8.RuneCountInString(name)-3))
		objs = append(objs, *mrkdwn(text))
	}
	for len(objs) > 0 {
		n := min(len(objs), maxFields)
		blocks = append(blocks, Block{Type: "section", Fields: objs[:n]})
		objs = objs[n:]
	}
	buttons := interactive
	for _, l := range []struct{ label, url, id string }{
		{"Open dashboard", m.Links.Dashboard, "open_dashboard"},
		{"Temporal UI", m.Links.TemporalUI, "open_temporal_ui"},
	} {
		if validLink(l.url) {
			buttons = append(buttons, Element{Type: "button", ActionID: l.id, URL: l.url,
				Text: TextObject{Type: "plain_text", Text: notify.Truncate(l.label, maxButtonText)}})
		}
	}
	if len(buttons) > 0 {
		blocks = append(blocks, Block{Type: "actions", Elements: buttons})
	}
	footer := fmt.Sprintf("Mahavishnu Incident Response · %s · %s", m.Kind, m.Time().UTC().Format("2006-01-02 15:04:05 MST"))
	blocks = append(blocks, Block{Type: "context", Elements: []Element{
		{Type: "mrkdwn", Text: notify.Truncate(escape(footer), maxContextText)},
	}})
	text := escape(m.Subject() + " — " + m.Kind.Label())
	if mentions != "" {
		text = mentions + " " + text
	}
	return Payload{Text: text, Blocks: blocks}
}

// Mentions returns the Slack mentions of the message's recipients that have a Slack
// member ID ("<@U1> <@U2>"), or "".
func Mentions(m notify.Message) string {
	var out []string
	for _, p := range m.Recipients {
		if p.SlackUser != "" && validMemberID(p.SlackUser) {
			out = append(out, "<@"+p.SlackUser+">")
		}
	}
	return strings.Join(out, " ")
}

// validMemberID keeps anything but a Slack member ID out of the mention syntax.
func validMemberID(s string) bool {
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return len(s) > 1 && len(s) <= 32
}

// escapeFit escapes s and cuts it to at most max runes without splitting an entity.
func escapeFit(s string, max int) string {
	for limit := max; ; limit -= 4 {
		out := escape(notify.Truncate(s, limit))
		if utf8.RuneCountInString(out) <= max || limit <= 4 {
			return notify.Truncate(out, max)
		}
	}
}

func mrkdwn(s string) *TextObject { return &TextObject{Type: "mrkdwn", Text: s} }

// escape keeps user text from forming Slack links and mentions (<!channel>, <@U123>):
// Slack wants &, < and > escaped in mrkdwn text.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// validLink reports whether s can be a button URL: absolute http(s), within the limit.
func validLink(s string) bool {
	if s == "" || len(s) > maxURL {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func emoji(m notify.Message) string {
	switch m.Kind {
	case notify.KindResolved:
		return "✅"
	case notify.KindAcknowledged:
		return "👀"
	case notify.KindTest:
		return "🧪"
	}
	switch m.Severity {
	case schemas.SeverityCritical:
		return "🔴"
	case schemas.SeverityHigh:
		return "🟠"
	case schemas.SeverityMedium:
		return "🟡"
	}
	return "🔵"
}
