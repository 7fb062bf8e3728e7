package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mahavishnu/mahavishnu/notify"
	"github.com/mahavishnu/mahavishnu/notify/internal/httppost"
)

// DefaultAPIURL is the Slack Web API's base URL (notifications.slack.api_url).
const DefaultAPIURL = "https://slack.com/api"

// Action IDs of the interactive buttons (Web API mode). The interactions endpoint
// (api/slack.go) dispatches on them.
const (
	ActionAcknowledge = "mv_acknowledge"
	ActionResolve     = "mv_resolve"
	ActionApprove     = "mv_approve"
	ActionReject      = "mv_reject"
	// ResolveModal is the callback_id of the "Resolve with notes" modal.
	ResolveModal = "mv_resolve_modal"
	// NotesBlock and NotesInput identify the modal's notes field.
	NotesBlock = "mv_notes"
	NotesInput = "mv_notes_input"
)

// Client calls Slack Web API methods with a bot token, as JSON POSTs.
type Client struct {
	base   string
	token  string
	client *http.Client
	red    *notify.Redactor
}

// NewClient returns a Web API client. apiURL "" is DefaultAPIURL. Errors name the key and
// never show the token.
func NewClient(token notify.Secret, apiURL string, hc *http.Client) (*Client, error) {
	if token.Value() == "" {
		return nil, errors.New("slack.bot_token: is required")
	}
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	u, err := url.Parse(apiURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("slack.api_url: want an http:// or https:// URL, got %q", apiURL)
	}
	if hc == nil {
		hc = httppost.NewClient()
	}
	return &Client{base: strings.TrimRight(apiURL, "/"), token: token.Value(), client: hc, red: notify.NewRedactor(token.Value())}, nil
}

// APIResponse is the part of a Web API answer this package reads.
type APIResponse struct {
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
	Warning string `json:"warning,omitempty"`
	Channel string `json:"channel,omitempty"`
	TS      string `json:"ts,omitempty"`
}

// Call POSTs body as JSON to method (chat.postMessage, chat.update, views.open...).
// HTTP 429 (with its Retry-After), 5xx and "ratelimited" are retryable; any other
// ok:false (channel_not_found, not_in_channel, invalid_auth...) is not.
func (c *Client) Call(ctx context.Context, method string, body any) (APIResponse, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return APIResponse{}, notify.Permanent(notify.ChannelSlack, fmt.Errorf("encode %s: %w", method, err))
	}
	resp, err := httppost.Post(ctx, c.client, httppost.Request{
		Channel: notify.ChannelSlack, URL: c.base + "/" + method, Body: raw, Redactor: c.red,
		Header: http.Header{"Authorization": {"Bearer " + c.token}},
	})
	if err != nil {
		return APIResponse{}, err
	}
	shown := resp.Shown(c.red)
	if resp.Code < 200 || resp.Code > 299 {
		return APIResponse{}, httppost.StatusError(notify.ChannelSlack, resp, method+": "+shown, c.red, time.Now())
	}
	var out APIResponse
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		return APIResponse{}, &notify.Error{Channel: notify.ChannelSlack, Code: resp.Code, Temporary: true,
			Err: fmt.Errorf("%s: answer is not JSON: %s", method, shown)}
	}
	if !out.OK {
		return out, &notify.Error{Channel: notify.ChannelSlack, Code: resp.Code, Temporary: out.Error == "ratelimited",
			RetryAfter: httppost.RetryAfter(resp.Header, time.Now()), Err: fmt.Errorf("%s: %s", method, c.red.String(out.Error))}
	}
	return out, nil
}

// Threads keeps each incident's Slack thread: the channel and ts of its first message.
// The store implements it (store.Store.SlackThread / SaveSlackThread).
type Threads interface {
	SlackThread(ctx context.Context, incidentID string) (channel, ts string, err error)
	// SaveSlackThread records the first message; when one is already recorded it is
	// kept and returned.
	SaveSlackThread(ctx context.Context, incidentID, channel, ts string) (string, string, error)
}

// MemoryThreads is Threads in memory, for a process without a store.
type MemoryThreads struct {
	mu sync.Mutex
	m  map[string][2]string
}

// SlackThread implements Threads.
func (t *MemoryThreads) SlackThread(_ context.Context, id string) (string, string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v := t.m[id]
	return v[0], v[1], nil
}

