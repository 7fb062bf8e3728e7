package notify

import "context"

// Channel names. Notifier.Name returns one of these; the CLI's --channel takes them.
const (
	ChannelLog       = "log"
	ChannelSlack     = "slack"
	ChannelPagerDuty = "pagerduty"
	ChannelEmail     = "email"
	ChannelWebhook   = "webhook"
	// ChannelTeams and ChannelMattermost are the chat channels of issue 12.
	ChannelTeams      = "teams"
	ChannelMattermost = "mattermost"
)

// Notifier delivers a Message through one channel. Notify returns nil once the receiver
// accepted the message; otherwise an error for which Retryable says whether to try again.
type Notifier interface {
	Name() string
	Notify(ctx context.Context, m Message) error
}

// Receipt is the receiver's answer to a delivered message, for `incidents notify test`.
type Receipt struct {
	Channel string `json:"channel"`
	// Code is the HTTP status or the SMTP reply code; 0 when there is none.
	Code int `json:"code,omitempty"`
	// Response is the receiver's answer (body or SMTP reply), truncated and scrubbed.
	Response string `json:"response,omitempty"`
}

// Sender is a Notifier that also reports the receiver's answer. Every channel of this
// package and its subpackages implements it.
type Sender interface {
	Notifier
	Send(ctx context.Context, m Message) (Receipt, error)
}

// KindFilter is implemented by a Notifier that handles only some kinds of message; the
// Router does not route the others to it.
type KindFilter interface {
	Handles(k Kind) bool
}

// Send delivers m through n and returns the receiver's answer when n is a Sender.
func Send(ctx context.Context, n Notifier, m Message) (Receipt, error) {
	if s, ok := n.(Sender); ok {
		return s.Send(ctx, m)
	}
	return Receipt{Channel: n.Name()}, n.Notify(ctx, m)
}

// Handles reports whether n handles messages of kind k (true unless n is a KindFilter
// that declines it).
func Handles(n Notifier, k Kind) bool {
	if f, ok := n.(KindFilter); ok {
		return f.Handles(k)
	}
	return true
}

// Func adapts a function to a Notifier named name.
func Func(name string, f func(ctx context.Context, m Message) error) Notifier {
	return funcNotifier{name: name, f: f}
}

type funcNotifier struct {
	name string
	f    func(ctx context.Context, m Message) error
}

func (n funcNotifier) Name() string                                { return n.name }
func (n funcNotifier) Notify(ctx context.Context, m Message) error { return n.f(ctx, m) }
