package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/mahavishnu/mahavishnu/auth"
	"github.com/mahavishnu/mahavishnu/oncall"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// personModel is the bun model of table people.
type personModel struct {
	bun.BaseModel `bun:"table:people,alias:p"`

	Name       string `bun:"name,pk"`
	Email      string `bun:"email"`
	SlackUser  string `bun:"slack_user"`
	ChatHandle string `bun:"chat_handle"`
	Phone      string `bun:"phone"`
	TimeZone   string `bun:"time_zone"`
	Role       string `bun:"role"`
	CreatedAt  dbTime `bun:"created_at"`
	UpdatedAt  dbTime `bun:"updated_at"`
}

func (m *personModel) person() oncall.Person {
	return oncall.Person{Name: m.Name, Email: m.Email, SlackUser: m.SlackUser, ChatHandle: m.ChatHandle, Phone: m.Phone,
		TimeZone: m.TimeZone, Role: auth.Role(m.Role), CreatedAt: m.CreatedAt.Time, UpdatedAt: m.UpdatedAt.Time}
}

func newPersonModel(p oncall.Person) personModel {
	return personModel{Name: p.Name, Email: p.Email, SlackUser: p.SlackUser, ChatHandle: p.ChatHandle, Phone: p.Phone,
		TimeZone: p.TimeZone, Role: string(p.Role), CreatedAt: newDBTime(p.CreatedAt), UpdatedAt: newDBTime(p.UpdatedAt)}
}

