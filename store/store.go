// Package store is Mahavishnu's event store and incident read model, built on bun for
// SQLite (the embedded default, through modernc.org/sqlite) and PostgreSQL (cluster mode).
//
// The bun models in this package are separate from the API types in schemas; every
// exported function takes and returns schemas types. The schema is created by embedded SQL
// migrations (migrations/sqlite, migrations/postgres) that Open runs under a lock, so
// several replicas can start at once (a PostgreSQL advisory lock per schema).
//
// Decisions worth knowing:
//   - Times are stored in UTC with microsecond precision: timestamptz on PostgreSQL,
//     fixed-width text on SQLite so that text order is time order (see time.go).
//   - SQLite runs in WAL mode with busy_timeout=10000, synchronous=NORMAL, foreign keys on,
//     and BEGIN IMMEDIATE transactions, so writers queue instead of failing.
//   - events.incident_id and timeline.incident_id have no foreign key to incidents: events
//     are attached, and timeline entries written, before the workflow's first snapshot.
//   - The workflow owns the incident row and writes whole snapshots (UpsertIncident);
//     only CloseIncident changes an incident outside it, and no snapshot reopens a closed one.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/pgdriver"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Dialect names returned by Store.Dialect.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// Sentinel errors. Callers test them with errors.Is; the returned errors wrap them with
// the incident ID and, for ErrNotResolved, the current status.
var (
	// ErrNotFound means the requested row does not exist.
	ErrNotFound = errors.New("not found")
	// ErrNotResolved means an incident cannot be closed because it is not resolved yet.
	ErrNotResolved = errors.New("only a resolved incident can be closed")
	// ErrAlreadyClosed means the incident was closed before.
	ErrAlreadyClosed = errors.New("already closed")
)

// sqlitePragmas are applied by modernc.org/sqlite to every new connection. _txlock=immediate
// makes each transaction take the write lock at BEGIN, so concurrent writers wait on
// busy_timeout instead of failing with SQLITE_BUSY when a read transaction is upgraded.
const sqlitePragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate"

// Store is the event store and incident read model.
type Store struct {
	// DB is the bun handle, for callers that need a query this package does not offer.
	DB *bun.DB

	dialect string
	// where names the database in errors and logs: a file path or a URL without password.
	where string
	// path is the SQLite file ("" on PostgreSQL and for :memory:).
	path string
}

// SQLitePath returns the SQLite database file ("" for PostgreSQL or an in-memory database).
func (s *Store) SQLitePath() string { return s.path }

// Open connects to the database named by url, creates the schema or brings it up to date,
// and returns the store.
//
// Accepted URLs:
//   - "sqlite:///incidents.db": a path relative to dataDir (created if needed);
//   - "sqlite:////var/lib/mahavishnu/incidents.db": an absolute path;
//   - "sqlite://:memory:": a private in-memory database (tests);
//   - "postgres://user:pass@host:5432/db?sslmode=disable" (or "postgresql://"); other
//     query parameters such as search_path are sent as session parameters.
func Open(ctx context.Context, url, dataDir string) (*Store, error) {
	// Processes opening a new SQLite file at the same moment (the manager and a CLI
	// command) can collide while one switches it to WAL, where SQLite reports "database
	// is locked" without waiting on busy_timeout: try again a few times.
	for attempt := 1; ; attempt++ {
		s, err := open(ctx, url, dataDir)
		if err == nil || attempt == 5 || !strings.Contains(err.Error(), "database is locked") {
			return s, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
		}
	}
}

