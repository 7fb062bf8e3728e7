package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSecretNeverPrints(t *testing.T) {
	type holder struct {
		URL Secret
	}
	s := Secret("https://hooks.slack.com/services/T0/B0/very-secret")
	h := holder{URL: s}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "secret", s, "holder", h)
	js, err := json.Marshal(h)
	require.NoError(t, err)
	outputs := []string{
		fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q %x %d", s, s, s, s, s, s, s),
		fmt.Sprintf("%v %+v %#v", h, h, h), string(js), logged.String(),
	}
	for _, out := range outputs {
		require.NotContains(t, out, "very-secret")
	}
	require.Contains(t, fmt.Sprint(s), Redacted)
	require.Equal(t, "", fmt.Sprint(Secret("")))
	require.Equal(t, "https://hooks.slack.com/services/T0/B0/very-secret", s.Value())
}

func TestURLRedactorHidesEveryForm(t *testing.T) {
	raw := "https://user:hunter2pass@hooks.example.com/services/T0/B0/tok%2Fen-secret?token=query-secret&x=1"
	r := NewURLRedactor(raw, "extra-secret")
	u, err := url.Parse(raw)
	require.NoError(t, err)
	texts := []string{
		raw,
		`Post "` + raw + `": dial tcp: refused`,
		"path " + u.Path + " and " + u.EscapedPath(),
		"query " + u.RawQuery,
		"value query-secret alone",
		"password hunter2pass",
		"last segment tok/en-secret and " + url.PathEscape("tok/en-secret"),
		"given extra-secret",
	}
	for _, text := range texts {
		out := r.String(text)
		for _, secret := range []string{"hunter2pass", "en-secret", "query-secret", "extra-secret", "/services/T0/B0"} {
			require.NotContains(t, out, secret, "from %q", text)
		}
		require.Contains(t, out, Redacted, "from %q", text)
	}
	require.Equal(t, "HTTP 500 from hooks.example.com", r.String("HTTP 500 from hooks.example.com"))
	require.Equal(t, "login pw <secret> rejected", NewRedactor("", "a1!").String("login pw a1! rejected"),
		"a given secret is hidden however short")
}

func TestRedactorErrorDoesNotUnwrapToSecret(t *testing.T) {
	raw := "https://hooks.example.com/services/T0/B0/secret-token"
	r := NewURLRedactor(raw)
	orig := &url.Error{Op: "Post", URL: raw, Err: fmt.Errorf("dial: %w", context.DeadlineExceeded)}
	err := r.Error(orig)
	require.Equal(t, "POST request: dial: context deadline exceeded", err.Error())
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var urlErr *url.Error
	require.False(t, errors.As(err, &urlErr), "the scrubbed error must not unwrap to the *url.Error holding the URL")
	for e := err; e != nil; e = errors.Unwrap(e) {
		require.NotContains(t, e.Error(), "secret-token")
	}
	require.NoError(t, r.Error(nil))
	var nilRedactor *Redactor
	require.Equal(t, "unchanged", nilRedactor.String("unchanged"))
}
