package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// ErrExists means a row with that ID is stored already.
var ErrExists = errors.New("already exists")

// ruleModel is the bun model of table rules. Definition is the whole schemas.Rule as
// JSON, so a new rule option needs no migration; Enabled repeats it for queries.
type ruleModel struct {
	bun.BaseModel `bun:"table:rules,alias:r"`

	RuleID     string `bun:"rule_id,pk"`
	Position   int    `bun:"position"`
	Enabled    bool   `bun:"enabled"`
	Definition string `bun:"definition"`
	CreatedAt  dbTime `bun:"created_at"`
	UpdatedAt  dbTime `bun:"updated_at"`
	UpdatedBy  string `bun:"updated_by"`
}

// RuleRecord is a stored rule with its bookkeeping.
type RuleRecord struct {
	schemas.Rule
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// UpdatedBy names who last changed the rule ("" for a seeded rule never changed).
	UpdatedBy string `json:"updated_by,omitempty"`
}

func newRuleModel(r *schemas.Rule, position int, by string, now time.Time) (ruleModel, error) {
	if err := r.Validate(); err != nil {
		return ruleModel{}, err
	}
	def, err := json.Marshal(r)
	if err != nil {
		return ruleModel{}, fmt.Errorf("rule %q: encode: %w", r.ID, err)
	}
	return ruleModel{RuleID: r.ID, Position: position, Enabled: r.Enabled, Definition: string(def),
		CreatedAt: newDBTime(now), UpdatedAt: newDBTime(now), UpdatedBy: by}, nil
}

func (m *ruleModel) record() (RuleRecord, error) {
	var r schemas.Rule
	if err := json.Unmarshal([]byte(m.Definition), &r); err != nil {
		return RuleRecord{}, fmt.Errorf("rule %q: stored definition is not valid JSON: %w", m.RuleID, err)
	}
	r.ID = m.RuleID
	return RuleRecord{Rule: r, CreatedAt: m.CreatedAt.Time, UpdatedAt: m.UpdatedAt.Time, UpdatedBy: m.UpdatedBy}, nil
}

// SeedRules stores those of rules whose ID is not stored yet, at their position in the
// list, and returns their IDs. A stored rule keeps its settings: the configured rules only
// seed the store, `incidents rules` changes it. Every rule is validated first.
func (s *Store) SeedRules(ctx context.Context, rules []schemas.Rule, now time.Time) ([]string, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	models := make([]ruleModel, len(rules))
	for i := range rules {
		m, err := newRuleModel(&rules[i], i, "", now)
		if err != nil {
			return nil, fmt.Errorf("seed rules: %w", err)
		}
		models[i] = m
	}
	var added []string
	if err := s.DB.NewInsert().Model(&models).
		On("CONFLICT (rule_id) DO NOTHING").
		Returning("rule_id").
		Scan(ctx, &added); err != nil {
		return nil, fmt.Errorf("seed %d rules: %w", len(rules), err)
	}
	return added, nil
}

// RuleRecords returns every stored rule in order (position, then ID).
func (s *Store) RuleRecords(ctx context.Context) ([]RuleRecord, error) {
	var rows []ruleModel
	if err := s.DB.NewSelect().Model(&rows).OrderExpr("r.position ASC, r.rule_id ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	out := make([]RuleRecord, len(rows))
	for i := range rows {
		rec, err := rows[i].record()
		if err != nil {
			return nil, fmt.Errorf("list rules: %w", err)
		}
		out[i] = rec
	}
	return out, nil
}

// Rules returns every stored rule in order, as the detector takes them.
func (s *Store) Rules(ctx context.Context) ([]schemas.Rule, error) {
	recs, err := s.RuleRecords(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]schemas.Rule, len(recs))
	for i := range recs {
		out[i] = recs[i].Rule
	}
	return out, nil
}

// GetRule returns one stored rule, or an error wrapping ErrNotFound.
func (s *Store) GetRule(ctx context.Context, id string) (*RuleRecord, error) {
	m := new(ruleModel)
	if err := s.DB.NewSelect().Model(m).Where("r.rule_id = ?", id).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("rule %s: %w", id, ErrNotFound)
		}
		return nil, fmt.Errorf("get rule %s: %w", id, err)
	}
	rec, err := m.record()
	if err != nil {
		return nil, err
	}
	return &rec, nil
}

// InsertRule stores a new rule after the others, or returns an error wrapping ErrExists.
func (s *Store) InsertRule(ctx context.Context, r schemas.Rule, by string, now time.Time) error {
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var last sql.NullInt64
		if err := tx.NewSelect().Model((*ruleModel)(nil)).ColumnExpr("MAX(r.position)").Scan(ctx, &last); err != nil {
			return err
		}
		m, err := newRuleModel(&r, int(last.Int64)+1, by, now)
		if err != nil {
			return err
		}
		var ids []string
		if err := tx.NewInsert().Model(&m).On("CONFLICT (rule_id) DO NOTHING").Returning("rule_id").Scan(ctx, &ids); err != nil {
			return err
		}
		if len(ids) == 0 {
			return fmt.Errorf("rule %s: %w", r.ID, ErrExists)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create rule %s: %w", r.ID, err)
	}
	return nil
}

// UpdateRule replaces a stored rule's definition (its position and creation time stay),
// or returns an error wrapping ErrNotFound.
func (s *Store) UpdateRule(ctx context.Context, r schemas.Rule, by string, now time.Time) error {
	m, err := newRuleModel(&r, 0, by, now)
	if err != nil {
		return fmt.Errorf("update rule %s: %w", r.ID, err)
	}
	res, err := s.DB.NewUpdate().Model(&m).
		Column("enabled", "definition", "updated_at", "updated_by").
		WherePK().
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("update rule %s: %w", r.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update rule %s: %w", r.ID, err)
	} else if n == 0 {
		return fmt.Errorf("rule %s: %w", r.ID, ErrNotFound)
	}
	return nil
}
