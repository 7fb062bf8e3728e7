// Package webhook is the generic webhook channel: the Message as JSON in a POST, signed
// with HMAC-SHA256 when a secret is configured.
//
// Headers of every request:
//
//	Content-Type: application/json
//	X-Mahavishnu-Event: <kind>                  (opened, acknowledged, resolved...)
//	X-Mahavishnu-Delivery: <32 hex>             (the same for every retry of one message)
//	X-Mahavishnu-Timestamp: <Unix seconds>      (when sent)
//	X-Mahavishnu-Signature: sha256=<64 hex>     (only with a secret)
//
// The signature is HMAC-SHA256 with the secret as key over the timestamp, a ".", and the
// raw body. Signing the timestamp with the body lets a receiver reject replays: check
// that the timestamp is recent (Verify allows 5 minutes) and compare signatures in
// constant time.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mahavishnu/mahavishnu/notify"
	"github.com/mahavishnu/mahavishnu/notify/internal/httppost"
)

// Header names.
const (
	SignatureHeader = "X-Mahavishnu-Signature"
	TimestampHeader = "X-Mahavishnu-Timestamp"
	EventHeader     = "X-Mahavishnu-Event"
	DeliveryHeader  = "X-Mahavishnu-Delivery"
	// SignaturePrefix starts the signature header's value.
	SignaturePrefix = "sha256="
	// PayloadVersion is the "version" field of every body.
	PayloadVersion = 1
	// DefaultTolerance is how old a timestamp Verify accepts.
	DefaultTolerance = 5 * time.Minute
)

// Payload is the JSON body: the Message's fields plus "version".
type Payload struct {
	Version int `json:"version"`
	notify.Message
}

// Config configures the webhook channel.
type Config struct {
	// URL receives the POSTs (notifications.webhook.url). Secret: it may hold a token.
	URL notify.Secret
	// Secret signs the requests (notifications.webhook.secret); empty sends unsigned.
	Secret notify.Secret
	// HTTPClient sends the requests; nil means a client with a 10 s timeout that does
	// not follow redirects.
	HTTPClient *http.Client
	// Now is the clock for the timestamp header; nil means time.Now.
	Now func() time.Time
}

// Notifier posts to one webhook URL.
type Notifier struct {
	url    string
	secret []byte
	client *http.Client
	now    func() time.Time
	red    *notify.Redactor
}

// New checks cfg and returns the channel. Errors name the key and never show the URL.
func New(cfg Config) (*Notifier, error) {
	raw := cfg.URL.Value()
	if raw == "" {
		return nil, errors.New("webhook.url: is required")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("webhook.url: want an http:// or https:// URL (value not shown: it is a secret)")
	}
	n := &Notifier{url: raw, secret: []byte(cfg.Secret.Value()), client: cfg.HTTPClient, now: cfg.Now,
		red: notify.NewURLRedactor(raw, cfg.Secret.Value())}
	if n.client == nil {
		n.client = httppost.NewClient()
	}
	if n.now == nil {
		n.now = time.Now
	}
	return n, nil
}

// Name returns notify.ChannelWebhook.
func (n *Notifier) Name() string { return notify.ChannelWebhook }

// Notify posts m.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) error {
	_, err := n.Send(ctx, m)
	return err
}

// Send posts m and returns the receiver's answer. Any 2xx is success; 408, 425, 429 (with
// its Retry-After) and 5xx are retryable; other answers are not.
func (n *Notifier) Send(ctx context.Context, m notify.Message) (notify.Receipt, error) {
	if err := m.Validate(); err != nil {
		return notify.Receipt{}, notify.Permanent(notify.ChannelWebhook, err)
	}
	body, err := json.Marshal(Payload{Version: PayloadVersion, Message: m})
	if err != nil {
		return notify.Receipt{}, notify.Permanent(notify.ChannelWebhook, fmt.Errorf("encode payload: %w", err))
	}
	ts := strconv.FormatInt(n.now().Unix(), 10)
	h := http.Header{}
	h.Set(EventHeader, string(m.Kind))
	h.Set(DeliveryHeader, DeliveryID(m))
	h.Set(TimestampHeader, ts)
	if len(n.secret) > 0 {
		h.Set(SignatureHeader, Sign(n.secret, ts, body))
	}
	resp, err := httppost.Post(ctx, n.client, httppost.Request{
		Channel: notify.ChannelWebhook, URL: n.url, Body: body, Header: h, Redactor: n.red,
	})
	if err != nil {
		return notify.Receipt{}, err
	}
	shown := resp.Shown(n.red)
	if resp.Code < 200 || resp.Code > 299 {
		return notify.Receipt{}, httppost.StatusError(notify.ChannelWebhook, resp, shown, n.red, n.now())
	}
	return notify.Receipt{Channel: notify.ChannelWebhook, Code: resp.Code, Response: shown}, nil
}

// DeliveryID identifies one message (incident, kind, time), the same on every retry, so
// a receiver can drop duplicates.
func DeliveryID(m notify.Message) string {
	sum := sha256.Sum256([]byte(m.IncidentID + "\x00" + string(m.Kind) + "\x00" + m.At.UTC().Format(time.RFC3339Nano)))
	return hex.EncodeToString(sum[:16])
}

// Sign returns the signature header value for a body sent at timestamp (Unix seconds):
// "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return SignaturePrefix + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a received request's signature and timestamp (no older or newer than
// tolerance from now; DefaultTolerance when tolerance is 0), for receivers written in Go.
func Verify(secret []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance == 0 {
		tolerance = DefaultTolerance
	}
	ts := h.Get(TimestampHeader)
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%s: want Unix seconds, got %q", TimestampHeader, ts)
	}
	if age := now.Sub(time.Unix(secs, 0)); age > tolerance || age < -tolerance {
		return fmt.Errorf("%s: %s is outside the %s tolerance", TimestampHeader, ts, tolerance)
	}
	got := h.Get(SignatureHeader)
	if !strings.HasPrefix(got, SignaturePrefix) {
		return fmt.Errorf("%s: missing or not %q", SignatureHeader, SignaturePrefix+"<hex>")
	}
	if !hmac.Equal([]byte(got), []byte(Sign(secret, ts, body))) {
		return fmt.Errorf("%s: signature does not match", SignatureHeader)
	}
	return nil
}
