// Package devserver runs the embedded Temporal server of the default single-machine mode:
// all four Temporal services in this process, persisting to one SQLite file, plus the
// Temporal Web UI. It is the only package (with cmd/ and the integration tests) that
// imports go.temporal.io/server, because linking the server is slow and large.
//
// # Ports
//
// The server binds Options.Host on four consecutive ports starting at FrontendPort (F):
//
//	F     frontend gRPC (what clients dial)    temporal.embedded.frontend_port
//	F+1   history gRPC
//	F+2   matching gRPC
//	F+3   worker service gRPC
//
// With the default F = 7233 that is 7233-7236. The Web UI listens on UIPort
// (temporal.embedded.ui_port, default 8233 in the config). The services find each other
// through a static host list, so there are no membership (ringpop) ports, and the ports
// are fixed so the frontend address recorded in the cluster metadata stays the same across
// restarts.
//
// # Storage
//
// Everything lives in DataDir/temporal.db (with its -wal and -shm files while running):
// the schema is created on a new file, the namespace and the incident search attributes
// are registered when missing. The file uses WAL, synchronous=NORMAL and a 10 s busy
// timeout.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// Defaults applied by Start to zero Options fields.
const (
	DefaultNamespace    = "default"
	DefaultHost         = "127.0.0.1"
	DefaultFrontendPort = 7233
	// DefaultRetention is how long closed workflow histories are kept in a namespace
	// this package creates, so that the Web UI link of a closed incident keeps working
	// for the post-mortem.
	DefaultRetention = 7 * 24 * time.Hour
)

// DatabaseFile is the name of the SQLite file inside Options.DataDir.
const DatabaseFile = "temporal.db"

// startTimeout bounds Start when its context has no earlier deadline.
const startTimeout = 2 * time.Minute

// SearchAttributes are the custom search attributes Start registers on the namespace.
var SearchAttributes = map[string]enumspb.IndexedValueType{
	schemas.SearchAttrSeverity: enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	schemas.SearchAttrStatus:   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	schemas.SearchAttrType:     enumspb.INDEXED_VALUE_TYPE_KEYWORD,
}

// Options configures the embedded server.
type Options struct {
	// DataDir holds the SQLite file DataDir/temporal.db; both are created if missing.
	DataDir string
	// Namespace is registered if missing; default "default".
	Namespace string
	// Host is the IP address every service and the UI bind; default "127.0.0.1".
	Host string
	// FrontendPort is the gRPC frontend port; default 7233. The history, matching and
	// worker services use the next three ports (see the package documentation).
	FrontendPort int
	// UIPort is the Temporal Web UI port; 0 disables the UI.
	UIPort int
	// Retention is how long closed workflows are kept in a namespace created by Start;
	// default DefaultRetention. An existing namespace keeps its retention.
	Retention time.Duration
	// Logger receives the server's own records at WARN and above; nil discards them.
	Logger *slog.Logger
}

