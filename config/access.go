package config

import (
	"net"
	"net/url"
	"strings"
)

// validateAccess checks the access-control keys (issue 10). Role names in
// api.trusted_proxy are checked by package auth when the server starts.
func (c *Config) validateAccess(v *validator) {
	a := &c.API
	if a.PublicURL != "" {
		if u, err := url.Parse(a.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add("api.public_url", "want an http:// or https:// URL, got %q", a.PublicURL)
		}
	}
	if a.SessionHours < 1 || a.SessionHours > 720 {
		v.add("api.session_hours", "want 1-720 hours, got %d", a.SessionHours)
	}
	for _, cidr := range a.TrustedProxy.CIDRs {
		if _, _, err := net.ParseCIDR(strings.TrimSpace(cidr)); err != nil {
			v.add("api.trusted_proxy.cidrs", "want CIDRs like 10.0.0.0/8 or 127.0.0.1/32, got %q", cidr)
		}
	}
	if len(a.TrustedProxy.CIDRs) > 0 && strings.TrimSpace(a.TrustedProxy.Header) == "" {
		v.add("api.trusted_proxy.header", "is required when api.trusted_proxy.cidrs is set")
	}
	for _, kv := range a.TrustedProxy.Roles {
		if name, role, ok := strings.Cut(kv, "="); !ok || strings.TrimSpace(name) == "" || strings.TrimSpace(role) == "" {
			v.add("api.trusted_proxy.roles", "want name=role pairs, got %q", kv)
		}
	}
	t := &c.Temporal.TLS
	if (t.CertFile == "") != (t.KeyFile == "") {
		v.add("temporal.tls.cert_file", "cert_file and key_file go together (mTLS client certificate)")
	}
	if c.Embedded() && (t.Enabled || t.CertFile != "" || t.CAFile != "" || c.Temporal.APIKey != "") {
		v.add("temporal.tls", "TLS and api_key apply to a Temporal cluster: set temporal.address too")
	}
}

// TemporalTLS reports whether the Temporal connection uses TLS.
func (c *Config) TemporalTLS() bool {
	t := &c.Temporal.TLS
	return t.Enabled || t.CertFile != "" || t.CAFile != "" || c.Temporal.APIKey != ""
}