// insertNew inserts m unless a row with the same name exists (then ErrExists).
func insertNew(ctx context.Context, db bun.IDB, m any, what string) error {
	res, err := db.NewInsert().Model(m).On("CONFLICT (name) DO NOTHING").Exec(ctx)
	if err != nil {
		return fmt.Errorf("insert %s: %w", what, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("%s: %w", what, ErrExists)
	}
	return nil
}

// InsertPerson stores a new person; it fails wrapping ErrExists when the name is taken.
func (s *Store) InsertPerson(ctx context.Context, p oncall.Person) error {
	if err := p.Validate(); err != nil {
		return err
	}
	now := time.Now()
	p.CreatedAt, p.UpdatedAt = now, now
	m := newPersonModel(p)
	return insertNew(ctx, s.DB, &m, "person "+p.Name)
}

// UpdatePerson replaces a person's fields (not the name or creation time).
func (s *Store) UpdatePerson(ctx context.Context, p oncall.Person) error {
	if err := p.Validate(); err != nil {
		return err
	}
	p.UpdatedAt = time.Now()
	m := newPersonModel(p)
	res, err := s.DB.NewUpdate().Model(&m).
		Column("email", "slack_user", "chat_handle", "phone", "time_zone", "role", "updated_at").WherePK().Exec(ctx)
	if err != nil {
		return fmt.Errorf("update person %s: %w", p.Name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("person %s: %w", p.Name, ErrNotFound)
	}
	return nil
}

// DeletePerson removes a person.
func (s *Store) DeletePerson(ctx context.Context, name string) error {
	res, err := s.DB.NewDelete().Model((*personModel)(nil)).Where("name = ?", name).Exec(ctx)
	if err != nil {
		return fmt.Errorf("delete person %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("person %s: %w", name, ErrNotFound)
	}
	return nil
}

// GetPerson returns one person, or an error wrapping ErrNotFound.
func (s *Store) GetPerson(ctx context.Context, name string) (*oncall.Person, error) {
	return s.personWhere(ctx, "p.name = ?", name, "person "+name)
}

// PersonBySlackUser returns the person with that Slack member ID, or an error wrapping
// ErrNotFound.
func (s *Store) PersonBySlackUser(ctx context.Context, slackUserID string) (*oncall.Person, error) {
	if slackUserID == "" {
		return nil, fmt.Errorf("slack user: %w", ErrNotFound)
	}
	return s.personWhere(ctx, "p.slack_user = ?", slackUserID, "slack user "+slackUserID)
}

func (s *Store) personWhere(ctx context.Context, where string, arg any, what string) (*oncall.Person, error) {
	m := new(personModel)
	if err := s.DB.NewSelect().Model(m).Where(where, arg).OrderExpr("p.name").Limit(1).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("%s: %w", what, ErrNotFound)
		}
		return nil, fmt.Errorf("get %s: %w", what, err)
	}
	p := m.person()
	return &p, nil
}

// People returns every person by name (names nil) or the named ones found.
func (s *Store) People(ctx context.Context, names []string) ([]oncall.Person, error) {
	var rows []personModel
	q := s.DB.NewSelect().Model(&rows).OrderExpr("p.name").Limit(maxListLimit)
	if names != nil {
		if len(names) == 0 {
			return nil, nil
		}
		q = q.Where("p.name IN (?)", bun.In(names))
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list people: %w", err)
	}
	out := make([]oncall.Person, len(rows))
	for i := range rows {
		out[i] = rows[i].person()
	}
	return out, nil
}

// scheduleModel is the bun model of table schedules.
type scheduleModel struct {
	bun.BaseModel `bun:"table:schedules,alias:sc"`

	Name      string `bun:"name,pk"`
	Layers    string `bun:"layers"`
	CreatedAt dbTime `bun:"created_at"`
	UpdatedAt dbTime `bun:"updated_at"`
}

type overrideModel struct {
	bun.BaseModel `bun:"table:schedule_overrides,alias:so"`

	OverrideID string `bun:"override_id,pk"`
	Schedule   string `bun:"schedule"`
	Layer      int    `bun:"layer"`
	Person     string `bun:"person"`
	FromAt     dbTime `bun:"from_at"`
	ToAt       dbTime `bun:"to_at"`
	CreatedBy  string `bun:"created_by"`
	CreatedAt  dbTime `bun:"created_at"`
}

func (m *overrideModel) override() oncall.Override {
	return oncall.Override{ID: m.OverrideID, Layer: m.Layer, Person: m.Person, From: m.FromAt.Time, To: m.ToAt.Time,
		CreatedBy: m.CreatedBy, CreatedAt: m.CreatedAt.Time}
}

// InsertSchedule stores a new schedule (its overrides are added separately).
func (s *Store) InsertSchedule(ctx context.Context, sc oncall.Schedule) error {
	sc.Overrides = nil
	if err := sc.Validate(); err != nil {
		return err
	}
	layers, err := json.Marshal(sc.Layers)
	if err != nil {
		return err
	}
	now := newDBTime(time.Now())
	m := scheduleModel{Name: sc.Name, Layers: string(layers), CreatedAt: now, UpdatedAt: now}
	return insertNew(ctx, s.DB, &m, "schedule "+sc.Name)
}

// AddLayer appends a layer to a schedule and returns the schedule.
func (s *Store) AddLayer(ctx context.Context, name string, l oncall.Layer) (*oncall.Schedule, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		sc, err := getSchedule(ctx, tx, name)
		if err != nil {
			return err
		}
		sc.Layers = append(sc.Layers, l)
		layers, err := json.Marshal(sc.Layers)
		if err != nil {
			return err
		}
		_, err = tx.NewUpdate().Model((*scheduleModel)(nil)).Set("layers = ?", string(layers)).
			Set("updated_at = ?", newDBTime(time.Now())).Where("name = ?", name).Exec(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.GetSchedule(ctx, name)
}

// GetSchedule returns a schedule with all its overrides, or an error wrapping ErrNotFound.
func (s *Store) GetSchedule(ctx context.Context, name string) (*oncall.Schedule, error) {
	return getSchedule(ctx, s.DB, name)
}

func getSchedule(ctx context.Context, db bun.IDB, name string) (*oncall.Schedule, error) {
	m := new(scheduleModel)
	if err := db.NewSelect().Model(m).Where("sc.name = ?", name).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("schedule %s: %w", name, ErrNotFound)
		}
		return nil, fmt.Errorf("get schedule %s: %w", name, err)
	}
	sc := &oncall.Schedule{Name: m.Name, CreatedAt: m.CreatedAt.Time, UpdatedAt: m.UpdatedAt.Time}
	if err := json.Unmarshal([]byte(m.Layers), &sc.Layers); err != nil {
		return nil, fmt.Errorf("schedule %s: stored layers are not valid JSON: %w", name, err)
	}
	var ovs []overrideModel
	if err := db.NewSelect().Model(&ovs).Where("so.schedule = ?", name).OrderExpr("so.from_at, so.override_id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("overrides of schedule %s: %w", name, err)
	}
	for i := range ovs {
		sc.Overrides = append(sc.Overrides, ovs[i].override())
	}
	return sc, nil
}

