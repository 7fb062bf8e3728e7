package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// ErrExpired means the silence has ended already.
var ErrExpired = errors.New("already expired")

// silenceModel is the bun model of table silences; Matchers is a JSON array.
type silenceModel struct {
	bun.BaseModel `bun:"table:silences,alias:s"`

	SilenceID string `bun:"silence_id,pk"`
	Matchers  string `bun:"matchers"`
	StartsAt  dbTime `bun:"starts_at"`
	EndsAt    dbTime `bun:"ends_at"`
	Comment   string `bun:"comment"`
	CreatedBy string `bun:"created_by"`
	CreatedAt dbTime `bun:"created_at"`
	ExpiredBy string `bun:"expired_by"`
}

func (m *silenceModel) silence() (schemas.Silence, error) {
	var ms []schemas.SilenceMatcher
	if err := json.Unmarshal([]byte(m.Matchers), &ms); err != nil {
		return schemas.Silence{}, fmt.Errorf("silence %s: stored matchers are not valid JSON: %w", m.SilenceID, err)
	}
	return schemas.Silence{ID: m.SilenceID, Matchers: ms, StartsAt: m.StartsAt.Time, EndsAt: m.EndsAt.Time,
		Comment: m.Comment, CreatedBy: m.CreatedBy, CreatedAt: m.CreatedAt.Time, ExpiredBy: m.ExpiredBy}, nil
}

// InsertSilence stores a new silence; it must have an ID and be valid.
func (s *Store) InsertSilence(ctx context.Context, sil schemas.Silence) error {
	if sil.ID == "" {
		return errors.New("insert silence: id is required")
	}
	if err := sil.Validate(); err != nil {
		return fmt.Errorf("insert silence %s: %w", sil.ID, err)
	}
	ms, err := json.Marshal(sil.Matchers)
	if err != nil {
		return fmt.Errorf("insert silence %s: %w", sil.ID, err)
	}
	if sil.CreatedAt.IsZero() {
		sil.CreatedAt = time.Now()
	}
	m := silenceModel{SilenceID: sil.ID, Matchers: string(ms), StartsAt: newDBTime(sil.StartsAt), EndsAt: newDBTime(sil.EndsAt),
		Comment: sil.Comment, CreatedBy: sil.CreatedBy, CreatedAt: newDBTime(sil.CreatedAt), ExpiredBy: sil.ExpiredBy}
	if _, err := s.DB.NewInsert().Model(&m).Exec(ctx); err != nil {
		return fmt.Errorf("insert silence %s: %w", sil.ID, err)
	}
	return nil
}

// Silences returns the silences that have not ended at now (active or starting later),
// soonest to end first; with all, every silence, newest first (at most 10000).
func (s *Store) Silences(ctx context.Context, now time.Time, all bool) ([]schemas.Silence, error) {
	var rows []silenceModel
	q := s.DB.NewSelect().Model(&rows)
	if all {
		q = q.OrderExpr("s.created_at DESC, s.silence_id DESC").Limit(maxListLimit)
	} else {
		q = q.Where("s.ends_at > ?", newDBTime(now)).OrderExpr("s.ends_at ASC, s.silence_id ASC")
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list silences: %w", err)
	}
	out := make([]schemas.Silence, len(rows))
	for i := range rows {
		sil, err := rows[i].silence()
		if err != nil {
			return nil, fmt.Errorf("list silences: %w", err)
		}
		out[i] = sil
	}
	return out, nil
}

// GetSilence returns one silence, or an error wrapping ErrNotFound.
func (s *Store) GetSilence(ctx context.Context, id string) (*schemas.Silence, error) {
	m, err := getSilence(ctx, s.DB, id, false)
	if err != nil {
		return nil, err
	}
	sil, err := m.silence()
	if err != nil {
		return nil, err
	}
	return &sil, nil
}

func getSilence(ctx context.Context, db bun.IDB, id string, forUpdate bool) (*silenceModel, error) {
	m := new(silenceModel)
	q := db.NewSelect().Model(m).Where("s.silence_id = ?", id)
	if forUpdate && db.Dialect().Name() == dialect.PG {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("silence %s: %w", id, ErrNotFound)
		}
		return nil, fmt.Errorf("get silence %s: %w", id, err)
	}
	return m, nil
}

// ExpireSilence ends a silence at now and records who ended it. It returns an error
// wrapping ErrNotFound, or ErrExpired when the silence had already ended.
func (s *Store) ExpireSilence(ctx context.Context, id, by string, now time.Time) (*schemas.Silence, error) {
	var out schemas.Silence
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		m, err := getSilence(ctx, tx, id, true)
		if err != nil {
			return err
		}
		at := newDBTime(now)
		if !m.EndsAt.After(at.Time) {
			return fmt.Errorf("silence %s: %w at %s", id, ErrExpired, m.EndsAt.Format(time.RFC3339))
		}
		m.EndsAt, m.ExpiredBy = at, by
		if m.StartsAt.After(at.Time) {
			m.StartsAt = at // a silence that had not started yet never starts
		}
		if _, err := tx.NewUpdate().Model(m).Column("starts_at", "ends_at", "expired_by").WherePK().Exec(ctx); err != nil {
			return fmt.Errorf("expire silence %s: %w", id, err)
		}
		out, err = m.silence()
		return err
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// SilencedCounts returns how many stored events each of the silences muted; silences
// that muted none are absent.
func (s *Store) SilencedCounts(ctx context.Context, ids []string) (map[string]int, error) {
	out := make(map[string]int)
	for chunk := range slices.Chunk(ids, writeChunk) {
		var rows []struct {
			SilenceID string `bun:"silence_id"`
			N         int    `bun:"n"`
		}
		err := s.DB.NewSelect().Model((*eventModel)(nil)).
			ColumnExpr("e.silence_id AS silence_id, COUNT(*) AS n").
			Where("e.silence_id IN (?)", bun.In(chunk)).
			GroupExpr("e.silence_id").
			Scan(ctx, &rows)
		if err != nil {
			return nil, fmt.Errorf("count silenced events: %w", err)
		}
		for _, r := range rows {
			out[r.SilenceID] = r.N
		}
	}
	return out, nil
}