// SaveSlackThread implements Threads.
func (t *MemoryThreads) SaveSlackThread(_ context.Context, id, channel, ts string) (string, string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string][2]string{}
	}
	if v, ok := t.m[id]; ok {
		return v[0], v[1], nil
	}
	t.m[id] = [2]string{channel, ts}
	return channel, ts, nil
}

// APIConfig configures the Web API mode of the Slack channel.
type APIConfig struct {
	// BotToken is notifications.slack.bot_token (xoxb-...). Secret.
	BotToken notify.Secret
	// Channel is the channel ID the bot posts to (notifications.slack.channel).
	Channel string
	// APIURL is notifications.slack.api_url; "" is DefaultAPIURL.
	APIURL string
	// Threads keeps each incident's thread; nil keeps them in memory.
	Threads    Threads
	HTTPClient *http.Client
}

// APINotifier posts through chat.postMessage: an incident's first message opens a thread,
// every later message replies in it, and acknowledgement and resolution also rewrite the
// first message (chat.update) so its buttons match the incident's state. Messages carry
// Acknowledge, Resolve and, for an approval request, Approve and Reject buttons.
type APINotifier struct {
	api     *Client
	channel string
	threads Threads
}

// NewAPI checks cfg and returns the channel.
func NewAPI(cfg APIConfig) (*APINotifier, error) {
	if strings.TrimSpace(cfg.Channel) == "" {
		return nil, errors.New("slack.channel: is required with slack.bot_token")
	}
	api, err := NewClient(cfg.BotToken, cfg.APIURL, cfg.HTTPClient)
	if err != nil {
		return nil, err
	}
	threads := cfg.Threads
	if threads == nil {
		threads = &MemoryThreads{}
	}
	return &APINotifier{api: api, channel: cfg.Channel, threads: threads}, nil
}

// Name returns notify.ChannelSlack.
func (n *APINotifier) Name() string { return notify.ChannelSlack }

// Client returns the Web API client (the interactions endpoint updates messages with it).
func (n *APINotifier) Client() *Client { return n.api }

// Notify posts m.
func (n *APINotifier) Notify(ctx context.Context, m notify.Message) error {
	_, err := n.Send(ctx, m)
	return err
}

// postMessage is a chat.postMessage / chat.update body.
type postMessage struct {
	Channel  string  `json:"channel"`
	TS       string  `json:"ts,omitempty"`
	ThreadTS string  `json:"thread_ts,omitempty"`
	Text     string  `json:"text"`
	Blocks   []Block `json:"blocks"`
}

// Send posts m in the incident's thread (opening it with the first message) and, for an
// acknowledgement or resolution, rewrites the thread's first message.
func (n *APINotifier) Send(ctx context.Context, m notify.Message) (notify.Receipt, error) {
	if err := m.Validate(); err != nil {
		return notify.Receipt{}, notify.Permanent(notify.ChannelSlack, err)
	}
	if m.Kind == notify.KindTest {
		p := BuildPayload(m)
		resp, err := n.api.Call(ctx, "chat.postMessage", postMessage{Channel: n.channel, Text: p.Text, Blocks: p.Blocks})
		if err != nil {
			return notify.Receipt{}, err
		}
		return notify.Receipt{Channel: notify.ChannelSlack, Code: http.StatusOK,
			Response: fmt.Sprintf("ok (Web API: chat.postMessage ts=%s; incident messages are threaded per incident and carry buttons)", resp.TS)}, nil
	}
	channel, root, err := n.threads.SlackThread(ctx, m.IncidentID)
	if err != nil {
		return notify.Receipt{}, &notify.Error{Channel: notify.ChannelSlack, Temporary: true, Err: err}
	}
	p := BuildInteractive(m)
	if root == "" {
		resp, err := n.api.Call(ctx, "chat.postMessage", postMessage{Channel: n.channel, Text: p.Text, Blocks: p.Blocks})
		if err != nil {
			return notify.Receipt{}, err
		}
		if _, _, err := n.threads.SaveSlackThread(ctx, m.IncidentID, resp.Channel, resp.TS); err != nil {
			// Posted but not recorded: later messages would start a new thread. Not
			// retried (it would post twice); the error is in the log via the caller.
			return notify.Receipt{}, notify.Permanent(notify.ChannelSlack, fmt.Errorf("posted ts=%s but recording the thread failed: %w", resp.TS, err))
		}
		return notify.Receipt{Channel: notify.ChannelSlack, Code: http.StatusOK, Response: "ok ts=" + resp.TS}, nil
	}
	resp, err := n.api.Call(ctx, "chat.postMessage", postMessage{Channel: channel, ThreadTS: root, Text: p.Text, Blocks: p.Blocks})
	if err != nil {
		return notify.Receipt{}, err
	}
	if m.Kind == notify.KindAcknowledged || m.Kind == notify.KindResolved {
		up := BuildInteractive(m)
		if _, err := n.api.Call(ctx, "chat.update", postMessage{Channel: channel, TS: root, Text: up.Text, Blocks: up.Blocks}); err != nil {
			// The reply went out; a retry would post it again. The first message keeps
			// its old buttons, which the interactions endpoint refuses once stale.
			return notify.Receipt{Channel: notify.ChannelSlack, Code: http.StatusOK,
				Response: "ok ts=" + resp.TS + " (thread reply; updating the first message failed: " + err.Error() + ")"}, nil
		}
	}
	return notify.Receipt{Channel: notify.ChannelSlack, Code: http.StatusOK, Response: "ok ts=" + resp.TS + " thread_ts=" + root}, nil
}

