package config

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
)

// redacted is what a non-empty Secret prints as.
const redacted = "<secret>"

// Secret is a string that never prints: String, GoString, Format (every fmt verb),
// MarshalJSON, MarshalYAML, MarshalText and LogValue give "<secret>" when it is non-empty and "" when it is empty.
// Value returns the real value. Marshalling a Config is therefore lossy by design.
type Secret string

// Value returns the real value. Do not log or print it.
func (s Secret) Value() string { return string(s) }

func (s Secret) redact() string {
	if s == "" {
		return ""
	}
	return redacted
}

// String implements fmt.Stringer.
func (s Secret) String() string { return s.redact() }

// GoString implements fmt.GoStringer (%#v).
func (s Secret) GoString() string { return s.redact() }

// Format implements fmt.Formatter so that every verb, even a wrong one like %d, prints the
// redacted form (fmt would otherwise print the raw string for a bad verb).
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", s.redact())
		return
	}
	_, _ = io.WriteString(f, s.redact())
}

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.redact()) }

// MarshalYAML implements yaml.Marshaler.
func (s Secret) MarshalYAML() (any, error) { return s.redact(), nil }

// MarshalText implements encoding.TextMarshaler, for any other text encoder.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.redact()), nil }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.redact()) }

// sensitiveParams are query parameters RedactURL hides (PostgreSQL DSNs may carry them).
var sensitiveParams = []string{"password", "sslpassword", "token", "secret", "key", "api_key"}

// RedactURL returns u with its password (and password-like query parameters) replaced by
// "xxxxx", for printing database URLs. A value that does not parse as a URL is replaced
// entirely, since it may be a key=value DSN holding a password.
func RedactURL(u string) string {
	if u == "" {
		return ""
	}
	parsed, err := url.Parse(u)
	if err != nil || parsed.Scheme == "" {
		return "<unparseable URL>"
	}
	if parsed.RawQuery != "" {
		q := parsed.Query()
		changed := false
		for name := range q {
			for _, p := range sensitiveParams {
				if strings.EqualFold(name, p) {
					q.Set(name, "xxxxx")
					changed = true
				}
			}
		}
		if changed {
			parsed.RawQuery = q.Encode()
		}
	}
	return parsed.Redacted()
}
