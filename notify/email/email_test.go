package email_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/notify"
	"github.com/mahavishnu/mahavishnu/notify/email"
	"github.com/mahavishnu/mahavishnu/notify/notifytest"
	"github.com/mahavishnu/mahavishnu/schemas"
)

const (
	user     = "alerts@example.com"
	password = "smtp-password-secret-1"
)

func message() notify.Message {
	return notify.Message{
		IncidentID: "inc_7f3a", Kind: notify.KindOpened, Title: "Database down", Type: "database_down",
		Severity: schemas.SeverityCritical, Status: schemas.StatusAssessing, Source: "db-1",
		Text: "No heartbeat for 90s.", At: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		Links:  notify.Links{Dashboard: "http://127.0.0.1:8080/incidents/inc_7f3a", TemporalUI: "http://127.0.0.1:8233/x/history"},
		Fields: []notify.Field{{Name: "Events", Value: "12"}},
	}
}

func config(srv *notifytest.SMTPServer) email.Config {
	return email.Config{
		Host: srv.Host, Port: srv.Port, From: "Mahavishnu <incidents@example.com>",
		To: []string{"oncall@example.com", "sre@example.com"}, RootCAs: srv.RootCAs, Timeout: 5 * time.Second,
	}
}

func newNotifier(t *testing.T, cfg email.Config) *email.Notifier {
	t.Helper()
	n, err := email.New(cfg)
	require.NoError(t, err)
	return n
}

// parsed is a received message taken apart.
type parsed struct {
	header netmail.Header
	parts  map[string]string // content type -> decoded body
}

func parse(t *testing.T, data []byte) parsed {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(data))
	require.NoError(t, err)
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/alternative", mediaType)
	p := parsed{header: msg.Header, parts: map[string]string{}}
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := r.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		ct, _, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		require.NoError(t, err)
		body, err := io.ReadAll(part)
		require.NoError(t, err)
		p.parts[ct] = strings.ReplaceAll(string(body), "\r\n", "\n")
	}
	return p
}

func subject(t *testing.T, h netmail.Header) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	require.NoError(t, err)
	return s
}

func TestSendOverSTARTTLSWithAuth(t *testing.T) {
	srv := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{Username: user, Password: password})
	cfg := config(srv)
	cfg.Username, cfg.Password = user, password
	receipt, err := newNotifier(t, cfg).Send(context.Background(), message())
	require.NoError(t, err)
	require.Equal(t, 250, receipt.Code)
	require.Contains(t, receipt.Response, srv.Addr()+" accepted the message for 2 recipient(s)")

	mails := srv.Mails()
	require.Len(t, mails, 1)
	got := mails[0]
	require.True(t, got.TLS, "the message went after STARTTLS")
	require.Equal(t, user, got.User)
	require.Equal(t, "incidents@example.com", got.From)
	require.Equal(t, []string{"oncall@example.com", "sre@example.com"}, got.To)

	p := parse(t, got.Data)
	require.Equal(t, "[CRITICAL] Database down (inc_7f3a)", subject(t, p.header))
	require.Equal(t, "inc_7f3a", p.header.Get("X-Mahavishnu-Incident"))
	require.Equal(t, "opened", p.header.Get("X-Mahavishnu-Kind"))
	require.Equal(t, "auto-generated", p.header.Get("Auto-Submitted"))
	require.Equal(t, "<inc_7f3a@example.com>", p.header.Get("References"))
	require.Regexp(t, `^<inc_7f3a\.opened\.\d+@example\.com>$`, p.header.Get("Message-Id"))

	text := p.parts["text/plain"]
	for _, want := range []string{"[CRITICAL] Database down (inc_7f3a)\nIncident opened\n", "No heartbeat for 90s.",
		"Severity: CRITICAL\n", "Status: assessing\n", "Type: database_down\n", "Events: 12\n",
		"Dashboard:   http://127.0.0.1:8080/incidents/inc_7f3a\n", "Temporal UI: http://127.0.0.1:8233/x/history\n"} {
		require.Contains(t, text, want)
	}
	html := p.parts["text/html"]
	for _, want := range []string{"<h2>[CRITICAL] Database down (inc_7f3a)</h2>", `<a href="http://127.0.0.1:8080/incidents/inc_7f3a">`,
		"<th align=\"left\">Severity</th><td>CRITICAL</td>"} {
		require.Contains(t, html, want)
	}
	require.Len(t, p.parts, 2)
}

func TestHostileContentStaysInert(t *testing.T) {
	srv := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{})
	m := message()
	m.Title = "db <script>alert(1)</script>\r\nBcc: victim@example.com"
	m.Text = `<img src=x onerror="steal()">`
	require.NoError(t, newNotifier(t, config(srv)).Notify(context.Background(), m))
	mails := srv.Mails()
	require.Len(t, mails, 1)
	require.Equal(t, []string{"oncall@example.com", "sre@example.com"}, mails[0].To, "no header injection")
	p := parse(t, mails[0].Data)
	require.Equal(t, "[CRITICAL] db <script>alert(1)</script> Bcc: victim@example.com (inc_7f3a)", subject(t, p.header))
	require.Empty(t, p.header.Get("Bcc"))
	require.NotContains(t, p.parts["text/html"], "<script>")
	require.NotContains(t, p.parts["text/html"], "<img")
	require.Contains(t, p.parts["text/html"], "&lt;script&gt;")
}

