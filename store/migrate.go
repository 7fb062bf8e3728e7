package store

import (
	"bufio"
	"context"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

// sqliteMigrationMu serializes migrations of SQLite stores within this process.
var sqliteMigrationMu sync.Mutex

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// Bookkeeping tables of bun/migrate, named for this application so that a database shared
// with another bun application does not mix their migrations.
const (
	migrationsTable      = "mahavishnu_migrations"
	migrationLocksTable  = "mahavishnu_migration_locks"
	advisoryLockClassID  = 0x4d414841 // "MAHA": first key of the PostgreSQL advisory lock
	migrationLockRetry   = 100 * time.Millisecond
	migrationSplitMarker = "--bun:split"
)

// migrator builds the bun migrator over this dialect's embedded SQL files.
func (s *Store) migrator() (*migrate.Migrator, error) {
	return s.migratorFrom(migrationFiles, path.Join("migrations", s.dialect))
}

// migratorFrom builds a migrator from the *.up.sql and *.down.sql files in dir of fsys.
//
// The SQL files are run by sqlMigration rather than by bun's own SQL runner, because
// bun v1.2.16's runner loses the error of a failed statement (it reports success after
// rolling the transaction back). Statements are separated by "--bun:split" lines, as with
// bun.
func (s *Store) migratorFrom(fsys fs.FS, dir string) (*migrate.Migrator, error) {
	names, err := fs.Glob(fsys, dir+"/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations in %s: %w", dir, err)
	}
	// Discover reads names and comments the way bun does; the funcs are then replaced.
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("open migrations in %s: %w", dir, err)
	}
	found := migrate.NewMigrations()
	if err := found.Discover(sub); err != nil {
		return nil, fmt.Errorf("read migrations in %s: %w", dir, err)
	}
	migrations := migrate.NewMigrations()
	for _, m := range found.Sorted() {
		m.Up, m.Down = nil, nil
		for _, name := range names {
			base := path.Base(name)
			if !strings.HasPrefix(base, m.Name+"_") {
				continue
			}
			switch {
			case strings.HasSuffix(base, ".up.sql"):
				m.Up = sqlMigration(fsys, name)
			case strings.HasSuffix(base, ".down.sql"):
				m.Down = sqlMigration(fsys, name)
			}
		}
		migrations.Add(m)
	}
	return migrate.NewMigrator(s.DB, migrations,
		migrate.WithTableName(migrationsTable),
		migrate.WithLocksTableName(migrationLocksTable),
		migrate.WithMarkAppliedOnSuccess(true),
	), nil
}

// sqlMigration returns a migration func that runs the statements of one SQL file and
// reports the first failure with the file name and statement number. As with bun, a
// "*.tx.up.sql" / "*.tx.down.sql" file runs in one transaction; other files run statement
// by statement on one connection (for statements such as CREATE INDEX CONCURRENTLY).
func sqlMigration(fsys fs.FS, name string) func(ctx context.Context, m *migrate.Migrator, _ *migrate.Migration) error {
	base := path.Base(name)
	return func(ctx context.Context, m *migrate.Migrator, _ *migrate.Migration) error {
		content, err := fs.ReadFile(fsys, name)
		if err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
		stmts := splitStatements(string(content))
		run := func(ctx context.Context, db bun.IConn) error {
			for i, stmt := range stmts {
				if _, err := db.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("migration %s, statement %d: %w", base, i+1, err)
				}
			}
			return nil
		}
		if strings.HasSuffix(base, ".tx.up.sql") || strings.HasSuffix(base, ".tx.down.sql") {
			return m.DB().RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error { return run(ctx, tx) })
		}
		conn, err := m.DB().Conn(ctx)
		if err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
		defer func() { _ = conn.Close() }()
		return run(ctx, conn)
	}
}

