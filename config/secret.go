package config

import (
	"net/url"
	"strings"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// Secret is a string that never prints; see schemas.Secret.
type Secret = schemas.Secret

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
