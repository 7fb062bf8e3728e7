package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	enumspb "go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/mahavishnu/mahavishnu/activities"
	"github.com/mahavishnu/mahavishnu/api"
	"github.com/mahavishnu/mahavishnu/config"
	"github.com/mahavishnu/mahavishnu/manager"
	"github.com/mahavishnu/mahavishnu/remediation"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
	"github.com/mahavishnu/mahavishnu/worker"
)

func startCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "start",
		Usage: "run the incident manager in the foreground: Temporal (embedded unless temporal.address), worker, detector, HTTP API",
		Description: "Runs until SIGINT or SIGTERM. With temporal.address empty it starts an embedded Temporal\n" +
			"server that keeps its state in data_dir/temporal.db, and its Web UI; incidents and their\n" +
			"timers survive a restart.\n\n" +
			"--role picks what this process does (default: all three):\n" +
			"  api       ingest (POST /api/v1/events, /api/v1/alertmanager), the JSON API and the dashboard;\n" +
			"            stateless: run as many as you like behind a load balancer\n" +
			"  detector  consumes the event log and delivers the outbox to Temporal; one is active at a\n" +
			"            time (PostgreSQL advisory lock), the others stand by and take over within seconds.\n" +
			"            On SQLite only one detector may run: a second one is refused\n" +
			"  worker    runs incident workflows and activities on the task queue; scale freely\n" +
			"Every process serves /healthz and /metrics on api.listen.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "role", Value: "api,detector,worker", Usage: "comma-separated roles of this process: api, detector, worker"},
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c); err != nil {
				return err
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
				return fmt.Errorf("--log-level: want debug, info, warn or error, got %q", c.String("log-level"))
			}
			roles, err := parseRoles(c.String("role"))
			if err != nil {
				return err
			}
			logger := slog.New(slog.NewTextHandler(r.opts.Stderr, &slog.HandlerOptions{Level: level}))
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			return r.start(ctx, c, logger, roles)
		},
	}
}

// roles are what one `incidents start` process runs.
type roles struct{ api, detector, worker bool }

func parseRoles(v string) (roles, error) {
	var rs roles
	for _, name := range strings.Split(v, ",") {
		switch strings.TrimSpace(name) {
		case "api":
			rs.api = true
		case "detector":
			rs.detector = true
		case "worker":
			rs.worker = true
		case "":
		default:
			return roles{}, fmt.Errorf("--role: unknown role %q: want a comma-separated list of api, detector, worker", strings.TrimSpace(name))
		}
	}
	if rs == (roles{}) {
		return roles{}, errors.New("--role: give at least one of api, detector, worker")
	}
	return rs, nil
}

func (rs roles) names() []string {
	var out []string
	for _, r := range []struct {
		on   bool
		name string
	}{{rs.api, "api"}, {rs.detector, "detector"}, {rs.worker, "worker"}} {
		if r.on {
			out = append(out, r.name)
		}
	}
	return out
}

