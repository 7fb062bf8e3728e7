package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
)

// temporalPortCount is how many consecutive ports from the frontend port the embedded
// server binds (frontend, history, matching, worker service: see devserver).
const temporalPortCount = 4

// temporalCommand groups the commands about the Temporal server itself.
func temporalCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:        "temporal",
		Usage:       "the Temporal server Mahavishnu embeds",
		Subcommands: []*cli.Command{temporalServeCommand(r)},
	}
}

// serveOptions are the flags of `temporal serve`, resolved against the config.
type serveOptions struct {
	dataDir   string
	port      int
	uiPort    int
	namespace string
	logLevel  slog.Level
}

func temporalServeCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run only the embedded Temporal server (single node, SQLite file), for managers in cluster mode",
		Description: "Runs the Temporal server that `incidents start` embeds, as a process of its own, until\n" +
			"SIGINT or SIGTERM. Its state (namespaces, search attributes, workflows, timers) lives in\n" +
			"DIR/temporal.db, so stopping it and serving again on the same --data-dir carries on where it\n" +
			"left off. The namespace and the incident search attributes are registered when missing.\n" +
			"\n" +
			"The server binds 127.0.0.1 on four consecutive ports from --port (frontend, history,\n" +
			"matching, worker service) and the Web UI on --ui-port (0: no UI). Point managers at it\n" +
			"with temporal.address = 127.0.0.1:PORT (or MAHAVISHNU_TEMPORAL_ADDRESS), e.g.:\n" +
			"\n" +
			"   mahavishnu temporal serve --data-dir /var/lib/temporal --port 7233\n" +
			"   MAHAVISHNU_TEMPORAL_ADDRESS=127.0.0.1:7233 mahavishnu incidents start\n" +
			"\n" +
			"Do not serve a data directory that a running `incidents start` (embedded mode) also uses.\n" +
			"Defaults come from the config: data_dir, temporal.embedded.frontend_port and ui_port,\n" +
			"temporal.namespace.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data-dir", Usage: "directory of temporal.db", DefaultText: "data_dir"},
			&cli.IntFlag{Name: "port", Usage: "frontend gRPC port; the next 3 ports are used too",
				DefaultText: "temporal.embedded.frontend_port, 7233"},
			&cli.IntFlag{Name: "ui-port", Usage: "Temporal Web UI port, 0 for none", DefaultText: "temporal.embedded.ui_port, 8233"},
			&cli.StringFlag{Name: "namespace", Usage: "namespace to register", DefaultText: "temporal.namespace, default"},
			&cli.StringFlag{Name: "log-level", Value: "warn", Usage: "the server's log level: warn or error (its info output is not shown)"},
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c); err != nil {
				return err
			}
			o, err := r.serveOptions(c)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			return r.serveTemporal(ctx, c, o)
		},
	}
}

// serveOptions reads and checks the flags, taking defaults from the config.
func (r *runtime) serveOptions(c *cli.Context) (serveOptions, error) {
	o := serveOptions{
		port:      r.cfg.Temporal.Embedded.FrontendPort,
		uiPort:    r.cfg.Temporal.Embedded.UIPort,
		namespace: r.cfg.Temporal.Namespace,
	}
	if c.IsSet("data-dir") {
		dir, err := filepath.Abs(c.String("data-dir"))
		if err != nil {
			return o, fmt.Errorf("--data-dir: %w", err)
		}
		o.dataDir = dir
	} else {
		dir, err := r.cfg.DataDirAbs()
		if err != nil {
			return o, err
		}
		o.dataDir = dir
	}
	if c.IsSet("port") {
		o.port = c.Int("port")
	}
	if c.IsSet("ui-port") {
		o.uiPort = c.Int("ui-port")
	}
	if c.IsSet("namespace") {
		o.namespace = c.String("namespace")
	}
	if err := o.logLevel.UnmarshalText([]byte(c.String("log-level"))); err != nil || o.logLevel < slog.LevelWarn {
		return o, fmt.Errorf("--log-level: want warn or error, got %q", c.String("log-level"))
	}
	return o, o.validate()
}

func (o serveOptions) validate() error {
	switch {
	case strings.TrimSpace(o.dataDir) == "":
		return errors.New("--data-dir: the Temporal server needs a data directory")
	case o.port < 1 || o.port > 65535-temporalPortCount+1:
		return fmt.Errorf("--port %d: must be between 1 and %d (the server uses %d consecutive ports)",
			o.port, 65535-temporalPortCount+1, temporalPortCount)
	case o.uiPort < 0 || o.uiPort > 65535:
		return fmt.Errorf("--ui-port %d: must be between 0 (no Web UI) and 65535", o.uiPort)
	case o.uiPort >= o.port && o.uiPort < o.port+temporalPortCount:
		return fmt.Errorf("--ui-port %d: clashes with the server's ports %d-%d (--port and the next %d)",
			o.uiPort, o.port, o.port+temporalPortCount-1, temporalPortCount-1)
	case strings.TrimSpace(o.namespace) == "":
		return errors.New("--namespace: must not be empty")
	}
	return nil
}

// serveTemporal runs the embedded server until ctx ends, then stops it.
func (r *runtime) serveTemporal(ctx context.Context, c *cli.Context, o serveOptions) error {
	if r.opts.StartEmbedded == nil {
		return errors.New("this build has no embedded Temporal server")
	}
	if err := os.MkdirAll(o.dataDir, 0o750); err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(r.opts.Stderr, &slog.HandlerOptions{Level: o.logLevel}))
	started := time.Now()
	srv, err := r.opts.StartEmbedded(ctx, EmbeddedOptions{
		DataDir: o.dataDir, Namespace: o.namespace, FrontendPort: o.port, UIPort: o.uiPort,
		Logger: logger.With("component", "temporal-server"),
	})
	if err != nil {
		return fmt.Errorf("Temporal server: %w", err)
	}
	out := c.App.Writer
	fmt.Fprintf(out, "Temporal server running (single node, started in %s)\n", time.Since(started).Round(time.Millisecond))
	fmt.Fprintf(out, "  Frontend:  %s (namespace %s)\n", srv.FrontendAddress(), o.namespace)
	if u := srv.UIURL(); u != "" {
		fmt.Fprintf(out, "  Web UI:    %s\n", u)
	}
	fmt.Fprintf(out, "  Data:      %s\n", filepath.Join(o.dataDir, "temporal.db"))
	fmt.Fprintf(out, "Managers connect with temporal.address: %s (MAHAVISHNU_TEMPORAL_ADDRESS).\n", srv.FrontendAddress())
	fmt.Fprintf(out, "Press Ctrl-C to stop.\n")

	<-ctx.Done()
	fmt.Fprintln(out, "Stopping...")
	if err := srv.Stop(); err != nil {
		return fmt.Errorf("stop Temporal server: %w", err)
	}
	fmt.Fprintln(out, "Temporal server stopped.")
	return nil
}
