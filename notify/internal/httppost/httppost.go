// Package httppost is the HTTP side shared by the notification channels: one JSON POST
// with a bounded answer, redirects refused, errors scrubbed and classified; and Webhook,
// the whole sending side of the chat channels that post to one secret webhook URL.
package httppost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mahavishnu/mahavishnu/notify"
)

// DefaultTimeout bounds one request when the caller gives no client.
const DefaultTimeout = 10 * time.Second

// maxAnswer bounds how much of an answer is read; answers are short status texts.
const maxAnswer = 64 << 10

// maxShown bounds how much of an answer goes into receipts and errors.
const maxShown = 512

// errRedirect is returned by the client's CheckRedirect: a notification endpoint that
// redirects is misconfigured, and following it would send the payload elsewhere.
var errRedirect = errors.New("redirect refused")

// NewClient returns the default client: DefaultTimeout, no redirects, proxy from the
// environment.
func NewClient() *http.Client {
	return &http.Client{
		Timeout:       DefaultTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return errRedirect },
	}
}

// Request is one POST.
type Request struct {
	// Channel names the channel in errors.
	Channel string
	URL     string
	Body    []byte
	// Header is added to Content-Type: application/json and the User-Agent.
	Header http.Header
	// Redactor scrubs every error and shown answer.
	Redactor *notify.Redactor
}

// Response is the receiver's answer.
type Response struct {
	Code   int
	Header http.Header
	Body   []byte
}

// Shown returns the answer's body for receipts and errors: trimmed, cut and scrubbed.
func (r Response) Shown(red *notify.Redactor) string {
	return red.String(notify.Truncate(strings.TrimSpace(string(r.Body)), maxShown))
}

// Post sends req with client (NewClient() when nil). A transport failure is returned as a
// classified *notify.Error; any HTTP answer, whatever its status, is returned with a nil
// error for the channel to judge (see StatusError).
func Post(ctx context.Context, client *http.Client, req Request) (Response, error) {
	if client == nil {
		client = NewClient()
	}
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		return Response{}, notify.Permanent(req.Channel, req.Redactor.Error(fmt.Errorf("build request: %w", err)))
	}
	for name, values := range req.Header {
		for _, v := range values {
			httpReq.Header.Add(name, v)
		}
	}
	httpReq.Header.Set("Content-Type", "application/json")
	httpReq.Header.Set("User-Agent", "mahavishnu-notify/1")
	resp, err := client.Do(httpReq)
	if err != nil {
		if errors.Is(err, errRedirect) {
			return Response{}, notify.Permanent(req.Channel, errors.New("POST request: the endpoint answered with a redirect, which is not followed: configure the final URL"))
		}
		return Response{}, notify.TransportError(req.Channel, err, req.Redactor)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return Response{}, notify.TransportError(req.Channel, fmt.Errorf("read answer (HTTP %d): %w", resp.StatusCode, err), req.Redactor)
	}
	return Response{Code: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// RetryableStatus reports whether an HTTP status is worth retrying: 408, 425, 429, 5xx.
func RetryableStatus(code int) bool {
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly, code == http.StatusTooManyRequests:
		return true
	case code >= 500:
		return true
	}
	return false
}

// StatusError returns the *notify.Error of an unsuccessful answer: "HTTP <code>: <detail>",
// retryable per RetryableStatus, with the Retry-After the receiver asked for. detail is
// scrubbed by red.
func StatusError(channel string, resp Response, detail string, red *notify.Redactor, now time.Time) error {
	msg := fmt.Sprintf("HTTP %d", resp.Code)
	if detail != "" {
		msg += ": " + red.String(detail)
	}
	return &notify.Error{
		Channel:    channel,
		Code:       resp.Code,
		Temporary:  RetryableStatus(resp.Code),
		RetryAfter: RetryAfter(resp.Header, now),
		Err:        errors.New(msg),
	}
}

// RetryAfter parses a Retry-After header (delay seconds or an HTTP date) relative to now;
// 0 when absent, invalid or in the past.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}