// start runs the roles of this process and stops them in reverse order.
func (r *runtime) start(ctx context.Context, c *cli.Context, logger *slog.Logger, rs roles) error {
	cfg := r.cfg
	if !cfg.IncidentResponse.Enabled {
		return errors.New("incident_response.enabled is false: set it to true (or MAHAVISHNU_INCIDENT_ENABLED=true) to start the manager")
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	dataDir, err := cfg.DataDirAbs()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	// Bind the API port first: a port in use is the most common start-up failure.
	ln, err := net.Listen("tcp", cfg.API.Listen)
	if err != nil {
		return fmt.Errorf("api.listen %s: %w", cfg.API.Listen, err)
	}
	defer ln.Close()

	st, err := r.Store(ctx)
	if err != nil {
		return err
	}
	tc, embedded, stopTemporal, err := r.connectTemporal(ctx, logger)
	if err != nil {
		return err
	}
	defer stopTemporal()

	reg, err := r.registry()
	if err != nil {
		return err
	}
	// Throttle windows and rate limits live in the store: they hold across worker replicas.
	notes, err := newNotificationsWithStore(cfg, logger.With("component", "notify"), st)
	if err != nil {
		return err
	}
	if rs.worker {
		stopWorker, err := startWorker(cfg.Temporal.TaskQueue, tc, st, reg, notes, retentionSettings(cfg), logger)
		if err != nil {
			return err
		}
		defer stopWorker()
	}
	m, err := r.startManager(ctx, st, tc, reg, rs, logger)
	if err != nil {
		return err
	}
	defer m.Close()
	if rs.detector {
		sched, err := housekeepingSchedule(cfg)
		if err != nil {
			return err
		}
		go manager.KeepHousekeepingSchedule(ctx, tc, sched, logger.With("component", "housekeeping"))
	}

	access, err := r.accessOptions(ctx, st, tc, reg, logger)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: api.New(api.Options{
			Manager: m, Token: cfg.API.Token.Value(), Logger: logger.With("component", "api"),
			Proxy: access.Proxy, PublicURL: access.PublicURL, SessionTTL: access.SessionTTL,
			Declare:      access.Declare,
			ChannelStats: notes.Stats,
			Dashboard:    r.dashboardOptions(st, reg),
			WorkflowURL: func(workflowID, runID string) string {
				if embedded == nil || embedded.UIURL() == "" {
					return ""
				}
				return embedded.WorkflowURL(workflowID, runID)
			},
			HealthOnly: !rs.api,
			Slack:      slackOptions(cfg, logger),
		}).Handler(),
		ReadHeaderTimeout: 10 * time.Second,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	out := c.App.Writer
	fmt.Fprintf(out, "Mahavishnu incident manager running (roles: %s)\n", strings.Join(rs.names(), ", "))
	if rs.api {
		fmt.Fprintf(out, "  API:             http://%s\n", ln.Addr())
	} else {
		fmt.Fprintf(out, "  Health:          http://%s/healthz\n", ln.Addr())
	}
	fmt.Fprintf(out, "  Temporal:        %s (namespace %s, task queue %s)\n", temporalAddress(cfg, embedded), cfg.Temporal.Namespace, cfg.Temporal.TaskQueue)
	if rs.api && cfg.IncidentResponse.Dashboard.Enabled {
		fmt.Fprintf(out, "  Dashboard:       http://%s/\n", ln.Addr())
	}
	if embedded != nil && embedded.UIURL() != "" {
		fmt.Fprintf(out, "  Temporal Web UI: %s\n", embedded.UIURL())
	}
	fmt.Fprintf(out, "  Data:            %s\n", dataDir)
	fmt.Fprintf(out, "Press Ctrl-C to stop.\n")

	select {
	case <-ctx.Done():
		fmt.Fprintln(out, "Stopping...")
	case err := <-serveErr:
		return fmt.Errorf("HTTP server: %w", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Warn("HTTP server shutdown", "error", err)
	}
	return nil
}

func temporalAddress(cfg *config.Config, embedded EmbeddedServer) string {
	if embedded != nil {
		return embedded.FrontendAddress()
	}
	return cfg.TemporalHostPort()
}

// connectTemporal starts the embedded server (without temporal.address) and returns a
// client. An external cluster is connected lazily, so that ingest and detection start
// while it is unreachable; its search attributes are registered once it answers.
func (r *runtime) connectTemporal(ctx context.Context, logger *slog.Logger) (client.Client, EmbeddedServer, func(), error) {
	cfg := r.cfg
	opts := client.Options{
		HostPort:  cfg.TemporalHostPort(),
		Namespace: cfg.Temporal.Namespace,
		Logger:    sdklog.NewStructuredLogger(logger.With("component", "temporal-client")),
	}
	if !cfg.Embedded() {
		if err := secureTemporal(cfg, &opts); err != nil {
			return nil, nil, nil, err
		}
		tc, err := client.NewLazyClient(opts)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("Temporal client for %s (temporal.address): %w", opts.HostPort, err)
		}
		go registerSearchAttributes(ctx, tc, cfg.Temporal.Namespace, logger)
		return tc, nil, tc.Close, nil
	}
	if r.opts.StartEmbedded == nil {
		return nil, nil, nil, errors.New("this build has no embedded Temporal server: set temporal.address")
	}
	dataDir, err := cfg.DataDirAbs()
	if err != nil {
		return nil, nil, nil, err
	}
	started := time.Now()
	embedded, err := r.opts.StartEmbedded(ctx, EmbeddedOptions{
		DataDir: dataDir, Namespace: cfg.Temporal.Namespace,
		FrontendPort: cfg.Temporal.Embedded.FrontendPort, UIPort: cfg.Temporal.Embedded.UIPort,
		Logger: logger.With("component", "temporal-server"),
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("embedded Temporal server: %w", err)
	}
	stopServer := func() {
		if err := embedded.Stop(); err != nil {
			logger.Warn("stopping embedded Temporal server", "error", err)
		}
	}
	logger.Info("embedded Temporal server started", "address", embedded.FrontendAddress(), "took", time.Since(started).Round(time.Millisecond))
	opts.HostPort = embedded.FrontendAddress()
	tc, err := client.DialContext(ctx, opts)
	if err != nil {
		stopServer()
		return nil, nil, nil, fmt.Errorf("connect to the embedded Temporal server at %s: %w", opts.HostPort, err)
	}
	if err := followRetention(ctx, tc, cfg.Temporal.Namespace, cfg.IncidentResponse.Retention.ResolvedIncidents()); err != nil {
		tc.Close()
		stopServer()
		return nil, nil, nil, err
	}
	return tc, embedded, func() { tc.Close(); stopServer() }, nil
}

// registerSearchAttributes registers the incident search attributes, retrying until the
// cluster answers (workflow starts fail, and the outbox retries them, until then).
func registerSearchAttributes(ctx context.Context, tc client.Client, namespace string, logger *slog.Logger) {
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := ensureSearchAttributes(cctx, tc, namespace)
		cancel()
		if err == nil || ctx.Err() != nil {
			return
		}
		if attempt == 1 || attempt%10 == 0 {
			logger.Warn("Temporal search attributes not registered yet; retrying", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(min(time.Duration(attempt)*time.Second, 10*time.Second)):
		}
	}
}

// startWorker runs the Temporal worker role.
func startWorker(taskQueue string, tc client.Client, st *store.Store, reg *remediation.Registry, notes *notifications, ret activities.RetentionSettings, logger *slog.Logger) (func(), error) {
	w := worker.New(tc, taskQueue, &activities.Activities{
		Store: st, Logger: logger.With("component", "activities"), Remediation: reg, Notifications: notes,
		Retention: &ret,
	})
	if err := w.Start(); err != nil {
		return nil, fmt.Errorf("start Temporal worker on task queue %s: %w", taskQueue, err)
	}
	return w.Stop, nil
}

// startManager runs ingest and the operations (every role needs the manager for health),
// and the detector role when asked.
func (r *runtime) startManager(ctx context.Context, st *store.Store, tc client.Client, reg *remediation.Registry, rs roles, logger *slog.Logger) (*manager.Manager, error) {
	cfg := r.cfg
	rules, err := cfg.Rules()
	if err != nil {
		return nil, err
	}
	det := cfg.IncidentResponse.Detection
	m, err := manager.New(manager.Options{
		Store: st, Client: tc, Logger: logger.With("component", "manager"),
		Rules:                rules,
		TaskQueue:            cfg.Temporal.TaskQueue,
		MaxEvents:            det.MaxEvents,
		Retention:            det.EventRetention(),
		CheckInterval:        det.CheckInterval(),
		AttachSignalInterval: det.AttachInterval(),
		Settings:             incidentSettings(cfg, reg),
		EscalationPolicies:   cfg.IncidentResponse.Escalation.NamedPolicies(),
		Detector:             rs.detector,
		Roles:                rs.names(),
		TemporalHealth: func(ctx context.Context) error {
			_, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		},
	})
	if err != nil {
		return nil, err
	}
	if err := m.Rebuild(ctx); err != nil {
		m.Close()
		return nil, err
	}
	m.Start(ctx)
	return m, nil
}

// incidentSettings is the part of the configuration every new incident takes along.
func incidentSettings(cfg *config.Config, reg *remediation.Registry) schemas.IncidentSettings {
	ir := cfg.IncidentResponse
	var catalog []schemas.ActionSpec
	for _, a := range reg.All() {
		catalog = append(catalog, schemas.ActionSpec{ID: a.ID, Safe: a.Safe && !ir.Remediation.RequiresApproval(a.ID), Risk: string(a.Risk)})
	}
	return schemas.IncidentSettings{
		AutoRemediation:    ir.AutoRemediation,
		AutoResolution:     ir.AutoResolution,
		MTTRTarget:         ir.MTTRTarget(),
		SafeActionsOnly:    ir.Remediation.SafeActionsOnly,
		RequireApprovalFor: slices.Clone(ir.Remediation.RequireApprovalFor),
		ApprovalTimeout:    ir.Remediation.ApprovalTimeout(),
		ActionCatalog:      catalog,
		AckTargets:         ir.Escalation.AckTargets(),
		Escalation:         ir.Escalation.Policy(),
		ReminderInterval:   ir.ReminderInterval(),
		EscalationRepeat:   ir.Escalation.Repeat,
	}
}

// ensureSearchAttributes registers the incident search attributes on an external cluster.
func ensureSearchAttributes(ctx context.Context, tc client.Client, namespace string) error {
	_, err := tc.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace,
		SearchAttributes: map[string]enumspb.IndexedValueType{
			schemas.SearchAttrSeverity: enumspb.INDEXED_VALUE_TYPE_KEYWORD,
			schemas.SearchAttrStatus:   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
			schemas.SearchAttrType:     enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		},
	})
	var exists *serviceerror.AlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("register search attributes %s, %s, %s on namespace %s: %w",
			schemas.SearchAttrSeverity, schemas.SearchAttrStatus, schemas.SearchAttrType, namespace, err)
	}
	return nil
}