// BuildInteractive renders m like BuildPayload, with the buttons a responder needs now:
// Acknowledge (opened, escalated), Resolve (until resolved), and Approve / Reject for an
// approval request. Button values carry the incident ID (and the action).
func BuildInteractive(m notify.Message) Payload {
	return buildPayload(m, Buttons(m))
}

// Buttons returns the interactive buttons for m.
func Buttons(m notify.Message) []Element {
	button := func(label, id, value, style string) Element {
		return Element{Type: "button", ActionID: id, Value: value, Style: style,
			Text: TextObject{Type: "plain_text", Text: label}}
	}
	var out []Element
	switch m.Kind {
	case notify.KindResolved, notify.KindTest, notify.KindApprovalExpired:
		return nil
	case notify.KindApprovalRequested:
		if m.Action != "" {
			v := m.IncidentID + "|" + m.Action
			out = append(out, button("Approve "+notify.Truncate(m.Action, 50), ActionApprove, v, "primary"),
				button("Reject", ActionReject, v, "danger"))
		}
		return out
	case notify.KindOpened, notify.KindEscalated:
		out = append(out, button("Acknowledge", ActionAcknowledge, m.IncidentID, "primary"))
	}
	return append(out, button("Resolve…", ActionResolve, m.IncidentID, ""))
}

// ResolveView is the "Resolve with notes" modal (views.open) for an incident; meta comes
// back as the submission's private_metadata.
func ResolveView(incidentID, meta string) map[string]any {
	plain := func(s string) TextObject { return TextObject{Type: "plain_text", Text: s} }
	return map[string]any{
		"type":             "modal",
		"callback_id":      ResolveModal,
		"private_metadata": meta,
		"title":            plain("Resolve incident"),
		"submit":           plain("Resolve"),
		"close":            plain("Cancel"),
		"blocks": []map[string]any{
			{"type": "section", "text": TextObject{Type: "mrkdwn", Text: "Resolve *" + escape(incidentID) + "*. The notes go into the post-mortem."}},
			{"type": "input", "block_id": NotesBlock, "label": plain("Resolution notes"),
				"element": map[string]any{"type": "plain_text_input", "action_id": NotesInput, "multiline": true,
					"placeholder": plain("What was done, and what was the cause?")}},
		},
	}
}

// DecisionPayload is an approval-request message once decided: who approved or rejected
// which action, without buttons.
func DecisionPayload(incidentID, action, verb, by string) Payload {
	icon := "✅"
	if verb == "rejected" {
		icon = "⛔"
	}
	text := fmt.Sprintf("%s `%s` %s by %s", icon, escapeFit(action, 100), verb, escapeFit(by, 200))
	return Payload{
		Text: escape(fmt.Sprintf("%s: %s %s by %s", incidentID, action, verb, by)),
		Blocks: []Block{
			{Type: "section", Text: mrkdwn(fmt.Sprintf("*%s* · approval\n%s", escapeFit(incidentID, 200), text))},
			{Type: "context", Elements: []Element{{Type: "mrkdwn", Text: "Mahavishnu Incident Response · decided from Slack"}}},
		},
	}
}