// Schedules returns every schedule by name, with its overrides.
func (s *Store) Schedules(ctx context.Context) ([]oncall.Schedule, error) {
	var names []string
	if err := s.DB.NewSelect().Model((*scheduleModel)(nil)).Column("name").OrderExpr("sc.name").Limit(maxListLimit).Scan(ctx, &names); err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	out := make([]oncall.Schedule, 0, len(names))
	for _, n := range names {
		sc, err := s.GetSchedule(ctx, n)
		if err != nil {
			return nil, err
		}
		out = append(out, *sc)
	}
	return out, nil
}

// DeleteSchedule removes a schedule and its overrides.
func (s *Store) DeleteSchedule(ctx context.Context, name string) error {
	return s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewDelete().Model((*overrideModel)(nil)).Where("schedule = ?", name).Exec(ctx); err != nil {
			return fmt.Errorf("delete overrides of schedule %s: %w", name, err)
		}
		res, err := tx.NewDelete().Model((*scheduleModel)(nil)).Where("name = ?", name).Exec(ctx)
		if err != nil {
			return fmt.Errorf("delete schedule %s: %w", name, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("schedule %s: %w", name, ErrNotFound)
		}
		return nil
	})
}

// InsertOverride adds an override to a schedule; it must have an ID.
func (s *Store) InsertOverride(ctx context.Context, schedule string, o oncall.Override) error {
	return s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		sc, err := getSchedule(ctx, tx, schedule)
		if err != nil {
			return err
		}
		if err := sc.ValidateOverride(o); err != nil {
			return err
		}
		if o.CreatedAt.IsZero() {
			o.CreatedAt = time.Now()
		}
		m := overrideModel{OverrideID: o.ID, Schedule: schedule, Layer: o.Layer, Person: o.Person, FromAt: newDBTime(o.From),
			ToAt: newDBTime(o.To), CreatedBy: o.CreatedBy, CreatedAt: newDBTime(o.CreatedAt)}
		if _, err := tx.NewInsert().Model(&m).Exec(ctx); err != nil {
			return fmt.Errorf("insert override %s: %w", o.ID, err)
		}
		return nil
	})
}

