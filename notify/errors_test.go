package notify

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"suppressed", &SuppressedError{Channel: "slack", Reason: ReasonDuplicate}, false},
		{"wrapped suppressed", fmt.Errorf("activity: %w", &SuppressedError{Reason: ReasonRateLimited}), false},
		{"permanent", Permanent("slack", errors.New("HTTP 400")), false},
		{"temporary", Temporary("slack", errors.New("HTTP 503")), true},
		{"wrapped temporary", fmt.Errorf("x: %w", Temporary("slack", errors.New("HTTP 503"))), true},
		{"cancelled", context.Canceled, false},
		{"unknown", errors.New("something odd"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, Retryable(tt.err))
		})
	}
}

func TestRetryAfter(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", &Error{Channel: "slack", Temporary: true, RetryAfter: 7 * time.Second, Err: errors.New("HTTP 429")})
	require.Equal(t, 7*time.Second, RetryAfter(err))
	require.Zero(t, RetryAfter(errors.New("plain")))
}

func TestSuppressedErrorMatchesSentinel(t *testing.T) {
	err := fmt.Errorf("notify: %w", &SuppressedError{Channel: "slack", IncidentID: "inc_1", Kind: KindOpened, Reason: ReasonDuplicate})
	require.ErrorIs(t, err, ErrSuppressed)
	require.EqualError(t, err, `notify: channel "slack": opened notification of inc_1 suppressed (duplicate)`)
	var se *SuppressedError
	require.ErrorAs(t, err, &se)
	require.Equal(t, ReasonDuplicate, se.Reason)
}

func TestTransportErrorClassification(t *testing.T) {
	secretURL := "https://hooks.example.com/services/T1/B2/topsecrettoken"
	red := NewURLRedactor(secretURL)
	wrapURL := func(err error) error { return &url.Error{Op: "Post", URL: secretURL, Err: err} }
	tests := []struct {
		name      string
		err       error
		temporary bool
	}{
		{"connection refused", wrapURL(&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}), true},
		{"deadline", wrapURL(context.DeadlineExceeded), true},
		{"cancelled", wrapURL(context.Canceled), false},
		{"unknown authority", wrapURL(x509.UnknownAuthorityError{}), false},
		{"hostname mismatch", wrapURL(x509.HostnameError{Certificate: &x509.Certificate{}, Host: "x"}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := TransportError("slack", tt.err, red)
			require.Equal(t, tt.temporary, Retryable(err))
			require.NotContains(t, err.Error(), "topsecrettoken")
			require.Contains(t, err.Error(), `channel "slack": POST request: `)
		})
	}
}