func TestTLSPolicies(t *testing.T) {
	tests := []struct {
		name      string
		server    notifytest.SMTPOptions
		policy    email.TLSPolicy
		trust     bool
		wantTLS   bool
		wantErr   string
		retryable bool
	}{
		{name: "mandatory (default) with STARTTLS", policy: "", trust: true, wantTLS: true},
		{name: "mandatory without STARTTLS", server: notifytest.SMTPOptions{NoSTARTTLS: true}, policy: email.TLSMandatory, trust: true,
			wantErr: "does not support STARTTLS"},
		{name: "opportunistic without STARTTLS", server: notifytest.SMTPOptions{NoSTARTTLS: true}, policy: email.TLSOpportunistic, trust: true},
		{name: "opportunistic with STARTTLS", policy: email.TLSOpportunistic, trust: true, wantTLS: true},
		{name: "none never encrypts", policy: email.TLSNone, trust: true},
		{name: "implicit TLS", server: notifytest.SMTPOptions{ImplicitTLS: true}, policy: email.TLSImplicit, trust: true, wantTLS: true},
		{name: "untrusted certificate", policy: email.TLSMandatory, trust: false, wantErr: "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := notifytest.NewSMTPServer(t, tt.server)
			cfg := config(srv)
			cfg.TLSPolicy = tt.policy
			if !tt.trust {
				cfg.RootCAs = nil
			}
			err := newNotifier(t, cfg).Notify(context.Background(), message())
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.Equal(t, tt.retryable, notify.Retryable(err))
				require.Empty(t, srv.Mails())
				return
			}
			require.NoError(t, err)
			mails := srv.Mails()
			require.Len(t, mails, 1)
			require.Equal(t, tt.wantTLS, mails[0].TLS)
		})
	}
}

func TestSMTPReplies(t *testing.T) {
	tests := []struct {
		name      string
		server    notifytest.SMTPOptions
		username  string
		password  string
		reject    int
		wantCode  int
		retryable bool
	}{
		{name: "wrong password", server: notifytest.SMTPOptions{Username: user, Password: "the-real-one"}, username: user, password: password, wantCode: 535},
		{name: "login required but not configured", server: notifytest.SMTPOptions{Username: user, Password: password}, wantCode: 502},
		{name: "temporary rejection", reject: 451, wantCode: 451, retryable: true},
		{name: "permanent rejection", reject: 554, wantCode: 554},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := notifytest.NewSMTPServer(t, tt.server)
			if tt.reject != 0 {
				srv.RejectNext(tt.reject)
			}
			cfg := config(srv)
			cfg.Username, cfg.Password = tt.username, notify.Secret(tt.password)
			n := newNotifier(t, cfg)
			err := n.Notify(context.Background(), message())
			require.Error(t, err)
			var ne *notify.Error
			require.ErrorAs(t, err, &ne)
			require.Equal(t, tt.wantCode, ne.Code, err.Error())
			require.Equal(t, tt.retryable, notify.Retryable(err))
			require.Contains(t, err.Error(), strconv.Itoa(tt.wantCode))
			notifytest.RequireNoSecret(t, err, password)
			require.Empty(t, srv.Mails())
			if tt.reject != 0 {
				require.NoError(t, n.Notify(context.Background(), message()), "the retry succeeds")
			}
		})
	}
}

func TestSecretNeverLeaks(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	strict := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{Username: user, Password: "another-password"})
	closedHost, closedPort, ok := strings.Cut(notifytest.ClosedPort(t), ":")
	require.True(t, ok)
	port, err := strconv.Atoi(closedPort)
	require.NoError(t, err)
	tests := []struct {
		name      string
		host      string
		port      int
		ctx       context.Context
		retryable bool
	}{
		{"connection refused", closedHost, port, context.Background(), true},
		{"cancelled", strict.Host, strict.Port, cancelled, false},
		{"login rejected", strict.Host, strict.Port, context.Background(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config(strict)
			cfg.Host, cfg.Port = tt.host, tt.port
			cfg.Username, cfg.Password = user, password
			err := newNotifier(t, cfg).Notify(tt.ctx, message())
			require.Error(t, err)
			require.Equal(t, tt.retryable, notify.Retryable(err), err.Error())
			notifytest.RequireNoSecret(t, err, password)
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	_, err := email.New(email.Config{Port: 70000, From: "not an address", To: []string{"ok@example.com", "bad"},
		TLSPolicy: "sometimes", Password: password})
	require.EqualError(t, err, strings.Join([]string{
		"email.smtp_server: is required",
		"email.smtp_port: want a port number 1-65535, got 70000",
		`email.from_address: want an email address, got "not an address"`,
		`email.to: want an email address, got "bad"`,
		`email.tls_policy: want mandatory, opportunistic, none or implicit, got "sometimes"`,
		"email.smtp_username: is required when smtp_password is set",
	}, "\n"))
	require.NotContains(t, err.Error(), password)
	_, err = email.New(email.Config{Host: "smtp.example.com", From: "a@example.com"})
	require.EqualError(t, err, "email.to: at least one recipient is required")
	cfg := email.Config{Username: user, Password: password}
	require.NotContains(t, fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), password)
}
