// Package email is the email channel: SMTP through github.com/wneessen/go-mail, STARTTLS
// required by default, optional authentication, a text/plain body with a text/html
// alternative, subject "[SEVERITY] title (incident ID)".
package email

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	netmail "net/mail"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/mahavishnu/mahavishnu/notify"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// TLSPolicy says how the connection to the SMTP server is encrypted.
type TLSPolicy string

const (
	// TLSMandatory requires STARTTLS (the default): a server that does not offer it, or
	// whose certificate does not verify, gets nothing.
	TLSMandatory TLSPolicy = "mandatory"
	// TLSOpportunistic uses STARTTLS when the server offers it and plain text otherwise.
	TLSOpportunistic TLSPolicy = "opportunistic"
	// TLSNone never encrypts; for a relay on localhost or a trusted network only.
	TLSNone TLSPolicy = "none"
	// TLSImplicit speaks TLS from the first byte (SMTPS, usually port 465).
	TLSImplicit TLSPolicy = "implicit"
)

// DefaultTimeout bounds connecting and each SMTP command.
const DefaultTimeout = 15 * time.Second

// Config configures the email channel.
type Config struct {
	// Host and Port are the SMTP server (notifications.email.smtp_server, smtp_port;
	// default port 587).
	Host string
	Port int
	// From is the sender address (from_address); To the recipients (to).
	From string
	To   []string
	// Username and Password authenticate (smtp_username, smtp_password); no username
	// means no authentication. The mechanism is chosen from what the server offers; PLAIN
	// and LOGIN are used only over TLS.
	Username string
	Password notify.Secret
	// TLSPolicy is "" (mandatory), mandatory, opportunistic, none or implicit (tls_policy).
	TLSPolicy TLSPolicy
	// RootCAs verifies the server's certificate; nil means the system's roots.
	RootCAs *x509.CertPool
	// Timeout bounds connecting and each command; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Notifier sends mail through one SMTP server.
type Notifier struct {
	cfg    Config
	domain string // of From, for Message-IDs
	red    *notify.Redactor
}

// New checks cfg and returns the channel. Errors name the key; the password never appears.
func New(cfg Config) (*Notifier, error) {
	var errs []error
	if cfg.Host == "" {
		errs = append(errs, errors.New("email.smtp_server: is required"))
	}
	if cfg.Port == 0 {
		cfg.Port = 587
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		errs = append(errs, fmt.Errorf("email.smtp_port: want a port number 1-65535, got %d", cfg.Port))
	}
	from, err := netmail.ParseAddress(cfg.From)
	if err != nil {
		errs = append(errs, fmt.Errorf("email.from_address: want an email address, got %q", cfg.From))
	}
	if len(cfg.To) == 0 {
		errs = append(errs, errors.New("email.to: at least one recipient is required"))
	}
	for _, to := range cfg.To {
		if _, err := netmail.ParseAddress(to); err != nil {
			errs = append(errs, fmt.Errorf("email.to: want an email address, got %q", to))
		}
	}
	if cfg.TLSPolicy == "" {
		cfg.TLSPolicy = TLSMandatory
	}
	switch cfg.TLSPolicy {
	case TLSMandatory, TLSOpportunistic, TLSNone, TLSImplicit:
	default:
		errs = append(errs, fmt.Errorf("email.tls_policy: want mandatory, opportunistic, none or implicit, got %q", cfg.TLSPolicy))
	}
	if cfg.Username == "" && cfg.Password != "" {
		errs = append(errs, errors.New("email.smtp_username: is required when smtp_password is set"))
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	_, domain, _ := strings.Cut(from.Address, "@")
	return &Notifier{cfg: cfg, domain: domain, red: notify.NewRedactor(cfg.Password.Value())}, nil
}

// Name returns notify.ChannelEmail.
func (n *Notifier) Name() string { return notify.ChannelEmail }

// Notify mails m.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) error {
	_, err := n.Send(ctx, m)
	return err
}

// Send mails m to every recipient and returns the server's answer to the message.
// Network errors and 4xx replies are retryable; 5xx replies (a rejected login, an
// unknown recipient), a server without STARTTLS under the mandatory policy and a
// certificate that does not verify are not.
func (n *Notifier) Send(ctx context.Context, m notify.Message) (notify.Receipt, error) {
	if err := m.Validate(); err != nil {
		return notify.Receipt{}, notify.Permanent(notify.ChannelEmail, err)
	}
	msg, err := n.build(m)
	if err != nil {
		return notify.Receipt{}, notify.Permanent(notify.ChannelEmail, n.red.Error(err))
	}
	client, err := mail.NewClient(n.cfg.Host, n.options()...)
	if err != nil {
		return notify.Receipt{}, notify.Permanent(notify.ChannelEmail, n.red.Error(fmt.Errorf("smtp client: %w", err)))
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return notify.Receipt{}, n.classify(err)
	}
	return notify.Receipt{Channel: notify.ChannelEmail, Code: 250,
		Response: n.red.String(fmt.Sprintf("%s:%d accepted the message for %d recipient(s): %s",
			n.cfg.Host, n.cfg.Port, len(n.cfg.To), msg.ServerResponse()))}, nil
}

func (n *Notifier) options() []mail.Option {
	opts := []mail.Option{
		mail.WithPort(n.cfg.Port),
		mail.WithTimeout(n.cfg.Timeout),
		mail.WithTLSConfig(&tls.Config{ServerName: n.cfg.Host, RootCAs: n.cfg.RootCAs, MinVersion: tls.VersionTLS12}),
	}
	switch n.cfg.TLSPolicy {
	case TLSMandatory:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case TLSOpportunistic:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	case TLSImplicit:
		opts = append(opts, mail.WithSSL())
	}
	if n.cfg.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover),
			mail.WithUsername(n.cfg.Username), mail.WithPassword(n.cfg.Password.Value()))
	}
	return opts
}

