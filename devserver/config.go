package devserver

import (
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
)

// clusterName is the name of the single cluster. It is stored in the SQLite file, so it
// never changes.
const clusterName = "active"

// sqliteMaxConns is the size of the server's SQLite connection pool: one. SQLite allows one
// writer at a time, and with more connections the server's read-then-write transactions
// fail with SQLITE_BUSY_SNAPSHOT (517), which busy_timeout cannot wait out (measured: with
// 4 connections, hundreds of failed CreateWorkflowExecution calls and no faster starts).
const sqliteMaxConns = 1

// service is one of the four Temporal services the embedded server runs, with the offset
// of its gRPC port from the frontend port.
type service struct {
	name   primitives.ServiceName
	offset int
}

// services lists the embedded server's services and their port offsets: frontend F,
// history F+1, matching F+2, worker F+3, where F is Options.FrontendPort. The ports are
// fixed so that the addresses the server records stay the same across restarts.
var services = []service{
	{primitives.FrontendService, 0},
	{primitives.HistoryService, 1},
	{primitives.MatchingService, 2},
	{primitives.WorkerService, 3},
}

// portCount is how many consecutive ports from FrontendPort the server uses.
const portCount = 4

// ErrPortInUse is returned (wrapped) by Start when a port it needs is taken.
var ErrPortInUse = errors.New("port already in use")

// portError describes a port that cannot be used, naming the config key it comes from.
func portError(svc primitives.ServiceName, port, offset int, err error) error {
	if offset == 0 {
		return fmt.Errorf("temporal %s port %d (temporal.embedded.frontend_port): %w", svc, port, err)
	}
	return fmt.Errorf("temporal %s port %d (temporal.embedded.frontend_port + %d): %w", svc, port, offset, err)
}

// checkPortFree reports ErrPortInUse when host:port cannot be bound.
func checkPortFree(host string, port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPortInUse, err)
	}
	return l.Close()
}

// checkPorts verifies that every port the server and UI need is free.
func checkPorts(o Options) error {
	for _, svc := range services {
		port := o.FrontendPort + svc.offset
		if err := checkPortFree(o.Host, port); err != nil {
			return portError(svc.name, port, svc.offset, err)
		}
	}
	if o.UIPort != 0 {
		if err := checkPortFree(o.Host, o.UIPort); err != nil {
			return fmt.Errorf("temporal Web UI port %d (temporal.embedded.ui_port): %w", o.UIPort, err)
		}
	}
	return nil
}

// dialHost is the address clients use to reach a server bound to host: the loopback
// address when host is unspecified (0.0.0.0 or ::).
func dialHost(host string) string {
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if ip.To4() != nil {
			return "127.0.0.1"
		}
		return "::1"
	}
	return host
}

// sqliteConfig is the server's SQLite data store: the file, WAL journal, NORMAL
// synchronous (durable at checkpoints, safe against corruption) and a busy timeout.
// The attribute names have no underscore: the plugin turns unknown names into
// _pragma=name=value, and an underscore-prefixed name is silently ignored.
func sqliteConfig(dbPath string) *config.SQL {
	return &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: dbPath,
		ConnectAttributes: map[string]string{
			"mode":         "rwc",
			"journal_mode": "wal",
			"synchronous":  "NORMAL",
			"busy_timeout": "10000",
		},
		MaxConns:     sqliteMaxConns,
		MaxIdleConns: sqliteMaxConns,
	}
}

// serverConfig builds the Temporal server configuration and the static host map: one
// host per service, so there is no ringpop membership and no membership port.
func serverConfig(o Options, sqlCfg *config.SQL) (*config.Config, map[primitives.ServiceName]static.Hosts) {
	frontend := net.JoinHostPort(dialHost(o.Host), strconv.Itoa(o.FrontendPort))
	cfg := &config.Config{
		Global: config.Global{
			Membership: config.Membership{BroadcastAddress: dialHost(o.Host)},
		},
		Persistence: config.Persistence{
			DefaultStore:     sqliteplugin.PluginName,
			VisibilityStore:  sqliteplugin.PluginName,
			NumHistoryShards: 1,
			DataStores: map[string]config.DataStore{
				sqliteplugin.PluginName: {SQL: sqlCfg},
			},
		},
		ClusterMetadata: &cluster.Config{
			EnableGlobalNamespace:    false,
			FailoverVersionIncrement: 10,
			MasterClusterName:        clusterName,
			CurrentClusterName:       clusterName,
			ClusterInformation: map[string]cluster.ClusterInformation{
				clusterName: {Enabled: true, InitialFailoverVersion: 1, RPCAddress: frontend},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services:            make(map[string]config.Service, len(services)),
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{
			Archival: config.ArchivalNamespaceDefaults{
				History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
				Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
			},
		},
		// The server panics without it: its internal worker dials the frontend here.
		PublicClient: config.PublicClient{HostPort: frontend},
	}
	hosts := make(map[primitives.ServiceName]static.Hosts, len(services))
	for _, svc := range services {
		port := o.FrontendPort + svc.offset
		cfg.Services[string(svc.name)] = config.Service{RPC: config.RPC{BindOnIP: o.Host, GRPCPort: port}}
		hosts[svc.name] = static.SingleLocalHost(net.JoinHostPort(dialHost(o.Host), strconv.Itoa(port)))
	}
	return cfg, hosts
}

// schemaState says what a Temporal SQLite file holds.
type schemaState int

const (
	schemaEmpty      schemaState = iota // no file, or a file with no objects
	schemaComplete                      // the whole schema is there
	schemaIncomplete                    // some objects but not the last one the setup creates
)

// lastSchemaObject is the last object the SQLite schema setup creates (the visibility
// schema's last trigger): if it exists, the setup ran to the end.
const lastSchemaObject = "executions_visibility_au"

// inspectSchema reports how far the schema setup of dbPath got. (It opens the file
// read-write: a read-only connection cannot open a WAL database whose -shm file is gone.)
func inspectSchema(dbPath string) (schemaState, error) {
	if fi, err := os.Stat(dbPath); errors.Is(err, os.ErrNotExist) || (err == nil && fi.Size() == 0) {
		return schemaEmpty, nil
	} else if err != nil {
		return 0, err
	}
	// The "sqlite" driver is modernc.org/sqlite, registered by the server's SQLite plugin.
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=rw&_pragma=busy_timeout%3D10000")
	if err != nil {
		return 0, err
	}
	defer func() { _ = db.Close() }()
	var objects, last int
	err = db.QueryRow(`SELECT count(*), count(CASE WHEN name = ? THEN 1 END) FROM sqlite_master`,
		lastSchemaObject).Scan(&objects, &last)
	switch {
	case err != nil:
		return 0, err
	case objects == 0:
		return schemaEmpty, nil
	case last == 0:
		return schemaIncomplete, nil
	default:
		return schemaComplete, nil
	}
}

// validDBPath rejects paths that cannot be written into a SQLite URI filename.
func validDBPath(path string) error {
	if i := strings.IndexAny(path, "?#%"); i >= 0 {
		return fmt.Errorf("data_dir %q: character %q is not supported in the embedded Temporal database path", path, path[i])
	}
	return nil
}

// checkpoint copies the WAL into the database file and truncates the WAL.
func checkpoint(dbPath string) error {
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=rw&_pragma=busy_timeout%3D10000")
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	var busy, logFrames, checkpointed int
	if err := db.QueryRow(`PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &checkpointed); err != nil {
		return err
	}
	if busy != 0 {
		return errors.New("database busy")
	}
	return nil
}
