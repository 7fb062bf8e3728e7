package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/mahavishnu/mahavishnu/auth"
)

// APIToken is an issued API token. The secret itself is never stored: Hash is its
// SHA-256 (hex), computed by package auth.
type APIToken struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	CreatedBy  string     `json:"created_by,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	// Hash is the SHA-256 of the token; never shown.
	Hash string `json:"-"`
}

// Valid reports whether the token may be used at now: not revoked, not expired.
func (t *APIToken) Valid(now time.Time) bool {
	return t.RevokedAt == nil && (t.ExpiresAt == nil || now.Before(*t.ExpiresAt))
}

// State is "active", "revoked" or "expired" at now.
func (t *APIToken) State(now time.Time) string {
	switch {
	case t.RevokedAt != nil:
		return "revoked"
	case t.ExpiresAt != nil && !now.Before(*t.ExpiresAt):
		return "expired"
	}
	return "active"
}

type tokenModel struct {
	bun.BaseModel `bun:"table:api_tokens,alias:k"`

	TokenID    string `bun:"token_id,pk"`
	Name       string `bun:"name"`
	Role       string `bun:"role"`
	Hash       string `bun:"hash"`
	CreatedBy  string `bun:"created_by"`
	CreatedAt  dbTime `bun:"created_at"`
	ExpiresAt  dbTime `bun:"expires_at"`
	RevokedAt  dbTime `bun:"revoked_at"`
	LastUsedAt dbTime `bun:"last_used_at"`
}

func (m *tokenModel) token() APIToken {
	return APIToken{ID: m.TokenID, Name: m.Name, Role: m.Role, Hash: m.Hash, CreatedBy: m.CreatedBy,
		CreatedAt: m.CreatedAt.Time, ExpiresAt: m.ExpiresAt.ptr(), RevokedAt: m.RevokedAt.ptr(), LastUsedAt: m.LastUsedAt.ptr()}
}

// ErrNameTaken means an active token already has the name.
var ErrNameTaken = errors.New("an active token already has this name")

// InsertToken stores a new token. Names are unique among active tokens, so that the
// name recorded as the actor of a write is one identity.
func (s *Store) InsertToken(ctx context.Context, t APIToken) error {
	switch {
	case t.ID == "" || t.Name == "" || t.Role == "" || t.Hash == "":
		return errors.New("insert token: id, name, role and hash are required")
	case t.CreatedAt.IsZero():
		t.CreatedAt = time.Now()
	}
	return s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var rows []tokenModel
		if err := tx.NewSelect().Model(&rows).Where("k.name = ?", t.Name).Where("k.revoked_at IS NULL").Scan(ctx); err != nil {
			return fmt.Errorf("insert token %s: %w", t.Name, err)
		}
		for i := range rows {
			if tok := rows[i].token(); tok.Valid(t.CreatedAt) {
				return fmt.Errorf("token name %q: %w (%s): revoke it first", t.Name, ErrNameTaken, tok.ID)
			}
		}
		m := tokenModel{TokenID: t.ID, Name: t.Name, Role: t.Role, Hash: t.Hash, CreatedBy: t.CreatedBy,
			CreatedAt: newDBTime(t.CreatedAt), ExpiresAt: newDBTimePtr(t.ExpiresAt)}
		if _, err := tx.NewInsert().Model(&m).Exec(ctx); err != nil {
			return fmt.Errorf("insert token %s: %w", t.Name, err)
		}
		return nil
	})
}

// Tokens lists every token, newest first (revoked and expired ones too).
func (s *Store) Tokens(ctx context.Context) ([]APIToken, error) {
	var rows []tokenModel
	if err := s.DB.NewSelect().Model(&rows).OrderExpr("k.created_at DESC, k.token_id").Limit(maxListLimit).Scan(ctx); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	out := make([]APIToken, len(rows))
	for i := range rows {
		out[i] = rows[i].token()
	}
	return out, nil
}

// HasTokens reports whether any token was ever issued and not revoked. Once one exists,
// every read needs a token too.
func (s *Store) HasTokens(ctx context.Context) (bool, error) {
	n, err := s.DB.NewSelect().Model((*tokenModel)(nil)).Where("k.revoked_at IS NULL").Count(ctx)
	if err != nil {
		return false, fmt.Errorf("count tokens: %w", err)
	}
	return n > 0, nil
}

// TokenByHash returns the token with this hash, or an error wrapping ErrNotFound.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*APIToken, error) {
	m := new(tokenModel)
	if err := s.DB.NewSelect().Model(m).Where("k.hash = ?", hash).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("token: %w", ErrNotFound)
		}
		return nil, fmt.Errorf("get token: %w", err)
	}
	t := m.token()
	return &t, nil
}

// AuthToken returns the token with this hash for authentication (auth.TokenStore):
// auth.ErrBadToken when there is none.
func (s *Store) AuthToken(ctx context.Context, hash string, now time.Time) (auth.TokenRecord, error) {
	t, err := s.TokenByHash(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return auth.TokenRecord{}, auth.ErrBadToken
	}
	if err != nil {
		return auth.TokenRecord{}, err
	}
	return auth.TokenRecord{ID: t.ID, Name: t.Name, Role: auth.Role(t.Role), State: t.State(now)}, nil
}

// TokenByID returns one token, or an error wrapping ErrNotFound.
func (s *Store) TokenByID(ctx context.Context, id string) (*APIToken, error) {
	m := new(tokenModel)
	if err := s.DB.NewSelect().Model(m).Where("k.token_id = ?", id).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("token %s: %w", id, ErrNotFound)
		}
		return nil, fmt.Errorf("get token %s: %w", id, err)
	}
	t := m.token()
	return &t, nil
}

// TouchToken records that the token was used at now (at most once a minute per token).
func (s *Store) TouchToken(ctx context.Context, id string, now time.Time) error {
	at := newDBTime(now)
	_, err := s.DB.NewUpdate().Model((*tokenModel)(nil)).Set("last_used_at = ?", at).
		Where("token_id = ?", id).
		WhereGroup(" AND ", func(q *bun.UpdateQuery) *bun.UpdateQuery {
			return q.Where("last_used_at IS NULL").WhereOr("last_used_at < ?", newDBTime(now.Add(-time.Minute)))
		}).Exec(ctx)
	if err != nil {
		return fmt.Errorf("touch token %s: %w", id, err)
	}
	return nil
}

// RevokeTokens revokes the active tokens whose ID or name is idOrName, ends their
// sessions, and returns them; none matching is an error wrapping ErrNotFound.
func (s *Store) RevokeTokens(ctx context.Context, idOrName string, now time.Time) ([]APIToken, error) {
	var out []APIToken
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var rows []tokenModel
		err := tx.NewSelect().Model(&rows).
			Where("k.token_id = ? OR k.name = ?", idOrName, idOrName).Where("k.revoked_at IS NULL").Scan(ctx)
		if err != nil {
			return fmt.Errorf("revoke token %s: %w", idOrName, err)
		}
		if len(rows) == 0 {
			return fmt.Errorf("no active token with ID or name %q: %w", idOrName, ErrNotFound)
		}
		ids := make([]string, len(rows))
		for i := range rows {
			rows[i].RevokedAt = newDBTime(now)
			ids[i] = rows[i].TokenID
			out = append(out, rows[i].token())
		}
		if _, err := tx.NewUpdate().Model((*tokenModel)(nil)).Set("revoked_at = ?", newDBTime(now)).
			Where("token_id IN (?)", bun.In(ids)).Exec(ctx); err != nil {
			return fmt.Errorf("revoke token %s: %w", idOrName, err)
		}
		if _, err := tx.NewDelete().Model((*sessionModel)(nil)).Where("token_id IN (?)", bun.In(ids)).Exec(ctx); err != nil {
			return fmt.Errorf("revoke token %s: end its sessions: %w", idOrName, err)
		}
		return nil
	})
	return out, err
}

// Session is a dashboard login. Only the SHA-256 of its random ID is stored.
type Session struct {
	Hash string
	// TokenID is the token it was opened with ("" for the config's api.token).
	TokenID   string
	Name      string
	Role      string
	CSRF      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

type sessionModel struct {
	bun.BaseModel `bun:"table:sessions,alias:se"`

	Hash      string `bun:"hash,pk"`
	TokenID   string `bun:"token_id"`
	Name      string `bun:"name"`
	Role      string `bun:"role"`
	CSRF      string `bun:"csrf"`
	CreatedAt dbTime `bun:"created_at"`
	ExpiresAt dbTime `bun:"expires_at"`
}

// InsertSession stores a session and deletes the ones that have expired.
func (s *Store) InsertSession(ctx context.Context, se Session) error {
	if se.Hash == "" || se.Name == "" || se.Role == "" || se.CSRF == "" || se.ExpiresAt.IsZero() {
		return errors.New("insert session: hash, name, role, csrf and expiry are required")
	}
	if se.CreatedAt.IsZero() {
		se.CreatedAt = time.Now()
	}
	return s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewDelete().Model((*sessionModel)(nil)).Where("expires_at <= ?", newDBTime(se.CreatedAt)).Exec(ctx); err != nil {
			return fmt.Errorf("delete expired sessions: %w", err)
		}
		m := sessionModel{Hash: se.Hash, TokenID: se.TokenID, Name: se.Name, Role: se.Role, CSRF: se.CSRF,
			CreatedAt: newDBTime(se.CreatedAt), ExpiresAt: newDBTime(se.ExpiresAt)}
		if _, err := tx.NewInsert().Model(&m).Exec(ctx); err != nil {
			return fmt.Errorf("insert session: %w", err)
		}
		return nil
	})
}

// GetSession returns the session with this hash that has not expired at now, or an error
// wrapping ErrNotFound.
func (s *Store) GetSession(ctx context.Context, hash string, now time.Time) (*Session, error) {
	m := new(sessionModel)
	err := s.DB.NewSelect().Model(m).Where("se.hash = ?", hash).Where("se.expires_at > ?", newDBTime(now)).Scan(ctx)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("session: %w", ErrNotFound)
		}
		return nil, fmt.Errorf("get session: %w", err)
	}
	return &Session{Hash: m.Hash, TokenID: m.TokenID, Name: m.Name, Role: m.Role, CSRF: m.CSRF,
		CreatedAt: m.CreatedAt.Time, ExpiresAt: m.ExpiresAt.Time}, nil
}

// DeleteSession ends a session (logout).
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	if _, err := s.DB.NewDelete().Model((*sessionModel)(nil)).Where("hash = ?", hash).Exec(ctx); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// Audit results.
const (
	AuditAllowed = "allowed"
	AuditDenied  = "denied"
	AuditFailed  = "failed"
)

// AuditEntry is one write or denied attempt.
type AuditEntry struct {
	ID            int64     `json:"id"`
	At            time.Time `json:"at"`
	Actor         string    `json:"actor"`
	Role          string    `json:"role,omitempty"`
	Authenticated bool      `json:"authenticated"`
	Via           string    `json:"via,omitempty"`
	// Action is what was asked, e.g. "POST /api/v1/incidents/{id}/acknowledge".
	Action     string `json:"action"`
	Target     string `json:"target,omitempty"`
	IncidentID string `json:"incident_id,omitempty"`
	RemoteAddr string `json:"remote_addr,omitempty"`
	// Result is allowed, denied or failed.
	Result string `json:"result"`
	Status int    `json:"status,omitempty"`
	Detail string `json:"detail,omitempty"`
}

type auditModel struct {
	bun.BaseModel `bun:"table:audit_log,alias:au"`

	ID            int64  `bun:"id,pk,autoincrement"`
	At            dbTime `bun:"at"`
	Actor         string `bun:"actor"`
	Role          string `bun:"role"`
	Authenticated bool   `bun:"authenticated"`
	Via           string `bun:"via"`
	Action        string `bun:"action"`
	Target        string `bun:"target"`
	IncidentID    string `bun:"incident_id"`
	RemoteAddr    string `bun:"remote_addr"`
	Result        string `bun:"result"`
	Status        int    `bun:"status"`
	Detail        string `bun:"detail"`
}

// AddAudit appends one audit row.
func (s *Store) AddAudit(ctx context.Context, e AuditEntry) error {
	if e.Action == "" || e.Result == "" {
		return errors.New("add audit: action and result are required")
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	m := auditModel{At: newDBTime(e.At), Actor: e.Actor, Role: e.Role, Authenticated: e.Authenticated, Via: e.Via,
		Action: e.Action, Target: e.Target, IncidentID: e.IncidentID, RemoteAddr: e.RemoteAddr, Result: e.Result,
		Status: e.Status, Detail: e.Detail}
	if _, err := s.DB.NewInsert().Model(&m).Returning("NULL").Exec(ctx); err != nil {
		return fmt.Errorf("add audit: %w", err)
	}
	return nil
}

// AuditFilter selects audit rows; zero fields match everything.
type AuditFilter struct {
	Since      time.Time
	Actor      string
	IncidentID string
	Result     string
	Limit      int
}

// Audit returns the matching rows, oldest first (the newest Limit of them; default 1000).
func (s *Store) Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	limit := f.Limit
	if limit <= 0 || limit > maxListLimit {
		limit = 1000
	}
	var rows []auditModel
	q := s.DB.NewSelect().Model(&rows).OrderExpr("au.at DESC, au.id DESC").Limit(limit)
	if !f.Since.IsZero() {
		q = q.Where("au.at >= ?", newDBTime(f.Since))
	}
	if f.Actor != "" {
		q = q.Where("au.actor = ?", f.Actor)
	}
	if f.IncidentID != "" {
		q = q.Where("au.incident_id = ?", f.IncidentID)
	}
	if f.Result != "" {
		q = q.Where("au.result = ?", f.Result)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	out := make([]AuditEntry, len(rows))
	for i := range rows {
		m := rows[len(rows)-1-i]
		out[i] = AuditEntry{ID: m.ID, At: m.At.Time, Actor: m.Actor, Role: m.Role, Authenticated: m.Authenticated, Via: m.Via,
			Action: m.Action, Target: m.Target, IncidentID: m.IncidentID, RemoteAddr: m.RemoteAddr, Result: m.Result,
			Status: m.Status, Detail: m.Detail}
	}
	return out, nil
}