// DeleteOverride removes an override by ID.
func (s *Store) DeleteOverride(ctx context.Context, id string) error {
	res, err := s.DB.NewDelete().Model((*overrideModel)(nil)).Where("override_id = ?", id).Exec(ctx)
	if err != nil {
		return fmt.Errorf("delete override %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("override %s: %w", id, ErrNotFound)
	}
	return nil
}

// heartbeatModel is the bun model of table heartbeats.
type heartbeatModel struct {
	bun.BaseModel `bun:"table:heartbeats,alias:h"`

	Name           string `bun:"name,pk"`
	EveryMS        int64  `bun:"every_ms"`
	GraceMS        int64  `bun:"grace_ms"`
	Severity       string `bun:"severity"`
	Escalation     string `bun:"escalation"`
	State          string `bun:"state"`
	LastPingAt     dbTime `bun:"last_ping_at,nullzero"`
	NextDeadlineAt dbTime `bun:"next_deadline_at,nullzero"`
	IncidentID     string `bun:"incident_id"`
	CreatedBy      string `bun:"created_by"`
	CreatedAt      dbTime `bun:"created_at"`
	UpdatedAt      dbTime `bun:"updated_at"`
}

func (m *heartbeatModel) heartbeat() oncall.Heartbeat {
	h := oncall.Heartbeat{Name: m.Name, Every: time.Duration(m.EveryMS) * time.Millisecond, Grace: time.Duration(m.GraceMS) * time.Millisecond,
		Severity: schemas.Severity(m.Severity), Escalation: m.Escalation, State: m.State, IncidentID: m.IncidentID,
		CreatedBy: m.CreatedBy, CreatedAt: m.CreatedAt.Time, UpdatedAt: m.UpdatedAt.Time}
	if !m.LastPingAt.IsZero() {
		t := m.LastPingAt.Time
		h.LastPingAt = &t
	}
	if !m.NextDeadlineAt.IsZero() {
		t := m.NextDeadlineAt.Time
		h.NextDeadline = &t
	}
	return h
}

// InsertHeartbeat stores a new heartbeat definition.
func (s *Store) InsertHeartbeat(ctx context.Context, h oncall.Heartbeat) error {
	if err := h.Validate(); err != nil {
		return err
	}
	now := newDBTime(time.Now())
	m := heartbeatModel{Name: h.Name, EveryMS: h.Every.Milliseconds(), GraceMS: h.Grace.Milliseconds(), Severity: string(h.Severity),
		Escalation: h.Escalation, State: h.State, NextDeadlineAt: newDBTimePtr(h.NextDeadline), CreatedBy: h.CreatedBy,
		CreatedAt: now, UpdatedAt: now}
	return insertNew(ctx, s.DB, &m, "heartbeat "+h.Name)
}

// HeartbeatState is what the heartbeat workflow writes after each change.
type HeartbeatState struct {
	State        string
	LastPingAt   *time.Time
	NextDeadline *time.Time
	IncidentID   string
}

// SetHeartbeatState records the workflow's view of a heartbeat.
func (s *Store) SetHeartbeatState(ctx context.Context, name string, st HeartbeatState) error {
	res, err := s.DB.NewUpdate().Model((*heartbeatModel)(nil)).
		Set("state = ?", st.State).
		Set("last_ping_at = ?", newDBTimePtr(st.LastPingAt)).
		Set("next_deadline_at = ?", newDBTimePtr(st.NextDeadline)).
		Set("incident_id = ?", st.IncidentID).
		Set("updated_at = ?", newDBTime(time.Now())).
		Where("name = ?", name).Exec(ctx)
	if err != nil {
		return fmt.Errorf("heartbeat %s: write state: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("heartbeat %s: %w", name, ErrNotFound)
	}
	return nil
}

// GetHeartbeat returns one heartbeat, or an error wrapping ErrNotFound.
func (s *Store) GetHeartbeat(ctx context.Context, name string) (*oncall.Heartbeat, error) {
	m := new(heartbeatModel)
	if err := s.DB.NewSelect().Model(m).Where("h.name = ?", name).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("heartbeat %s: %w", name, ErrNotFound)
		}
		return nil, fmt.Errorf("get heartbeat %s: %w", name, err)
	}
	h := m.heartbeat()
	return &h, nil
}

// Heartbeats returns every heartbeat by name.
func (s *Store) Heartbeats(ctx context.Context) ([]oncall.Heartbeat, error) {
	var rows []heartbeatModel
	if err := s.DB.NewSelect().Model(&rows).OrderExpr("h.name").Limit(maxListLimit).Scan(ctx); err != nil {
		return nil, fmt.Errorf("list heartbeats: %w", err)
	}
	out := make([]oncall.Heartbeat, len(rows))
	for i := range rows {
		out[i] = rows[i].heartbeat()
	}
	return out, nil
}

// DeleteHeartbeat removes a heartbeat definition.
func (s *Store) DeleteHeartbeat(ctx context.Context, name string) error {
	res, err := s.DB.NewDelete().Model((*heartbeatModel)(nil)).Where("name = ?", name).Exec(ctx)
	if err != nil {
		return fmt.Errorf("delete heartbeat %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("heartbeat %s: %w", name, ErrNotFound)
	}
	return nil
}
