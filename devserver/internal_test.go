package devserver

import (
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/schema/sqlite"
)

func TestOptionsValidation(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"no data dir", Options{}, "data_dir: the embedded Temporal server needs a data directory"},
		{"host name", Options{DataDir: "d", Host: "localhost"}, `embedded Temporal host "localhost": not an IP address`},
		{"frontend port too high", Options{DataDir: "d", FrontendPort: 65534},
			"temporal.embedded.frontend_port 65534: must be between 1 and 65532 (the server uses 4 consecutive ports)"},
		{"ui port negative", Options{DataDir: "d", UIPort: -1},
			"temporal.embedded.ui_port -1: must be between 0 (disabled) and 65535"},
		{"ui port among server ports", Options{DataDir: "d", FrontendPort: 7233, UIPort: 7235},
			"temporal.embedded.ui_port 7235: clashes with the Temporal server's ports 7233-7236 (temporal.embedded.frontend_port and the next 3)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.opts.withDefaults()
			require.EqualError(t, err, tt.wantErr)
		})
	}

	o, err := Options{DataDir: "d"}.withDefaults()
	require.NoError(t, err)
	require.Equal(t, Options{DataDir: "d", Namespace: "default", Host: "127.0.0.1", FrontendPort: 7233, Retention: DefaultRetention}, o)
}

func TestPrepareDatabaseRefusesIncompleteSchema(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, DatabaseFile)
	db, err := sql.Open("sqlite", "file:"+dbPath)
	require.NoError(t, err)
	_, err = db.Exec(`CREATE TABLE namespaces (id INTEGER)`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	_, err = prepareDatabase(Options{DataDir: dir, Namespace: DefaultNamespace, Retention: DefaultRetention})
	require.ErrorContains(t, err, "the schema is incomplete (its creation was interrupted); remove the file to start afresh")
}

// A namespace created elsewhere without the incident search attributes gets them at Start.
func TestStartAddsMissingSearchAttributes(t *testing.T) {
	const namespace = "preexisting"
	dir := t.TempDir()
	sqlCfg := sqliteConfig(filepath.Join(dir, DatabaseFile))
	require.NoError(t, sqlite.SetupSchema(sqlCfg))
	ns, err := sqlite.NewNamespaceConfig(clusterName, namespace, false, nil)
	require.NoError(t, err)
	require.NoError(t, sqlite.CreateNamespaces(sqlCfg, ns))

	frontendPort, _ := freePorts(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := Start(ctx, Options{DataDir: dir, Namespace: namespace, FrontendPort: frontendPort})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Stop()) })

	c, err := client.Dial(client.Options{
		HostPort: srv.FrontendAddress(), Namespace: namespace,
		Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	require.NoError(t, err)
	defer c.Close()
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	require.NoError(t, err)
	for name, typ := range SearchAttributes {
		require.Equal(t, typ, resp.GetCustomAttributes()[name], name)
	}
}
