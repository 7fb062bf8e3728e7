package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNewTokenAndHash(t *testing.T) {
	a, idA, err := NewToken()
	require.NoError(t, err)
	b, idB, err := NewToken()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(a, TokenPrefix))
	require.Len(t, a, len(TokenPrefix)+43, "256 bits in base64url")
	require.NotEqual(t, a, b)
	require.NotEqual(t, idA, idB)
	require.Len(t, Hash(a), 64)
	require.Equal(t, Hash(a), Hash(a))
	require.NotContains(t, Hash(a), a)
}

func TestParseExpiry(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "12h": 12 * time.Hour, "": 0, "never": 0} {
		got, err := ParseExpiry(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"0d", "-1h", "soon", "3x"} {
		_, err := ParseExpiry(bad)
		require.ErrorContains(t, err, "want a lifetime like 90d", bad)
	}
}

func TestProxy(t *testing.T) {
	p, err := ParseProxy([]string{"10.0.0.0/8"}, "X-Forwarded-User", []string{"alice=approver"}, "viewer")
	require.NoError(t, err)
	require.True(t, p.Trusts("10.1.2.3:4000"))
	require.False(t, p.Trusts("192.168.1.1:4000"))
	a := &Authenticator{Proxy: p}
	hdr := func(v string) func(string) string { return func(string) string { return v } }
	id, ok, err := a.ProxyIdentity("10.1.2.3:4000", hdr("alice"))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, Identity{Name: "alice", Role: Approver, Authenticated: true, Via: "proxy"}, id)
	id, _, _ = a.ProxyIdentity("10.1.2.3:4000", hdr("zoe"))
	require.Equal(t, Viewer, id.Role, "unlisted users get the default role")
	_, ok, _ = a.ProxyIdentity("192.168.1.1:4000", hdr("alice"))
	require.False(t, ok, "the header is ignored from untrusted addresses")

	p.DefaultRole = ""
	_, _, err = a.ProxyIdentity("10.1.2.3:4000", hdr("zoe"))
	require.ErrorContains(t, err, "has no role")

	_, err = ParseProxy([]string{"nope"}, "X", nil, "")
	require.ErrorContains(t, err, "api.trusted_proxy.cidrs")
	_, err = ParseProxy([]string{"10.0.0.0/8"}, "X", []string{"bob=root"}, "")
	require.ErrorContains(t, err, "api.trusted_proxy.roles")
	none, err := ParseProxy(nil, "X", nil, "")
	require.NoError(t, err)
	require.Nil(t, none)
}
