package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store/storetest"
)

// testDB is an empty database of one dialect, private to one test.
type testDB struct {
	dialect string
	url     string
	dataDir string
}

// eachDialect marks t parallel and runs fn as parallel subtests "sqlite" and "postgres",
// each with a fresh, empty database: a file in a temp dir, or a new PostgreSQL schema
// dropped at cleanup.
func eachDialect(t *testing.T, fn func(t *testing.T, db testDB)) {
	t.Helper()
	t.Parallel()
	for _, d := range []string{DialectSQLite, DialectPostgres} {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, newTestDB(t, d))
		})
	}
}

// eachStore is eachDialect with the database opened (and migrated) by Open.
func eachStore(t *testing.T, fn func(t *testing.T, s *Store)) {
	t.Helper()
	eachDialect(t, func(t *testing.T, db testDB) {
		fn(t, openTestStore(t, db))
	})
}

func newTestDB(t *testing.T, dialect string) testDB {
	t.Helper()
	if dialect == DialectSQLite {
		return testDB{dialect: dialect, url: "sqlite:///incidents.db", dataDir: t.TempDir()}
	}
	return testDB{dialect: dialect, url: newPostgresSchema(t)}
}

// newPostgresSchema creates a uniquely named schema and returns a URL whose connections
// use it (search_path), so tests run in parallel and repeatedly without interfering.
func newPostgresSchema(t *testing.T) string {
	t.Helper()
	return storetest.NewSchema(t, "store_test").URL
}

func openTestStore(t *testing.T, db testDB) *Store {
	t.Helper()
	s, err := Open(context.Background(), db.url, db.dataDir)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	require.Equal(t, db.dialect, s.Dialect())
	return s
}

// base is a fixed time with a nanosecond part, in a non-UTC zone, to catch conversions.
var base = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.FixedZone("UTC+2", 2*3600))

// stored is what the store returns for t: UTC, truncated to the microsecond.
func stored(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func storedPtr(t time.Time) *time.Time {
	v := stored(t)
	return &v
}

func testEvent(id string, ts time.Time) schemas.Event {
	return schemas.Event{
		EventID:   id,
		Timestamp: ts,
		EventType: "error",
		Source:    "api",
		Severity:  schemas.SeverityHigh,
		Component: "api",
	}
}

func eventIDs(events []schemas.Event) []string {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.EventID
	}
	return ids
}

func TestSQLitePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url, dataDir, want, wantErr string
	}{
		{url: "sqlite:///incidents.db", dataDir: "/data", want: "/data/incidents.db"},
		{url: "sqlite:///sub/incidents.db", dataDir: "/data", want: "/data/sub/incidents.db"},
		{url: "sqlite://incidents.db", dataDir: "/data", want: "/data/incidents.db"},
		{url: "sqlite:///incidents.db", dataDir: "", want: "incidents.db"},
		{url: "sqlite:////var/lib/m/incidents.db", dataDir: "/data", want: "/var/lib/m/incidents.db"},
		{url: "sqlite://:memory:", want: ":memory:"},
		{url: "sqlite:///", dataDir: "/data", wantErr: "no file name"},
		{url: "sqlite:///x.db?mode=ro", dataDir: "/data", wantErr: "not supported"},
		{url: "sqlite:x.db", wantErr: "want sqlite:///relative.db"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, err := sqlitePath(tt.url, tt.dataDir)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestOpenErrorsNeverShowPassword(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, url, wantErr string
	}{
		{name: "unsupported scheme", url: "mysql://root:s3cret-pw@db/x", wantErr: `unsupported scheme "mysql"`},
		{name: "unreachable", url: "postgres://app:s3cret-pw@127.0.0.1:1/x?sslmode=disable&dial_timeout=2s", wantErr: "postgres database postgres://app:xxxxx@127.0.0.1:1/x"},
		{name: "bad sslmode", url: "postgres://app:s3cret-pw@127.0.0.1:1/x?sslmode=bogus", wantErr: "sslmode 'bogus' is not supported"},
		{name: "bad url", url: "postgres://app:s3cret-pw@127.0.0.1:port/x", wantErr: "not a valid postgres:// URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(context.Background(), tt.url, t.TempDir())
			require.ErrorContains(t, err, tt.wantErr)
			require.NotContains(t, err.Error(), "s3cret-pw")
		})
	}
}

func TestSQLiteSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTestStore(t, testDB{dialect: DialectSQLite, url: "sqlite:///nested/dir/incidents.db", dataDir: dir})
	ctx := context.Background()
	_, err := s.InsertEvents(ctx, []schemas.Event{testEvent("e1", base)}, base)
	require.NoError(t, err)

	path := filepath.Join(dir, "nested", "dir", "incidents.db")
	require.FileExists(t, path)
	require.FileExists(t, path+"-wal", "WAL mode must create the -wal file")

	// One connection: writers wait for it in database/sql, not in SQLite's busy handler.
	require.Equal(t, 1, s.DB.DB.Stats().MaxOpenConnections)
	conns := make([]*sql.Conn, 1)
	for i := range conns {
		c, err := s.DB.DB.Conn(ctx)
		require.NoError(t, err)
		conns[i] = c
	}
	for i, c := range conns {
		for pragma, want := range map[string]string{
			"journal_mode": "wal", "busy_timeout": "10000", "synchronous": "1", "foreign_keys": "1",
		} {
			var got string
			require.NoError(t, c.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got))
			require.Equal(t, want, got, "connection %d: PRAGMA %s", i, pragma)
		}
	}
	for _, c := range conns {
		require.NoError(t, c.Close())
	}
}

func TestSQLiteMemory(t *testing.T) {
	t.Parallel()
	s := openTestStore(t, testDB{dialect: DialectSQLite, url: "sqlite://:memory:"})
	ctx := context.Background()
	ins, err := s.InsertEvents(ctx, []schemas.Event{testEvent("e1", base)}, base)
	require.NoError(t, err)
	require.Equal(t, []string{"e1"}, ins)
	n, err := s.CountEvents(ctx, EventFilter{})
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

func TestPing(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s, err := Open(ctx, db.url, db.dataDir)
		require.NoError(t, err)
		require.NoError(t, s.Ping(ctx))
		require.NoError(t, s.Close())
		require.ErrorContains(t, s.Ping(ctx), "database is closed")
	})
}
