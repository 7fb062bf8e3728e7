// Package storetest gives tests of any package a real PostgreSQL of their own: a new,
// uniquely named schema on the test server, dropped when the test ends. PostgreSQL is
// required: a test fails, never skips, when it is unreachable.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"
)

// DefaultPostgresURL is the test PostgreSQL unless MAHAVISHNU_TEST_POSTGRES_URL names another.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresURL is the test server's URL.
func PostgresURL() string {
	if u := os.Getenv("MAHAVISHNU_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// Schema is a private schema on the test server.
type Schema struct {
	// Name is the schema's name, "<prefix>_<12 hex digits>".
	Name string
	// URL connects with search_path set to the schema (an INCIDENT_DATABASE_URL).
	URL string
	// Admin is a connection pool to the server, for reads the code under test does not offer.
	Admin *sql.DB
}

// NewSchema creates a schema named after prefix and drops it, and closes Admin, when the
// test ends (register it before anything that must be gone by then).
func NewSchema(t testing.TB, prefix string) *Schema {
	t.Helper()
	base := PostgresURL()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("MAHAVISHNU_TEST_POSTGRES_URL is not a valid URL: %v", err)
	}
	admin := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(base)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		_ = admin.Close()
		t.Fatalf("PostgreSQL at %s is unreachable: start it or point MAHAVISHNU_TEST_POSTGRES_URL at one: %v", u.Redacted(), err)
	}
	buf := make([]byte, 6)
	_, _ = rand.Read(buf)
	name := prefix + "_" + hex.EncodeToString(buf)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+name); err != nil {
		_ = admin.Close()
		t.Fatalf("create schema %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
		_ = admin.Close()
	})
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return &Schema{Name: name, URL: u.String(), Admin: admin}
}
