package notify

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// Redacted is what a secret prints as, and what a Redactor puts in its place.
const Redacted = schemas.Redacted

// Secret is a string that never prints; see schemas.Secret.
type Secret = schemas.Secret

// Redactor removes secrets from text and errors.
type Redactor struct {
	secrets []string // longest first, so that a secret containing another goes whole
}

// minFragmentLen keeps a URL Redactor from replacing short fragments of the URL (a query
// value "1", a path segment "api") that would mangle every message without hiding anything.
const minFragmentLen = 6

// NewRedactor returns a Redactor for the given secrets (empty ones are ignored) and the
// forms they take in messages (URL-escaped, JSON-quoted).
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	for _, s := range secrets {
		r.addMin(s, 1)
	}
	return r
}

// NewURLRedactor returns a Redactor for a secret URL (a Slack webhook, a webhook with a
// token) and its parts that carry the secret: the path and query, query values, password,
// and the last path segment; plus the other secrets given.
func NewURLRedactor(rawURL string, secrets ...string) *Redactor {
	r := NewRedactor(secrets...)
	r.addMin(rawURL, 1)
	u, err := url.Parse(rawURL)
	if err != nil {
		return r
	}
	r.add(strings.TrimPrefix(rawURL, u.Scheme+"://"))
	r.add(u.RequestURI())
	r.add(u.EscapedPath())
	r.add(u.Path)
	r.add(u.RawQuery)
	for _, values := range u.Query() {
		for _, v := range values {
			r.add(v)
		}
	}
	if pw, ok := u.User.Password(); ok {
		r.addMin(pw, 1)
	}
	segments := strings.Split(strings.Trim(u.Path, "/"), "/")
	r.add(segments[len(segments)-1])
	return r
}

// add adds a fragment of a secret URL.
func (r *Redactor) add(s string) { r.addMin(s, minFragmentLen) }

func (r *Redactor) addMin(s string, minLen int) {
	if len(s) < minLen {
		return
	}
	quoted, _ := json.Marshal(s)
	for _, form := range []string{s, url.QueryEscape(s), url.PathEscape(s), strings.Trim(string(quoted), `"`)} {
		if len(form) >= minLen && !slices.Contains(r.secrets, form) {
			r.secrets = append(r.secrets, form)
		}
	}
	slices.SortFunc(r.secrets, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
}

// String returns s with every secret replaced by "<secret>".
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, Redacted)
	}
	return s
}

// Error returns an error whose message is err's with every secret replaced. It does not
// unwrap to err, whose chain may hold the secret (net/http's *url.Error holds the URL);
// it unwraps only to context.Canceled or context.DeadlineExceeded when err matches one.
// An *url.Error is rewritten as "<op> request: <cause>" without the URL.
func (r *Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	var urlErr *url.Error
	if errors.As(err, &urlErr) && urlErr.Err != nil {
		msg = strings.ToUpper(urlErr.Op) + " request: " + urlErr.Err.Error()
	}
	out := &scrubbedError{msg: r.String(msg)}
	switch {
	case errors.Is(err, context.Canceled):
		out.cause = context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		out.cause = context.DeadlineExceeded
	}
	return out
}

// scrubbedError is an error message with the secrets taken out.
type scrubbedError struct {
	msg   string
	cause error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.cause }
