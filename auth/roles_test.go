package auth

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRoleGrants(t *testing.T) {
	cases := []struct {
		role Role
		can  []Permission
		not  []Permission
	}{
		{Viewer, []Permission{Read}, []Permission{PostEvents, Respond, Approve, Administer}},
		{Responder, []Permission{Read, PostEvents, Respond}, []Permission{Approve, Administer}},
		{Approver, []Permission{Read, PostEvents, Respond, Approve}, []Permission{Administer}},
		{Admin, []Permission{Read, PostEvents, Respond, Approve, Administer}, nil},
		{Ingest, []Permission{PostEvents}, []Permission{Read, Respond, Approve, Administer}},
		{Role("root"), nil, []Permission{Read, PostEvents, Respond, Approve, Administer}},
	}
	for _, c := range cases {
		for _, p := range c.can {
			require.True(t, c.role.Can(p), "%s should %s", c.role, p)
		}
		for _, p := range c.not {
			require.False(t, c.role.Can(p), "%s should not %s", c.role, p)
		}
	}
}

func TestParseRole(t *testing.T) {
	r, err := ParseRole(" Approver ")
	require.NoError(t, err)
	require.Equal(t, Approver, r)
	_, err = ParseRole("root")
	require.EqualError(t, err, `unknown role "root" (want one of viewer, responder, approver, admin, ingest)`)
}

func TestIdentityContext(t *testing.T) {
	_, ok := FromContext(context.Background())
	require.False(t, ok)
	ctx := WithIdentity(context.Background(), Identity{Name: "alice", Role: Approver, Authenticated: true, Via: "token"})
	id, ok := FromContext(ctx)
	require.True(t, ok)
	require.Equal(t, "alice", id.Name)
	require.True(t, id.Can(Approve))
}
