package store

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// allMigrations are the migrations shipped for every dialect, oldest first.
var allMigrations = []string{"20260601000000_init", "20260615000000_detection", "20261129150000_response",
	"20261201120000_eventlog", "20261201140000_notify_limits",
	"20261202090000_retention", "20261202100000_timeline_at", "20261202110000_access", "20261202120000_oncall",
	"20261202140000_chatops"}

func TestMigrationsUpStatusRollbackUp(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		applied, pending, err := s.MigrationStatus(ctx)
		require.NoError(t, err)
		require.Equal(t, allMigrations, applied)
		require.Empty(t, pending)

		// Open again: nothing left to do.
		again, err := s.Migrate(ctx)
		require.NoError(t, err)
		require.Empty(t, again)

		rolled, err := s.Rollback(ctx)
		require.NoError(t, err)
		require.Equal(t, strings.Join(allMigrations, ", "), rolled, "applied as one group, they roll back together")
		applied, pending, err = s.MigrationStatus(ctx)
		require.NoError(t, err)
		require.Empty(t, applied)
		require.Equal(t, allMigrations, pending)
		_, err = s.CountEvents(ctx, EventFilter{Since: base})
		require.Error(t, err, "the events table must be gone after the rollback")

		rolled, err = s.Rollback(ctx)
		require.NoError(t, err)
		require.Empty(t, rolled, "nothing left to roll back")

		up, err := s.Migrate(ctx)
		require.NoError(t, err)
		require.Equal(t, allMigrations, up)
		applied, pending, err = s.MigrationStatus(ctx)
		require.NoError(t, err)
		require.Equal(t, allMigrations, applied)
		require.Empty(t, pending)
		ins, err := s.InsertEvents(ctx, []schemas.Event{testEvent("e1", base)}, base)
		require.NoError(t, err)
		require.Equal(t, []string{"e1"}, ins)
	})
}

func TestConnectDoesNotMigrate(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s, err := Connect(ctx, db.url, db.dataDir)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		applied, pending, err := s.MigrationStatus(ctx)
		require.NoError(t, err)
		require.Empty(t, applied)
		require.Equal(t, allMigrations, pending)
	})
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		const replicas = 6
		stores := make([]*Store, replicas)
		errs := make([]error, replicas)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range replicas {
			wg.Go(func() {
				<-start
				stores[i], errs[i] = Open(ctx, db.url, db.dataDir)
			})
		}
		close(start)
		wg.Wait()
		for i := range replicas {
			require.NoError(t, errs[i], "replica %d", i)
			t.Cleanup(func() { require.NoError(t, stores[i].Close()) })
		}

		// Exactly one bookkeeping row per migration: nobody applied twice.
		var rows []struct {
			Name string `bun:"name"`
		}
		require.NoError(t, stores[0].DB.NewSelect().Table(migrationsTable).Column("name").Scan(ctx, &rows))
		require.Len(t, rows, len(allMigrations))
		applied, pending, err := stores[replicas-1].MigrationStatus(ctx)
		require.NoError(t, err)
		require.Equal(t, allMigrations, applied)
		require.Empty(t, pending)
	})
}

func TestFailedMigrationIsReportedAndNotApplied(t *testing.T) {
	fsys := fstest.MapFS{
		"m/20260101000000_first.up.sql":       {Data: []byte("CREATE TABLE first_table (id integer)\n")}, // no transaction
		"m/20260101000000_first.down.sql":     {Data: []byte("DROP TABLE first_table\n")},
		"m/20260102000000_broken.tx.up.sql":   {Data: []byte("-- two statements, the second one fails\nCREATE TABLE half_table (id integer);\n--bun:split\nINSERT INTO no_such_table VALUES (1)\n")},
		"m/20260102000000_broken.tx.down.sql": {Data: []byte("DROP TABLE IF EXISTS half_table\n")},
	}
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s, err := Connect(ctx, db.url, db.dataDir)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		m, err := s.migratorFrom(fsys, "m")
		require.NoError(t, err)

		_, err = s.migrateWith(ctx, m)
		require.ErrorContains(t, err, "migration 20260102000000_broken.tx.up.sql, statement 2")

		ms, err := m.MigrationsWithStatus(ctx)
		require.NoError(t, err)
		require.Len(t, ms, 2)
		require.True(t, ms[0].IsApplied(), "the good migration stays applied")
		require.False(t, ms[1].IsApplied(), "the failed migration must not be marked applied")

		_, err = s.DB.NewSelect().Table("first_table").Count(ctx)
		require.NoError(t, err)
		_, err = s.DB.NewSelect().Table("half_table").Count(ctx)
		require.Error(t, err, "the failed migration's transaction must be rolled back")
	})
}

func TestSplitStatements(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     []string
	}{
		{name: "one", in: "SELECT 1;\n", want: []string{"SELECT 1;\n"}},
		{name: "split", in: "SELECT 1;\n--bun:split\nSELECT 2;\n", want: []string{"SELECT 1;\n", "SELECT 2;\n"}},
		{name: "comment only parts dropped", in: "-- header\n\n--bun:split\nSELECT 2;\n--bun:split\n", want: []string{"SELECT 2;\n"}},
		{name: "empty", in: "", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, splitStatements(tt.in))
		})
	}
}