// splitStatements splits a migration file on "--bun:split" lines and drops empty parts.
func splitStatements(content string) []string {
	var stmts []string
	var cur strings.Builder
	flush := func() {
		if strings.TrimSpace(stripComments(cur.String())) != "" {
			stmts = append(stmts, cur.String())
		}
		cur.Reset()
	}
	sc := bufio.NewScanner(strings.NewReader(content))
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == migrationSplitMarker {
			flush()
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	flush()
	return stmts
}

func stripComments(stmt string) string {
	var b strings.Builder
	for line := range strings.Lines(stmt) {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// Migrate applies the pending migrations as one group and returns their names. It holds
// the migration lock (see withMigrationLock) while it runs.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	m, err := s.migrator()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.where, err)
	}
	return s.migrateWith(ctx, m)
}

func (s *Store) migrateWith(ctx context.Context, m *migrate.Migrator) ([]string, error) {
	var applied []string
	err := s.withMigrationLock(ctx, func(ctx context.Context) error {
		if err := m.Init(ctx); err != nil {
			return fmt.Errorf("create migration tables: %w", err)
		}
		group, err := m.Migrate(ctx)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		applied = migrationNames(group.Migrations)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.where, err)
	}
	if len(applied) > 0 {
		slog.Info("database migrated", "database", s.where, "applied", applied)
	}
	return applied, nil
}

// MigrationStatus lists the applied and the pending migrations, oldest first, as
// "<version>_<name>".
func (s *Store) MigrationStatus(ctx context.Context) (applied, pending []string, err error) {
	m, err := s.migrator()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", s.where, err)
	}
	err = s.withMigrationLock(ctx, func(ctx context.Context) error {
		if err := m.Init(ctx); err != nil {
			return fmt.Errorf("create migration tables: %w", err)
		}
		ms, err := m.MigrationsWithStatus(ctx)
		if err != nil {
			return fmt.Errorf("read migration status: %w", err)
		}
		for _, mig := range ms {
			if mig.IsApplied() {
				applied = append(applied, migrationName(mig))
			} else {
				pending = append(pending, migrationName(mig))
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", s.where, err)
	}
	return applied, pending, nil
}

// Rollback rolls back the last applied migration group and returns its migrations,
// comma-separated ("" when nothing was applied).
func (s *Store) Rollback(ctx context.Context) (string, error) {
	m, err := s.migrator()
	if err != nil {
		return "", fmt.Errorf("%s: %w", s.where, err)
	}
	var names []string
	err = s.withMigrationLock(ctx, func(ctx context.Context) error {
		if err := m.Init(ctx); err != nil {
			return fmt.Errorf("create migration tables: %w", err)
		}
		group, err := m.Rollback(ctx)
		if err != nil {
			return fmt.Errorf("rollback: %w", err)
		}
		names = migrationNames(group.Migrations)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("%s: %w", s.where, err)
	}
	if len(names) > 0 {
		slog.Info("database migrations rolled back", "database", s.where, "rolled_back", names)
	}
	return strings.Join(names, ", "), nil
}

func migrationName(m migrate.Migration) string {
	if m.Comment == "" {
		return m.Name
	}
	return m.Name + "_" + m.Comment
}

func migrationNames(ms migrate.MigrationSlice) []string {
	names := make([]string, 0, len(ms))
	for _, m := range ms {
		names = append(names, migrationName(m))
	}
	return names
}

// withMigrationLock runs fn while holding the migration lock.
//
// On PostgreSQL that is a session-level advisory lock keyed by the current schema, held on
// a dedicated connection, so replicas starting together migrate one after another and the
// lock disappears with a crashed process. It is polled with pg_try_advisory_lock so that
// waiting honours ctx and never trips the driver's read timeout. On SQLite (one embedded
// process) only a process-wide mutex is taken; the migrations use IF NOT EXISTS, so even
// two processes racing at first start end up with the same schema.
func (s *Store) withMigrationLock(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	if s.dialect != DialectPostgres {
		sqliteMigrationMu.Lock()
		defer sqliteMigrationMu.Unlock()
		return fn(ctx)
	}
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migration lock: get a connection: %w", err)
	}
	defer func() {
		if cerr := conn.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("migration lock: release connection: %w", cerr)
		}
	}()
	const key = "hashtext(coalesce(current_schema(), ''))"
	waiting := false
	for {
		var got bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock(?, "+key+")", advisoryLockClassID).Scan(&got); err != nil {
			return fmt.Errorf("migration lock: pg_try_advisory_lock: %w", err)
		}
		if got {
			break
		}
		if !waiting {
			slog.Info("waiting for another process to finish migrating", "database", s.where)
			waiting = true
		}
		timer := time.NewTimer(migrationLockRetry)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("migration lock: %w", ctx.Err())
		case <-timer.C:
		}
	}
	defer func() {
		// Unlock even if ctx is cancelled, or the session would keep the lock while pooled.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, uerr := conn.ExecContext(uctx, "SELECT pg_advisory_unlock(?, "+key+")", advisoryLockClassID); uerr != nil {
			// Discard the session instead of pooling it with the lock still held.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			err = errors.Join(err, fmt.Errorf("migration lock: pg_advisory_unlock: %w", uerr))
		}
	}()
	return fn(ctx)
}
