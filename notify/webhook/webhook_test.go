package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/notify"
	"github.com/mahavishnu/mahavishnu/notify/notifytest"
	"github.com/mahavishnu/mahavishnu/notify/webhook"
	"github.com/mahavishnu/mahavishnu/schemas"
)

const (
	signingSecret = "whsec-signing-secret-99"
	urlToken      = "url-token-secret-77"
)

var now = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func clock() time.Time { return now }

func message() notify.Message {
	return notify.Message{
		IncidentID: "inc_7f3a", Kind: notify.KindResolved, Title: "Disk full", Type: "disk_full",
		Severity: schemas.SeverityHigh, Status: schemas.StatusResolved, Source: "node-3", Text: "cleared /var/log",
		Actor: "bob", At: now.Add(-time.Minute),
		Links:  notify.Links{Dashboard: "http://127.0.0.1:8080/incidents/inc_7f3a"},
		Fields: []notify.Field{{Name: "mttr", Value: "14m"}},
	}
}

func newNotifier(t *testing.T, base, secret string) *webhook.Notifier {
	t.Helper()
	n, err := webhook.New(webhook.Config{URL: notify.Secret(base + "/hooks/incidents?token=" + urlToken), Secret: notify.Secret(secret), Now: clock})
	require.NoError(t, err)
	return n
}

