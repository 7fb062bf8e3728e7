package store

import (
	"fmt"
	"time"

	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/schema"
)

// sqliteTimeFormat is how times are written on SQLite, which has no time type.
//
// Decision: a fixed-width UTC text form with exactly six fractional digits, so that byte
// order equals time order (ORDER BY and range comparisons in WHERE clauses are correct),
// the value stays readable in the sqlite3 shell, and SQLite's date functions accept it. On
// PostgreSQL columns are timestamptz, which keeps microseconds and compares natively.
// Both dialects therefore store microsecond precision; finer digits are truncated.
const sqliteTimeFormat = "2006-01-02T15:04:05.000000Z"

// dbTime is the column type of every time in the bun models. It writes UTC truncated to
// the microsecond in the dialect's form (see sqliteTimeFormat) and reads back UTC. The
// zero value is NULL both ways, so nullable columns need no pointer.
type dbTime struct{ time.Time }

// newDBTime converts t for storage.
func newDBTime(t time.Time) dbTime {
	if t.IsZero() {
		return dbTime{}
	}
	return dbTime{t.UTC().Truncate(time.Microsecond)}
}

// newDBTimePtr converts a nullable time for storage.
func newDBTimePtr(t *time.Time) dbTime {
	if t == nil {
		return dbTime{}
	}
	return newDBTime(*t)
}

// ptr returns the time as a nullable value: nil for NULL.
func (t dbTime) ptr() *time.Time {
	if t.IsZero() {
		return nil
	}
	v := t.Time
	return &v
}

// AppendQuery implements schema.QueryAppender, which bun uses for both column values and
// query arguments.
func (t dbTime) AppendQuery(gen schema.QueryGen, b []byte) ([]byte, error) {
	if t.IsZero() {
		return dialect.AppendNull(b), nil
	}
	u := t.UTC().Truncate(time.Microsecond)
	if gen.Dialect().Name() == dialect.SQLite {
		b = append(b, '\'')
		b = u.AppendFormat(b, sqliteTimeFormat)
		return append(b, '\''), nil
	}
	return gen.Dialect().AppendTime(b, u), nil
}

// Scan implements sql.Scanner for what the drivers return: time.Time from pgdriver, text
// from SQLite.
func (t *dbTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*t = dbTime{}
		return nil
	case time.Time:
		*t = dbTime{v.UTC()}
		return nil
	case string:
		return t.parse(v)
	case []byte:
		return t.parse(string(v))
	}
	return fmt.Errorf("store: cannot read a time from %T", src)
}

func (t *dbTime) parse(s string) error {
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		// bun's own text form, in case a row was written by another tool.
		v, err = time.Parse("2006-01-02 15:04:05.999999999-07:00", s)
	}
	if err != nil {
		return fmt.Errorf("store: cannot parse stored time %q", s)
	}
	*t = dbTime{v.UTC()}
	return nil
}