// retentionSettings are the retention.* keys for the housekeeping activity.
func retentionSettings(cfg *config.Config) activities.RetentionSettings {
	r := cfg.IncidentResponse.Retention
	return activities.RetentionSettings{
		EventHistory: r.EventHistory(), ResolvedIncidents: r.ResolvedIncidents(), Postmortems: r.Postmortems(),
		DetectorWindow: cfg.IncidentResponse.Detection.EventRetention(),
	}
}

// housekeepingSchedule is retention.schedule for the housekeeping Temporal Schedule.
func housekeepingSchedule(cfg *config.Config) (manager.HousekeepingSchedule, error) {
	every, cron, err := cfg.IncidentResponse.Retention.ScheduleSpec()
	if err != nil {
		return manager.HousekeepingSchedule{}, fmt.Errorf("incident_response.retention.schedule: %w", err)
	}
	return manager.HousekeepingSchedule{Every: every, Cron: cron, TaskQueue: cfg.Temporal.TaskQueue}, nil
}

// followRetention makes the embedded namespace keep closed workflow histories as long as
// resolved incidents are kept (retention.resolved_incidents_days), at every start, so that
// a changed value applies to a namespace created earlier. An external cluster's namespace
// is its operator's: it is left alone.
func followRetention(ctx context.Context, tc client.Client, namespace string, keep time.Duration) error {
	keep = max(keep, 24*time.Hour) // the server's minimum
	desc, err := tc.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("embedded Temporal namespace %s: describe: %w", namespace, err)
	}
	if desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration() == keep {
		return nil
	}
	_, err = tc.WorkflowService().UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
		Namespace: namespace,
		Config:    &namespacepb.NamespaceConfig{WorkflowExecutionRetentionTtl: durationpb.New(keep)},
	})
	if err != nil {
		return fmt.Errorf("embedded Temporal namespace %s: set workflow retention to %s (retention.resolved_incidents_days): %w", namespace, keep, err)
	}
	return nil
}
