package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTokensSessionsAudit(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		has, err := s.HasTokens(ctx)
		require.NoError(t, err)
		require.False(t, has)

		exp := base.Add(time.Hour)
		alice := APIToken{ID: "tok_a", Name: "alice", Role: "approver", Hash: "h-a", CreatedAt: base, ExpiresAt: &exp}
		require.NoError(t, s.InsertToken(ctx, alice))
		dup := APIToken{ID: "tok_b", Name: "alice", Role: "viewer", Hash: "h-b", CreatedAt: base}
		require.ErrorIs(t, s.InsertToken(ctx, dup), ErrNameTaken)
		// Once alice's token expired, the name is free again.
		dup.CreatedAt = base.Add(2 * time.Hour)
		require.NoError(t, s.InsertToken(ctx, dup))

		has, err = s.HasTokens(ctx)
		require.NoError(t, err)
		require.True(t, has)
		got, err := s.TokenByHash(ctx, "h-a")
		require.NoError(t, err)
		require.Equal(t, "alice", got.Name)
		require.True(t, got.Valid(base.Add(time.Minute)))
		require.Equal(t, "expired", got.State(base.Add(time.Hour)))
		_, err = s.TokenByHash(ctx, "nope")
		require.ErrorIs(t, err, ErrNotFound)
		require.NoError(t, s.TouchToken(ctx, "tok_a", base.Add(time.Minute)))
		got, err = s.TokenByID(ctx, "tok_a")
		require.NoError(t, err)
		require.NotNil(t, got.LastUsedAt)

		se := Session{Hash: "sh", TokenID: "tok_b", Name: "alice", Role: "viewer", CSRF: "c", CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
		require.NoError(t, s.InsertSession(ctx, se))
		gs, err := s.GetSession(ctx, "sh", base.Add(time.Minute))
		require.NoError(t, err)
		require.Equal(t, "c", gs.CSRF)
		_, err = s.GetSession(ctx, "sh", base.Add(time.Hour))
		require.ErrorIs(t, err, ErrNotFound, "expired")

		revoked, err := s.RevokeTokens(ctx, "tok_b", base.Add(3*time.Minute))
		require.NoError(t, err)
		require.Len(t, revoked, 1)
		_, err = s.GetSession(ctx, "sh", base.Add(time.Minute))
		require.ErrorIs(t, err, ErrNotFound, "revoking a token ends its sessions")
		_, err = s.RevokeTokens(ctx, "tok_b", base.Add(4*time.Minute))
		require.ErrorIs(t, err, ErrNotFound)
		all, err := s.Tokens(ctx)
		require.NoError(t, err)
		require.Len(t, all, 2)

		require.NoError(t, s.AddAudit(ctx, AuditEntry{At: base, Actor: "alice", Role: "approver", Authenticated: true, Action: "POST /x", IncidentID: "inc_1", Result: AuditAllowed, Status: 200}))
		require.NoError(t, s.AddAudit(ctx, AuditEntry{At: base.Add(time.Second), Actor: "", Action: "POST /y", Result: AuditDenied, Status: 401}))
		rows, err := s.Audit(ctx, AuditFilter{})
		require.NoError(t, err)
		require.Len(t, rows, 2)
		require.Equal(t, "POST /x", rows[0].Action, "oldest first")
		require.True(t, rows[0].Authenticated)
		rows, err = s.Audit(ctx, AuditFilter{Actor: "alice"})
		require.NoError(t, err)
		require.Len(t, rows, 1)
		rows, err = s.Audit(ctx, AuditFilter{Since: base.Add(time.Second)})
		require.NoError(t, err)
		require.Len(t, rows, 1)
		require.Equal(t, AuditDenied, rows[0].Result)
		rows, err = s.Audit(ctx, AuditFilter{IncidentID: "inc_1"})
		require.NoError(t, err)
		require.Len(t, rows, 1)
	})
}
