package schemas

import (
	"fmt"
	"io"
	"log/slog"
)

// Redacted is what a non-empty Secret prints as.
const Redacted = "<secret>"

// Secret is a string that never prints: String, GoString, Format (every fmt verb),
// MarshalJSON, MarshalYAML, MarshalText and LogValue give "<secret>" when it is non-empty
// and "" when it is empty. Value returns the real value. Config, notifier and remediation
// settings all hold their webhook URLs, keys and passwords in it.
type Secret string

// Value returns the real value. Do not log or print it.
func (s Secret) Value() string { return string(s) }

func (s Secret) redact() string {
	if s == "" {
		return ""
	}
	return Redacted
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

// MarshalJSON implements json.Marshaler. It writes "<secret>" as is, where json.Marshal
// of the string would escape it to "\u003csecret\u003e".
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.redact() + `"`), nil }

// MarshalYAML implements yaml.Marshaler.
func (s Secret) MarshalYAML() (any, error) { return s.redact(), nil }

// MarshalText implements encoding.TextMarshaler, for any other text encoder.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.redact()), nil }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.redact()) }