func (o Options) withDefaults() (Options, error) {
	if o.DataDir == "" {
		return o, errors.New("data_dir: the embedded Temporal server needs a data directory")
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.Host == "" {
		o.Host = DefaultHost
	}
	if net.ParseIP(o.Host) == nil {
		return o, fmt.Errorf("embedded Temporal host %q: not an IP address", o.Host)
	}
	if o.FrontendPort == 0 {
		o.FrontendPort = DefaultFrontendPort
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.FrontendPort < 1 || o.FrontendPort+portCount-1 > 65535 {
		return o, fmt.Errorf("temporal.embedded.frontend_port %d: must be between 1 and %d (the server uses %d consecutive ports)",
			o.FrontendPort, 65535-portCount+1, portCount)
	}
	if o.UIPort < 0 || o.UIPort > 65535 {
		return o, fmt.Errorf("temporal.embedded.ui_port %d: must be between 0 (disabled) and 65535", o.UIPort)
	}
	if o.UIPort >= o.FrontendPort && o.UIPort < o.FrontendPort+portCount {
		return o, fmt.Errorf("temporal.embedded.ui_port %d: clashes with the Temporal server's ports %d-%d (temporal.embedded.frontend_port and the next %d)",
			o.UIPort, o.FrontendPort, o.FrontendPort+portCount-1, portCount-1)
	}
	if o.Retention < 24*time.Hour {
		return o, fmt.Errorf("embedded Temporal retention %s: must be at least 24h", o.Retention)
	}
	return o, nil
}

// Server is a running embedded Temporal server and, when enabled, its Web UI.
type Server struct {
	opts     Options
	dbPath   string
	frontend string
	uiURL    string

	temporal temporal.Server
	ui       *uiserver.Server
	uiDone   chan struct{}

	stopping *atomic.Bool
	stopOnce sync.Once
	stopErr  error
}

// Start starts the server and returns once the frontend accepts gRPC calls, the namespace
// exists with the search attributes in SearchAttributes, and the UI (if enabled) serves
// pages. It is safe on a new data directory and on a restart. A taken port gives an error
// wrapping ErrPortInUse that names the port and its config key.
func Start(ctx context.Context, opts Options) (*Server, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()

	if err := checkPorts(o); err != nil {
		return nil, err
	}
	dbPath, err := prepareDatabase(o)
	if err != nil {
		return nil, err
	}

	s := &Server{
		opts:     o,
		dbPath:   dbPath,
		frontend: net.JoinHostPort(dialHost(o.Host), strconv.Itoa(o.FrontendPort)),
		stopping: new(atomic.Bool),
	}
	sqlCfg := sqliteConfig(dbPath)
	cfg, hosts := serverConfig(o, sqlCfg)
	s.temporal, err = temporal.NewServer(
		temporal.WithConfig(cfg),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(newServerLogger(o.Logger, s.stopping)),
		temporal.WithDynamicConfigClient(dynamicConfig()),
	)
	if err != nil {
		return nil, fmt.Errorf("embedded Temporal server: configure: %w", err)
	}
	// On failure Start has already stopped what it started.
	if err := s.temporal.Start(); err != nil {
		return nil, fmt.Errorf("embedded Temporal server: start: %w", err)
	}
	if err := s.awaitReady(ctx); err != nil {
		return nil, errors.Join(err, s.stopTemporal())
	}
	if o.UIPort != 0 {
		if err := s.startUI(ctx); err != nil {
			return nil, errors.Join(err, s.Stop())
		}
	}
	return s, nil
}

// prepareDatabase creates the data directory and, on a new file, the schema; then it
// registers the namespace (with the search attributes) if it is missing. It returns the
// database path.
func prepareDatabase(o Options) (string, error) {
	dir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return "", fmt.Errorf("data_dir %q: %w", o.DataDir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("data_dir: %w", err)
	}
	dbPath := filepath.Join(dir, DatabaseFile)
	if err := validDBPath(dbPath); err != nil {
		return "", err
	}
	sqlCfg := sqliteConfig(dbPath)
	state, err := inspectSchema(dbPath)
	if err != nil {
		return "", fmt.Errorf("embedded Temporal database %s: %w", dbPath, err)
	}
	switch state {
	case schemaEmpty:
		if err := sqlite.SetupSchema(sqlCfg); err != nil {
			return "", fmt.Errorf("embedded Temporal database %s: create schema: %w", dbPath, err)
		}
	case schemaIncomplete:
		return "", fmt.Errorf("embedded Temporal database %s: the schema is incomplete (its creation was interrupted); remove the file to start afresh", dbPath)
	}
	ns, err := sqlite.NewNamespaceConfig(clusterName, o.Namespace, false, SearchAttributes)
	if err != nil {
		return "", fmt.Errorf("temporal namespace %q: %w", o.Namespace, err)
	}
	ns.Detail.Config.Retention = durationpb.New(o.Retention)
	if err := sqlite.CreateNamespaces(sqlCfg, ns); err != nil {
		return "", fmt.Errorf("temporal namespace %q: register: %w", o.Namespace, err)
	}
	return dbPath, nil
}

// dynamicConfig holds the server settings that differ from Temporal's defaults.
func dynamicConfig() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
		// Search attributes added at run time are visible at once (single node, cheap).
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
		// The dashboard, the CLI and the Web UI all list workflows; 10/s is too tight.
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
		// One node with a few hundred open incidents: a smaller mutable-state cache
		// keeps memory down (the default is 128k entries).
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key(): 8192,
	}
}

// FrontendAddress returns the host:port of the gRPC frontend, for client.Dial.
func (s *Server) FrontendAddress() string { return s.frontend }

// Namespace returns the namespace Start registered.
func (s *Server) Namespace() string { return s.opts.Namespace }

// UIURL returns the Web UI's base URL, such as "http://127.0.0.1:8233", or "" when the UI
// is disabled.
func (s *Server) UIURL() string { return s.uiURL }

// WorkflowURL returns the Web UI link to one workflow execution: its history page, or, with
// an empty runID, the page that opens the latest run. It returns "" when the UI is disabled.
func (s *Server) WorkflowURL(workflowID, runID string) string {
	if s.uiURL == "" {
		return ""
	}
	u := s.uiURL + "/namespaces/" + url.PathEscape(s.opts.Namespace) + "/workflows/" + url.PathEscape(workflowID)
	if runID != "" {
		u += "/" + url.PathEscape(runID) + "/history"
	}
	return u
}

// Stop stops the UI, then the server, then folds the WAL into the database file so that
// temporal.db alone holds everything (the server's SQLite plugin never closes its
// connection, so SQLite does not do this itself). It is safe to call more than once;
// later calls return the first call's result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.stopping.Store(true)
		if s.ui != nil {
			s.ui.Stop()
			<-s.uiDone
		}
		s.stopErr = s.stopTemporal()
		if err := checkpoint(s.dbPath); err != nil && s.opts.Logger != nil {
			s.opts.Logger.Warn("embedded Temporal database: WAL checkpoint failed; the data is safe in the -wal file",
				slog.String("path", s.dbPath), slog.Any("error", err))
		}
	})
	return s.stopErr
}

func (s *Server) stopTemporal() error {
	s.stopping.Store(true)
	if err := s.temporal.Stop(); err != nil {
		return fmt.Errorf("embedded Temporal server: stop: %w", err)
	}
	return nil
}
