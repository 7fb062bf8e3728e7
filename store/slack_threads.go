package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uptrace/bun"
)

// slackThreadModel is the bun model of table slack_threads.
type slackThreadModel struct {
	bun.BaseModel `bun:"table:slack_threads,alias:stt"`

	IncidentID string `bun:"incident_id,pk"`
	Channel    string `bun:"channel,notnull"`
	TS         string `bun:"ts,notnull"`
}

// SlackThread returns the channel and message ts of the incident's first Slack Web API
// message; both are empty when there is none yet.
func (s *Store) SlackThread(ctx context.Context, incidentID string) (channel, ts string, err error) {
	var m slackThreadModel
	err = s.DB.NewSelect().Model(&m).Where("incident_id = ?", incidentID).Scan(ctx)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", "", nil
	case err != nil:
		return "", "", fmt.Errorf("%s: slack thread of %s: %w", s.where, incidentID, err)
	}
	return m.Channel, m.TS, nil
}

// SaveSlackThread records the incident's first Slack message. A thread already recorded
// is kept (the first message wins) and returned.
func (s *Store) SaveSlackThread(ctx context.Context, incidentID, channel, ts string) (string, string, error) {
	_, err := s.DB.NewInsert().Model(&slackThreadModel{IncidentID: incidentID, Channel: channel, TS: ts}).
		On("CONFLICT (incident_id) DO NOTHING").Exec(ctx)
	if err != nil {
		return "", "", fmt.Errorf("%s: save slack thread of %s: %w", s.where, incidentID, err)
	}
	return s.SlackThread(ctx, incidentID)
}