func open(ctx context.Context, url, dataDir string) (*Store, error) {
	s, err := Connect(ctx, url, dataDir)
	if err != nil {
		return nil, err
	}
	if _, err := s.Migrate(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// Connect is Open without running the migrations, for `db status` and `db rollback`.
func Connect(ctx context.Context, rawURL, dataDir string) (*Store, error) {
	var s *Store
	var err error
	switch {
	case strings.HasPrefix(rawURL, "sqlite:"):
		s, err = openSQLite(rawURL, dataDir)
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		s, err = openPostgres(rawURL)
	default:
		scheme, _, _ := strings.Cut(rawURL, ":")
		return nil, fmt.Errorf("database url: unsupported scheme %q: want sqlite:///file.db or postgres://...", scheme)
	}
	if err != nil {
		return nil, err
	}
	if err := s.Ping(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	if s.dialect == DialectSQLite {
		var mode string
		if err := s.DB.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("%s: read journal_mode: %w", s.where, err)
		}
		if mode != "wal" && mode != "memory" {
			slog.Warn("sqlite database is not in WAL mode; readers will block the writer", "database", s.where, "journal_mode", mode)
		}
	}
	return s, nil
}

// sqlitePath resolves a sqlite:// URL to a file path (or ":memory:").
func sqlitePath(rawURL, dataDir string) (string, error) {
	rest, ok := strings.CutPrefix(rawURL, "sqlite://")
	if !ok {
		return "", fmt.Errorf("database url %q: want sqlite:///relative.db or sqlite:////absolute/path.db", rawURL)
	}
	switch {
	case rest == ":memory:":
		return rest, nil
	case strings.ContainsAny(rest, "?#"):
		return "", fmt.Errorf("database url %q: query parameters and '?' or '#' in the path are not supported for sqlite", rawURL)
	case strings.HasPrefix(rest, "//"):
		return filepath.Clean(rest[1:]), nil
	}
	rel := strings.TrimPrefix(rest, "/")
	if rel == "" {
		return "", fmt.Errorf("database url %q: no file name", rawURL)
	}
	if dataDir == "" {
		dataDir = "."
	}
	return filepath.Join(dataDir, rel), nil
}

func openSQLite(rawURL, dataDir string) (*Store, error) {
	path, err := sqlitePath(rawURL, dataDir)
	if err != nil {
		return nil, err
	}
	if path != ":memory:" {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("sqlite database %s: create data directory: %w", path, err)
		}
	}
	sqldb, err := sql.Open("sqlite", path+"?"+sqlitePragmas)
	if err != nil {
		return nil, fmt.Errorf("sqlite database %s: %w", path, err)
	}
	if path == ":memory:" {
		// Every connection to :memory: is a separate database: keep exactly one.
		sqldb.SetMaxOpenConns(1)
	} else {
		// One connection: SQLite has one writer at a time anyway, and writers that wait in
		// SQLite's busy handler poll with no order, so under a storm of ingest commits,
		// detector batches and activity writes one of them could wait past busy_timeout
		// (seen: 6-22 s stalls and SQLITE_BUSY). Waiting for database/sql's connection
		// instead costs no polling. Every statement here is short; readers queue too.
		sqldb.SetMaxOpenConns(1)
		sqldb.SetMaxIdleConns(1)
	}
	st := &Store{DB: bun.NewDB(sqldb, sqlitedialect.New()), dialect: DialectSQLite, where: "sqlite database " + path}
	if path != ":memory:" {
		st.path = path
	}
	return st, nil
}

func openPostgres(rawURL string) (s *Store, err error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse quotes the whole URL, password included: never pass it on.
		return nil, errors.New("database url: not a valid postgres:// URL")
	}
	where := "postgres database " + u.Redacted()
	// pgdriver.WithDSN panics on options it rejects (an unknown sslmode, say).
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("%s: %v", where, r)
		}
	}()
	connector := pgdriver.NewConnector(pgdriver.WithDSN(rawURL), pgdriver.WithApplicationName("mahavishnu"))
	sqldb := sql.OpenDB(connector)
	sqldb.SetMaxOpenConns(4 * runtime.GOMAXPROCS(0))
	sqldb.SetMaxIdleConns(4 * runtime.GOMAXPROCS(0))
	return &Store{DB: bun.NewDB(sqldb, pgdialect.New()), dialect: DialectPostgres, where: where}, nil
}

// Close closes the database handle.
func (s *Store) Close() error {
	if err := s.DB.Close(); err != nil {
		return fmt.Errorf("%s: close: %w", s.where, err)
	}
	return nil
}

// Dialect returns DialectSQLite or DialectPostgres.
func (s *Store) Dialect() string { return s.dialect }

// String names the database, without any password.
func (s *Store) String() string { return s.where }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.DB.PingContext(ctx); err != nil {
		return fmt.Errorf("%s: connect: %w", s.where, err)
	}
	return nil
}

// inTx runs fn in one transaction.
func (s *Store) inTx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	return s.DB.RunInTx(ctx, nil, fn)
}
