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
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/mahavishnu/mahavishnu/activities"
	"github.com/mahavishnu/mahavishnu/api"
	"github.com/mahavishnu/mahavishnu/config"
	"github.com/mahavishnu/mahavishnu/manager"
	"github.com/mahavishnu/mahavishnu/remediation"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/worker"
)

func startCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "start",
		Usage: "run the incident manager in the foreground: Temporal (embedded unless temporal.address), worker, detector, HTTP API",
		Description: "Runs until SIGINT or SIGTERM. With temporal.address empty it starts an embedded Temporal\n" +
			"server that keeps its state in data_dir/temporal.db, and its Web UI; incidents and their\n" +
			"timers survive a restart.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c); err != nil {
				return err
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
				return fmt.Errorf("--log-level: want debug, info, warn or error, got %q", c.String("log-level"))
			}
			logger := slog.New(slog.NewTextHandler(r.opts.Stderr, &slog.HandlerOptions{Level: level}))
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			return r.start(ctx, c, logger)
		},
	}
}

// start runs every part of the manager and stops them in reverse order.
func (r *runtime) start(ctx context.Context, c *cli.Context, logger *slog.Logger) error {
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
	hostPort := cfg.TemporalHostPort()
	var embedded EmbeddedServer
	if cfg.Embedded() {
		if r.opts.StartEmbedded == nil {
			return errors.New("this build has no embedded Temporal server: set temporal.address")
		}
		started := time.Now()
		embedded, err = r.opts.StartEmbedded(ctx, EmbeddedOptions{
			DataDir: dataDir, Namespace: cfg.Temporal.Namespace,
			FrontendPort: cfg.Temporal.Embedded.FrontendPort, UIPort: cfg.Temporal.Embedded.UIPort,
			Logger: logger.With("component", "temporal-server"),
		})
		if err != nil {
			return fmt.Errorf("embedded Temporal server: %w", err)
		}
		defer func() {
			if err := embedded.Stop(); err != nil {
				logger.Warn("stopping embedded Temporal server", "error", err)
			}
		}()
		hostPort = embedded.FrontendAddress()
		logger.Info("embedded Temporal server started", "address", hostPort, "took", time.Since(started).Round(time.Millisecond))
	}
	tc, err := client.DialContext(ctx, client.Options{
		HostPort:  hostPort,
		Namespace: cfg.Temporal.Namespace,
		Logger:    sdklog.NewStructuredLogger(logger.With("component", "temporal-client")),
	})
	if err != nil {
		return fmt.Errorf("connect to Temporal at %s (temporal.address): %w", hostPort, err)
	}
	defer tc.Close()
	if !cfg.Embedded() {
		if err := ensureSearchAttributes(ctx, tc, cfg.Temporal.Namespace); err != nil {
			return err
		}
	}

	reg, err := r.registry()
	if err != nil {
		return err
	}
	notes, err := newNotifications(cfg, logger.With("component", "notify"))
	if err != nil {
		return err
	}
	w := worker.New(tc, cfg.Temporal.TaskQueue, &activities.Activities{
		Store: st, Logger: logger.With("component", "activities"), Remediation: reg, Notifications: notes,
	})
	if err := w.Start(); err != nil {
		return fmt.Errorf("start Temporal worker on task queue %s: %w", cfg.Temporal.TaskQueue, err)
	}
	defer w.Stop()

	rules, err := cfg.Rules()
	if err != nil {
		return err
	}
	m, err := manager.New(manager.Options{
		Store: st, Client: tc, Logger: logger.With("component", "manager"),
		Rules:         rules,
		TaskQueue:     cfg.Temporal.TaskQueue,
		MaxEvents:     cfg.IncidentResponse.Detection.MaxEvents,
		Retention:     cfg.IncidentResponse.Detection.EventRetention(),
		CheckInterval: cfg.IncidentResponse.Detection.CheckInterval(),
		Settings:      incidentSettings(cfg, reg),
	})
	if err != nil {
		return err
	}
	if err := m.Rebuild(ctx); err != nil {
		return err
	}
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	go m.Run(runCtx)

	srv := &http.Server{
		Handler: api.New(api.Options{
			Manager: m, Token: cfg.API.Token.Value(), Logger: logger.With("component", "api"),
			TemporalHealth: func(ctx context.Context) error {
				_, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{})
				return err
			},
			ChannelStats: notes.throttle.Stats,
			Dashboard:    r.dashboardOptions(st, reg),
			WorkflowURL: func(workflowID, runID string) string {
				if embedded == nil || embedded.UIURL() == "" {
					return ""
				}
				return embedded.WorkflowURL(workflowID, runID)
			},
		}).Handler(),
		ReadHeaderTimeout: 10 * time.Second,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	out := c.App.Writer
	fmt.Fprintf(out, "Mahavishnu incident manager running\n")
	fmt.Fprintf(out, "  API:             http://%s\n", ln.Addr())
	fmt.Fprintf(out, "  Temporal:        %s (namespace %s, task queue %s)\n", hostPort, cfg.Temporal.Namespace, cfg.Temporal.TaskQueue)
	if cfg.IncidentResponse.Dashboard.Enabled {
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

// incidentSettings is the part of the configuration every new incident takes along.
func incidentSettings(cfg *config.Config, reg *remediation.Registry) schemas.IncidentSettings {
	ir := cfg.IncidentResponse
	var catalog []schemas.ActionSpec
	for _, a := range reg.All() {
		catalog = append(catalog, schemas.ActionSpec{ID: a.ID, Safe: a.Safe && !ir.Remediation.RequiresApproval(a.ID)})
	}
	return schemas.IncidentSettings{
		AutoRemediation:  ir.AutoRemediation,
		AutoResolution:   ir.AutoResolution,
		MTTRTarget:       ir.MTTRTarget(),
		SafeActionsOnly:  ir.Remediation.SafeActionsOnly,
		ApprovalTimeout:  ir.Remediation.ApprovalTimeout(),
		ActionCatalog:    catalog,
		AckTargets:       ir.Escalation.AckTargets(),
		Escalation:       ir.Escalation.Policy(),
		ReminderInterval: ir.ReminderInterval(),
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
