package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// ErrSuppressed matches (errors.Is) the error of a send the Throttle held back. It is not a
// delivery failure; callers record it and do not retry.
var ErrSuppressed = errors.New("notification suppressed")

// Suppression reasons.
const (
	// ReasonDuplicate: the same incident, channel and kind was sent within the interval.
	ReasonDuplicate = "duplicate"
	// ReasonRateLimited: the channel's rate limit was reached.
	ReasonRateLimited = "rate_limited"
)

// SuppressedError is the error of a send the Throttle held back; it matches ErrSuppressed.
type SuppressedError struct {
	Channel    string
	IncidentID string
	Kind       Kind
	// Reason is ReasonDuplicate or ReasonRateLimited.
	Reason string
}

func (e *SuppressedError) Error() string {
	return fmt.Sprintf("channel %q: %s notification of %s suppressed (%s)", e.Channel, e.Kind, e.IncidentID, e.Reason)
}

// Is makes errors.Is(err, ErrSuppressed) true.
func (e *SuppressedError) Is(target error) bool { return target == ErrSuppressed }

// Error is a channel's delivery failure. Its message and everything it wraps are free of
// secrets.
type Error struct {
	Channel string
	// Code is the HTTP status or SMTP reply code of the receiver's answer; 0 without one.
	Code int
	// Temporary says whether trying again may succeed (429, 5xx, network errors...).
	Temporary bool
	// RetryAfter is the delay the receiver asked for (HTTP Retry-After); 0 if none.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string { return fmt.Sprintf("channel %q: %v", e.Channel, e.Err) }

// Unwrap returns the (scrubbed) cause.
func (e *Error) Unwrap() error { return e.Err }

// Permanent returns a non-retryable *Error of channel wrapping err.
func Permanent(channel string, err error) error {
	return &Error{Channel: channel, Err: err}
}

// Temporary returns a retryable *Error of channel wrapping err.
func Temporary(channel string, err error) error {
	return &Error{Channel: channel, Temporary: true, Err: err}
}

// Retryable reports whether a failed send is worth retrying. It is false for nil, for
// ErrSuppressed, for a cancelled context and for an *Error marked permanent (4xx answers,
// bad configuration, invalid messages, TLS certificate errors); true for temporary *Errors
// and, conservatively, for errors it does not know.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, ErrSuppressed) {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Temporary
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	return true
}

// RetryAfter returns the delay the receiver asked for before a retry, or 0.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// TransportError classifies an error that happened before any answer (dial, TLS, timeout)
// and returns it as an *Error of channel with its text scrubbed by r. A cancelled context
// and a certificate that does not verify are permanent; other network errors temporary.
func TransportError(channel string, err error, r *Redactor) error {
	temporary := true
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		verification     *tls.CertificateVerificationError
	)
	switch {
	case errors.Is(err, context.Canceled):
		temporary = false
	case errors.As(err, &unknownAuthority), errors.As(err, &hostname), errors.As(err, &invalid),
		errors.As(err, &verification):
		temporary = false
	}
	return &Error{Channel: channel, Temporary: temporary, Err: r.Error(err)}
}
