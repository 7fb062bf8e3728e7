package manager

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// CreateSilence stores a silence and applies it at once: from now on, matching events
// are stored as silenced and reach no rule. It sets ID and CreatedAt, and StartsAt to now
// when it is zero. An invalid silence is an InvalidError naming the field.
func (m *Manager) CreateSilence(ctx context.Context, s schemas.Silence) (*schemas.Silence, error) {
	now := m.now().UTC()
	s.ID = newSilenceID()
	s.CreatedAt = now
	if s.StartsAt.IsZero() {
		s.StartsAt = now
	}
	s.ExpiredBy = ""
	if err := s.Validate(); err != nil {
		return nil, &InvalidError{Err: fmt.Errorf("silence: %w", err)}
	}
	if !s.EndsAt.After(now) {
		return nil, invalid("silence: ends_at: must be in the future")
	}
	if err := m.opts.Store.InsertSilence(ctx, s); err != nil {
		return nil, err
	}
	if err := m.loadSilences(ctx); err != nil {
		return nil, err
	}
	m.logger.Info("silence created", "silence", s.ID, "matchers", fmt.Sprint(s.Matchers), "ends_at", s.EndsAt, "by", s.CreatedBy)
	return m.opts.Store.GetSilence(ctx, s.ID)
}

// ExpireSilence ends a silence now. It returns an error wrapping store.ErrNotFound, or a
// RejectedError when the silence had ended already.
func (m *Manager) ExpireSilence(ctx context.Context, id, by string) (*schemas.Silence, error) {
	s, err := m.opts.Store.ExpireSilence(ctx, id, by, m.now().UTC())
	if errors.Is(err, store.ErrExpired) {
		return nil, &RejectedError{Reason: err.Error()}
	}
	if err != nil {
		return nil, err
	}
	if err := m.loadSilences(ctx); err != nil {
		return nil, err
	}
	m.logger.Info("silence expired", "silence", id, "by", by)
	return s, nil
}

// Silences lists the silences that have not ended (all: every silence, newest first).
func (m *Manager) Silences(ctx context.Context, all bool) ([]schemas.Silence, error) {
	return m.opts.Store.Silences(ctx, m.now().UTC(), all)
}

// loadSilences caches the silences that have not ended; Run refreshes it every check, so
// silences created through another manager process apply here too.
func (m *Manager) loadSilences(ctx context.Context) error {
	list, err := m.opts.Store.Silences(ctx, m.now().UTC(), false)
	if err != nil {
		return fmt.Errorf("load silences: %w", err)
	}
	m.silences.Store(&list)
	return nil
}

// silence marks the events of a batch that an active silence mutes at now (the time the
// batch arrived, as with Alertmanager's silences).
func (m *Manager) silence(batch []schemas.Event, now time.Time) {
	p := m.silences.Load()
	if p == nil || len(*p) == 0 {
		return
	}
	for i := range batch {
		for j := range *p {
			if s := &(*p)[j]; s.ActiveAt(now) && s.Matches(&batch[i]) {
				batch[i].SilencedBy = s.ID
				break
			}
		}
	}
}

// activeSilences counts the cached silences in force at now.
func (m *Manager) activeSilences(now time.Time) int {
	p := m.silences.Load()
	if p == nil {
		return 0
	}
	n := 0
	for i := range *p {
		if (*p)[i].ActiveAt(now) {
			n++
		}
	}
	return n
}

// newSilenceID returns "sil_" and 16 hex digits.
func newSilenceID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return schemas.SilenceIDPrefix + hex.EncodeToString(b[:])
}
