package store

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// Notification limits shared by every worker process: the deduplication window of each
// (incident, channel, kind) and each channel's rate limit, so that several workers
// (cluster mode) send no more than one would. The notify package's Throttle decides with
// them through a ThrottleState that the CLI builds over these functions.
//
// Each decision is one transaction that checks and records at once: the rows it reads are
// locked (SELECT ... FOR UPDATE on PostgreSQL; SQLite transactions begin IMMEDIATE, so
// there is one writer at a time), and a row that does not exist yet is first inserted
// (ON CONFLICT DO NOTHING), so two workers deciding about the same key or channel queue
// on its row. Times are the callers' (the worker's clock), not the database's.

// Verdicts of AdmitNotification.
const (
	// NotifyAdmitted: the send may go.
	NotifyAdmitted = ""
	// NotifyDuplicate: the key was sent within its window, or a send of it is in flight.
	NotifyDuplicate = "duplicate"
	// NotifyRateLimited: the channel's rate limit has no room.
	NotifyRateLimited = "rate_limited"
)

// NotifyAdmission asks to let one notification through a channel go at At.
type NotifyAdmission struct {
	IncidentID string
	Channel    string
	Kind       string
	At         time.Time
	// Dedup says whether (IncidentID, Channel, Kind) is deduplicated.
	Dedup bool
	// Window: a key sent less than Window before At is a duplicate.
	Window time.Duration
	// InFlight: a key reserved less than InFlight before At is a duplicate (a send in
	// flight); an older reservation was abandoned (its worker died) and is taken over.
	InFlight time.Duration
	// Token identifies the reservation this send makes, for ReleaseNotification.
	Token string
	// Every and Burst are the channel's rate limit (generic cell rate algorithm: one send
	// per Every on average, Burst at once); Every 0 means none.
	Every time.Duration
	Burst int
}

// notifyThrottleModel is the bun model of table notify_throttle.
type notifyThrottleModel struct {
	bun.BaseModel `bun:"table:notify_throttle,alias:nt"`

	IncidentID string `bun:"incident_id,pk"`
	Channel    string `bun:"channel,pk"`
	Kind       string `bun:"kind,pk"`
	SentAt     dbTime `bun:"sent_at"`
	ReservedAt dbTime `bun:"reserved_at"`
	Token      string `bun:"token"`
}

// notifyRateModel is the bun model of table notify_rate_limits.
type notifyRateModel struct {
	bun.BaseModel `bun:"table:notify_rate_limits,alias:nr"`

	Channel string `bun:"channel,pk"`
	// TAT is the theoretical arrival time; NULL is a full bucket.
	TAT dbTime `bun:"tat"`
}

// AdmitNotification decides whether a send may go and records it when it may, in one
// transaction: NotifyDuplicate (with Dedup) when the key was sent within Window or is
// reserved within InFlight; NotifyRateLimited when the channel's rate has no room (nothing
// is recorded); otherwise it takes the send's place in the channel's rate and, with Dedup,
// reserves the key under Token, and returns NotifyAdmitted.
func (s *Store) AdmitNotification(ctx context.Context, a NotifyAdmission) (string, error) {
	var verdict string
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		verdict, err = admitNotification(ctx, tx, a)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("%s: admit %s notification of %s to %s: %w", s.where, a.Kind, a.IncidentID, a.Channel, err)
	}
	return verdict, nil
}

func admitNotification(ctx context.Context, db bun.IDB, a NotifyAdmission) (string, error) {
	at := newDBTime(a.At)
	var key *notifyThrottleModel
	if a.Dedup {
		key = &notifyThrottleModel{IncidentID: a.IncidentID, Channel: a.Channel, Kind: a.Kind}
		if err := lockRow(ctx, db, key, "nt.incident_id = ? AND nt.channel = ? AND nt.kind = ?", a.IncidentID, a.Channel, a.Kind); err != nil {
			return "", err
		}
		inFlight := !key.ReservedAt.IsZero() && at.Sub(key.ReservedAt.Time) < a.InFlight
		recent := !key.SentAt.IsZero() && at.Sub(key.SentAt.Time) < a.Window
		if inFlight || recent {
			return NotifyDuplicate, nil
		}
	}
	if a.Every > 0 {
		rate := &notifyRateModel{Channel: a.Channel}
		if err := lockRow(ctx, db, rate, "nr.channel = ?", a.Channel); err != nil {
			return "", err
		}
		// GCRA: the send may go when TAT <= At + (Burst-1)*Every; TAT then moves to
		// max(TAT, At) + Every.
		tat := rate.TAT.Time
		if !tat.IsZero() && tat.After(at.Add(time.Duration(max(a.Burst, 1)-1)*a.Every)) {
			return NotifyRateLimited, nil
		}
		if tat.Before(at.Time) {
			tat = at.Time
		}
		rate.TAT = newDBTime(tat.Add(a.Every))
		if _, err := db.NewUpdate().Model(rate).Column("tat").WherePK().Exec(ctx); err != nil {
			return "", fmt.Errorf("record rate of channel %s: %w", a.Channel, err)
		}
	}
	if key != nil {
		key.ReservedAt, key.Token = at, a.Token
		if _, err := db.NewUpdate().Model(key).Column("reserved_at", "token").WherePK().Exec(ctx); err != nil {
			return "", fmt.Errorf("reserve: %w", err)
		}
	}
	return NotifyAdmitted, nil
}

// lockRow inserts m's row unless it exists, then reads it into m, locked until the end
// of the transaction on PostgreSQL.
func lockRow(ctx context.Context, db bun.IDB, m any, where string, args ...any) error {
	if _, err := db.NewInsert().Model(m).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	q := db.NewSelect().Model(m).Where(where, args...)
	if db.Dialect().Name() == dialect.PG {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	return nil
}

// ReleaseNotification ends the reservation token of a key: with sent, the key counts as
// sent at the reservation's time; without, it is as before the reservation. A reservation
// taken over by another send (after InFlight) is left alone.
func (s *Store) ReleaseNotification(ctx context.Context, incidentID, channel, kind, token string, sent bool) error {
	q := s.DB.NewUpdate().Model((*notifyThrottleModel)(nil)).
		Set("reserved_at = NULL").Set("token = ''").
		Where("incident_id = ? AND channel = ? AND kind = ? AND token = ?", incidentID, channel, kind, token)
	if sent {
		q = q.Set("sent_at = reserved_at")
	}
	if _, err := q.Exec(ctx); err != nil {
		return fmt.Errorf("%s: release %s notification of %s to %s: %w", s.where, kind, incidentID, channel, err)
	}
	return nil
}

// SweepNotifications forgets keys last sent before sentBefore (or never) that are not
// reserved since reservedBefore, and returns how many it forgot.
func (s *Store) SweepNotifications(ctx context.Context, sentBefore, reservedBefore time.Time) (int, error) {
	res, err := s.DB.NewDelete().Model((*notifyThrottleModel)(nil)).
		Where("sent_at IS NULL OR sent_at < ?", newDBTime(sentBefore)).
		Where("reserved_at IS NULL OR reserved_at < ?", newDBTime(reservedBefore)).
		Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("%s: sweep notification throttle: %w", s.where, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s: sweep notification throttle: %w", s.where, err)
	}
	return int(n), nil
}