func TestSendSignedJSON(t *testing.T) {
	rcv := notifytest.NewWebhook(t, signingSecret, clock)
	n := newNotifier(t, rcv.URL(), signingSecret)
	receipt, err := n.Send(context.Background(), message())
	require.NoError(t, err)
	require.Equal(t, notify.Receipt{Channel: "webhook", Code: http.StatusNoContent}, receipt)
	require.NoError(t, n.Notify(context.Background(), message()))

	reqs := rcv.Requests()
	require.Len(t, reqs, 2)
	for _, r := range reqs {
		require.NoError(t, r.Invalid)
	}
	h, body := reqs[0].Header, reqs[0].Body
	require.Equal(t, "resolved", h.Get(webhook.EventHeader))
	require.Equal(t, strconv.FormatInt(now.Unix(), 10), h.Get(webhook.TimestampHeader))
	require.Regexp(t, regexp.MustCompile(`^sha256=[0-9a-f]{64}$`), h.Get(webhook.SignatureHeader))
	require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{32}$`), h.Get(webhook.DeliveryHeader))
	require.Equal(t, h.Get(webhook.DeliveryHeader), reqs[1].Header.Get(webhook.DeliveryHeader), "a retry carries the same delivery ID")
	require.NoError(t, webhook.Verify([]byte(signingSecret), h, body, now, 0))

	var got webhook.Payload
	require.NoError(t, json.Unmarshal(body, &got))
	require.Equal(t, webhook.Payload{Version: 1, Message: message()}, got)
}

func TestSendUnsignedWithoutSecret(t *testing.T) {
	rcv := notifytest.NewWebhook(t, "", clock)
	require.NoError(t, newNotifier(t, rcv.URL(), "").Notify(context.Background(), message()))
	reqs := rcv.Requests()
	require.Len(t, reqs, 1)
	require.NoError(t, reqs[0].Invalid)
	require.Empty(t, reqs[0].Header.Get(webhook.SignatureHeader))
}

func TestWrongSecretIsRejected(t *testing.T) {
	rcv := notifytest.NewWebhook(t, "the-receivers-secret", clock)
	err := newNotifier(t, rcv.URL(), signingSecret).Notify(context.Background(), message())
	require.ErrorContains(t, err, "HTTP 401: signature: X-Mahavishnu-Signature does not verify")
	require.False(t, notify.Retryable(err))
	notifytest.RequireNoSecret(t, err, signingSecret, urlToken)
}

func TestVerify(t *testing.T) {
	body := []byte(`{"version":1}`)
	ts := strconv.FormatInt(now.Unix(), 10)
	header := func(ts, sig string) http.Header {
		return http.Header{webhook.TimestampHeader: {ts}, webhook.SignatureHeader: {sig}}
	}
	good := webhook.Sign([]byte(signingSecret), ts, body)
	tests := []struct {
		name string
		h    http.Header
		body []byte
		want string
	}{
		{"good", header(ts, good), body, ""},
		{"other body", header(ts, good), []byte(`{"version":2}`), "X-Mahavishnu-Signature: signature does not match"},
		{"timestamp changed", header(strconv.FormatInt(now.Unix()-1, 10), good), body, "signature does not match"},
		{"too old", header(strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10), good), body, "outside the 5m0s tolerance"},
		{"not a number", header("yesterday", good), body, `X-Mahavishnu-Timestamp: want Unix seconds, got "yesterday"`},
		{"no prefix", header(ts, good[len("sha256="):]), body, "missing or not"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhook.Verify([]byte(signingSecret), tt.h, tt.body, now, 0)
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestSendClassifiesAnswers(t *testing.T) {
	tests := []struct {
		name       string
		reply      notifytest.Reply
		retryable  bool
		retryAfter time.Duration
		wantErr    string
	}{
		{"rate limited with a date", notifytest.Reply{Code: 429, Header: http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}}, true, 90 * time.Second, "HTTP 429"},
		{"server error", notifytest.Reply{Code: 500, Body: "boom"}, true, 0, "HTTP 500: boom"},
		{"request timeout", notifytest.Reply{Code: 408}, true, 0, "HTTP 408"},
		{"bad request", notifytest.Reply{Code: 400, Body: "bad"}, false, 0, "HTTP 400: bad"},
		{"gone", notifytest.Reply{Code: 410}, false, 0, "HTTP 410"},
		{"redirect", notifytest.Reply{Code: 302, Header: http.Header{"Location": {"http://127.0.0.1:1/elsewhere"}}}, false, 0,
			"the endpoint answered with a redirect, which is not followed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := notifytest.NewWebhook(t, signingSecret, clock)
			rcv.Reply(tt.reply)
			n := newNotifier(t, rcv.URL(), signingSecret)
			err := n.Notify(context.Background(), message())
			require.ErrorContains(t, err, tt.wantErr)
			require.Equal(t, tt.retryable, notify.Retryable(err))
			require.Equal(t, tt.retryAfter, notify.RetryAfter(err))
			notifytest.RequireNoSecret(t, err, signingSecret, urlToken)
			require.NoError(t, n.Notify(context.Background(), message()), "the retry succeeds")
		})
	}
}

func TestSecretNeverLeaks(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	echo := notifytest.NewWebhook(t, signingSecret, clock)
	echo.Reply(notifytest.Reply{Code: 500, Body: "cannot POST /hooks/incidents?token=" + urlToken + " with key " + signingSecret})
	stop := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(stop) }) // runs first: releases the handler so Close returns
	timeout, err := webhook.New(webhook.Config{URL: notify.Secret(slow.URL + "/hooks?token=" + urlToken), Secret: signingSecret,
		HTTPClient: &http.Client{Timeout: 50 * time.Millisecond}})
	require.NoError(t, err)
	tests := []struct {
		name      string
		n         *webhook.Notifier
		ctx       context.Context
		retryable bool
	}{
		{"connection refused", newNotifier(t, "http://"+notifytest.ClosedPort(t), signingSecret), context.Background(), true},
		{"cancelled", newNotifier(t, echo.URL(), signingSecret), cancelled, false},
		{"client timeout", timeout, context.Background(), true},
		{"answer echoes the secrets", newNotifier(t, echo.URL(), signingSecret), context.Background(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.n.Notify(tt.ctx, message())
			require.Error(t, err)
			require.Equal(t, tt.retryable, notify.Retryable(err))
			notifytest.RequireNoSecret(t, err, signingSecret, urlToken)
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	_, err := webhook.New(webhook.Config{})
	require.EqualError(t, err, "webhook.url: is required")
	_, err = webhook.New(webhook.Config{URL: notify.Secret("ftp://example.com/" + urlToken)})
	require.EqualError(t, err, "webhook.url: want an http:// or https:// URL (value not shown: it is a secret)")
	cfg := webhook.Config{URL: notify.Secret("https://example.com/?token=" + urlToken), Secret: signingSecret}
	out := fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg)
	require.NotContains(t, out, urlToken)
	require.NotContains(t, out, signingSecret)
}