func (n *Notifier) build(m notify.Message) (*mail.Msg, error) {
	msg := mail.NewMsg()
	if err := msg.From(n.cfg.From); err != nil {
		return nil, fmt.Errorf("email.from_address: %w", err)
	}
	if err := msg.To(n.cfg.To...); err != nil {
		return nil, fmt.Errorf("email.to: %w", err)
	}
	// Paged people get the message at their own addresses too.
	for _, p := range m.Recipients {
		if p.Email != "" && !slices.Contains(n.cfg.To, p.Email) {
			if err := msg.AddTo(p.Email); err != nil {
				return nil, notify.Permanent(notify.ChannelEmail, fmt.Errorf("recipient %s: address %q: %w", p.Name, p.Email, err))
			}
		}
	}
	msg.Subject(Subject(m))
	msg.SetDateWithValue(m.Time())
	msg.SetMessageIDWithValue(fmt.Sprintf("%s.%s.%d@%s", m.IncidentID, m.Kind, time.Now().UnixNano(), n.domain))
	// Every message of an incident refers to the same ID so that clients thread them.
	msg.SetGenHeader(mail.HeaderReferences, fmt.Sprintf("<%s@%s>", m.IncidentID, n.domain))
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader(mail.HeaderXAutoResponseSuppress, "All")
	msg.SetGenHeader("X-Mahavishnu-Incident", m.IncidentID)
	msg.SetGenHeader("X-Mahavishnu-Kind", string(m.Kind))
	msg.SetUserAgent("Mahavishnu Incident Response")
	if m.Severity.Rank() >= schemas.SeverityHigh.Rank() && m.Kind != notify.KindResolved {
		msg.SetImportance(mail.ImportanceHigh)
	}
	html, err := HTMLBody(m)
	if err != nil {
		return nil, err
	}
	msg.SetBodyString(mail.TypeTextPlain, TextBody(m))
	msg.AddAlternativeString(mail.TypeTextHTML, html)
	return msg, nil
}

// classify turns a go-mail error into a *notify.Error: SMTP replies by their code (4xx
// temporary, 5xx permanent), missing STARTTLS or AUTH support permanent, the rest by
// notify.TransportError.
func (n *Notifier) classify(err error) error {
	code := 0
	var sendErr *mail.SendError
	var tpErr *textproto.Error
	switch {
	case errors.As(err, &sendErr) && sendErr.ErrorCode() != 0:
		code = sendErr.ErrorCode()
	case errors.As(err, &tpErr):
		code = tpErr.Code
	}
	if code != 0 {
		return &notify.Error{Channel: notify.ChannelEmail, Code: code, Temporary: code >= 400 && code < 500, Err: n.red.Error(err)}
	}
	msg := err.Error()
	if errors.Is(err, mail.ErrNoSupportedAuthDiscovered) || strings.Contains(msg, "does not support STARTTLS") ||
		strings.Contains(msg, "does not support SMTP AUTH") {
		return notify.Permanent(notify.ChannelEmail, n.red.Error(err))
	}
	return notify.TransportError(notify.ChannelEmail, err, n.red)
}
