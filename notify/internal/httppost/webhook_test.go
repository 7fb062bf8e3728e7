package httppost

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/notify"
	"github.com/mahavishnu/mahavishnu/schemas"
)

func TestCheckURLNamesKeyHidesValue(t *testing.T) {
	require.EqualError(t, CheckURL("chat.webhook_url", ""), "chat.webhook_url: is required")
	for _, raw := range []string{"ftp://h/s3cr3t-hook", "https:///s3cr3t-hook", "s3cr3t-hook", "%zz-s3cr3t-hook"} {
		err := CheckURL("chat.webhook_url", raw)
		require.Error(t, err, raw)
		require.Contains(t, err.Error(), "chat.webhook_url: want an http:// or https:// URL")
		require.NotContains(t, err.Error(), "s3cr3t", raw)
	}
	require.NoError(t, CheckURL("chat.webhook_url", "https://hooks.example/s3cr3t-hook"))
}

func TestWebhookSend(t *testing.T) {
	msg := notify.Message{IncidentID: "inc_1", Kind: notify.KindOpened, Title: "t", Type: "x",
		Severity: schemas.SeverityHigh, Status: schemas.StatusAssessing, Source: "api",
		At: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	var code atomic.Int32
	var hits atomic.Int32
	var body atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		body.Store(string(b))
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(int(code.Load()))
		_, _ = io.WriteString(w, "answer for "+r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	w, err := NewWebhook("chat", "chat.webhook_url", notify.Secret(srv.URL+"/hooks/s3cr3t"), nil,
		func(m notify.Message) any { return map[string]string{"text": m.Title} })
	require.NoError(t, err)
	require.Equal(t, "chat", w.Name())

	code.Store(202)
	receipt, err := w.Send(context.Background(), msg)
	require.NoError(t, err)
	require.Equal(t, `{"text":"t"}`, body.Load())
	require.Equal(t, "chat", receipt.Channel)
	require.Equal(t, 202, receipt.Code)
	require.NotContains(t, receipt.Response, "s3cr3t", "the answer is scrubbed of the URL")

	code.Store(503)
	_, err = w.Send(context.Background(), msg)
	require.True(t, notify.Retryable(err), "%v", err)
	require.Equal(t, 7*time.Second, notify.RetryAfter(err))
	require.NotContains(t, err.Error(), "s3cr3t")

	code.Store(400)
	_, err = w.Send(context.Background(), msg)
	var ne *notify.Error
	require.True(t, errors.As(err, &ne))
	require.Equal(t, 400, ne.Code)
	require.False(t, notify.Retryable(err))

	before := hits.Load()
	_, err = w.Send(context.Background(), notify.Message{})
	require.Error(t, err)
	require.False(t, notify.Retryable(err))
	require.Equal(t, before, hits.Load(), "an invalid message is not posted")

	_, err = NewWebhook("chat", "chat.webhook_url", "", nil, nil)
	require.EqualError(t, err, "chat.webhook_url: is required")
}
