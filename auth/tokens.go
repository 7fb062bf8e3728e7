package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TokenPrefix starts every issued token, so that a leaked one is recognisable (secret
// scanners, logs) as a Mahavishnu API token.
const TokenPrefix = "mhv_"

// Errors of Authenticator.Token. Their messages are safe to show the client.
var (
	ErrNoToken  = errors.New("an API token is required (Authorization: Bearer ..., MAHAVISHNU_TOKEN or --token)")
	ErrBadToken = errors.New("unknown API token")
	ErrRevoked  = errors.New("this API token was revoked")
	ErrExpired  = errors.New("this API token has expired")
)

// NewToken draws a token (256 random bits after TokenPrefix) and its public ID.
func NewToken() (secret, id string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("draw token: %w", err)
	}
	i := make([]byte, 6)
	if _, err := rand.Read(i); err != nil {
		return "", "", fmt.Errorf("draw token id: %w", err)
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b), "tok_" + hex.EncodeToString(i), nil
}

// RandomID returns n random bytes as URL-safe text (session IDs, CSRF tokens).
func RandomID(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("draw random ID: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Hash is what the store keeps of a token or session ID: its SHA-256, hex. The secrets
// carry 256 random bits, so a plain hash (no salt, no stretching) cannot be reversed.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// ParseExpiry reads a token lifetime: "90d", "12h", "30m"; "" or "never" is no expiry.
func ParseExpiry(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" || v == "never" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("want a lifetime like 90d, 12h or never, got %q", v)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("want a lifetime like 90d, 12h or never, got %q", v)
	}
	return d, nil
}

// BootstrapName is the identity of the config's api.token: a shared admin secret.
const BootstrapName = "api.token"

// Proxy is a trusted authenticating proxy (oauth2-proxy and the like) in front of the
// API: requests from its addresses carry the user's name in Header.
type Proxy struct {
	Networks []*net.IPNet
	Header   string
	// Roles maps user names to roles; others get DefaultRole ("" refuses them).
	Roles       map[string]Role
	DefaultRole Role
}

// Trusts reports whether the request's peer address is one of the proxy's networks.
func (p *Proxy) Trusts(remoteAddr string) bool {
	if p == nil || p.Header == "" {
		return false
	}
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	for _, n := range p.Networks {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// ParseProxy builds the proxy from the config's CIDRs, header and "name=role" pairs.
func ParseProxy(cidrs []string, header string, roles []string, defaultRole string) (*Proxy, error) {
	if len(cidrs) == 0 {
		return nil, nil
	}
	p := &Proxy{Header: strings.TrimSpace(header), Roles: map[string]Role{}}
	if p.Header == "" {
		return nil, errors.New("api.trusted_proxy.header: required when api.trusted_proxy.cidrs is set")
	}
	for _, c := range cidrs {
		_, n, err := net.ParseCIDR(strings.TrimSpace(c))
		if err != nil {
			return nil, fmt.Errorf("api.trusted_proxy.cidrs: %q is not a CIDR (like 10.0.0.0/8 or 127.0.0.1/32)", c)
		}
		p.Networks = append(p.Networks, n)
	}
	for _, kv := range roles {
		name, role, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("api.trusted_proxy.roles: %q: want name=role", kv)
		}
		r, err := ParseRole(role)
		if err != nil {
			return nil, fmt.Errorf("api.trusted_proxy.roles: %q: %w", kv, err)
		}
		p.Roles[strings.TrimSpace(name)] = r
	}
	if defaultRole != "" {
		r, err := ParseRole(defaultRole)
		if err != nil {
			return nil, fmt.Errorf("api.trusted_proxy.default_role: %w", err)
		}
		p.DefaultRole = r
	}
	return p, nil
}

// TokenRecord is what the authenticator needs of an issued token.
type TokenRecord struct {
	ID   string
	Name string
	Role Role
	// State is "active", "revoked" or "expired" at the time asked.
	State string
}

// TokenStore is where issued tokens are kept (the store implements it; package auth
// does not import the store, which imports auth for its roles).
type TokenStore interface {
	// HasTokens reports whether any token that is not revoked exists.
	HasTokens(ctx context.Context) (bool, error)
	// AuthToken returns the token with this SHA-256 hash as of now, or ErrBadToken.
	AuthToken(ctx context.Context, hash string, now time.Time) (TokenRecord, error)
	// TouchToken records a token's last use.
	TouchToken(ctx context.Context, id string, now time.Time) error
}

// Authenticator turns credentials into identities: issued tokens (from the store), the
// config's bootstrap token and a trusted proxy's header.
type Authenticator struct {
	Store TokenStore
	// Bootstrap is the config's api.token ("" for none): an admin identity.
	Bootstrap string
	Proxy     *Proxy
	Now       func() time.Time

	mu      sync.Mutex
	touched map[string]time.Time
}

func (a *Authenticator) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// TokensRequired reports whether requests need credentials: some token was issued (and
// not revoked), or api.token is set.
func (a *Authenticator) TokensRequired(ctx context.Context) (bool, error) {
	if a.Bootstrap != "" {
		return true, nil
	}
	return a.Store.HasTokens(ctx)
}

// Token returns the identity of a bearer token. tokenID is "" for the bootstrap token.
func (a *Authenticator) Token(ctx context.Context, secret string) (id Identity, tokenID string, err error) {
	secret = strings.TrimSpace(secret)
	if secret == "" {
		return Identity{}, "", ErrNoToken
	}
	if a.Bootstrap != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(a.Bootstrap)) == 1 {
		return Identity{Name: BootstrapName, Role: Admin, Authenticated: true, Via: "token"}, "", nil
	}
	now := a.now()
	t, err := a.Store.AuthToken(ctx, Hash(secret), now)
	if err != nil {
		return Identity{}, "", err
	}
	switch t.State {
	case "revoked":
		return Identity{}, "", ErrRevoked
	case "expired":
		return Identity{}, "", ErrExpired
	}
	a.touch(ctx, t.ID, now)
	return Identity{Name: t.Name, Role: t.Role, Authenticated: true, Via: "token"}, t.ID, nil
}

// touch records the token's last use, at most once a minute per token and process.
func (a *Authenticator) touch(ctx context.Context, id string, now time.Time) {
	a.mu.Lock()
	if a.touched == nil {
		a.touched = map[string]time.Time{}
	}
	last, ok := a.touched[id]
	if ok && now.Sub(last) < time.Minute {
		a.mu.Unlock()
		return
	}
	a.touched[id] = now
	a.mu.Unlock()
	_ = a.Store.TouchToken(ctx, id, now) // best effort: a failed touch must not fail the request
}

// ProxyIdentity returns the identity a trusted proxy asserts, ok=false when the request
// did not come through one or carries no user.
func (a *Authenticator) ProxyIdentity(remoteAddr string, header func(string) string) (Identity, bool, error) {
	if !a.Proxy.Trusts(remoteAddr) {
		return Identity{}, false, nil
	}
	name := strings.TrimSpace(header(a.Proxy.Header))
	if name == "" {
		return Identity{}, false, nil
	}
	role, ok := a.Proxy.Roles[name]
	if !ok {
		role = a.Proxy.DefaultRole
	}
	if role == "" {
		return Identity{}, true, fmt.Errorf("proxy user %q has no role (api.trusted_proxy.roles, default_role)", name)
	}
	return Identity{Name: name, Role: role, Authenticated: true, Via: "proxy"}, true, nil
}
