// Package cli is the mahavishnu command line: one file per command group.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"

	"github.com/urfave/cli/v2"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/mahavishnu/mahavishnu/config"
	"github.com/mahavishnu/mahavishnu/store"
)

// EmbeddedServer is a running embedded Temporal server (devserver.Server).
type EmbeddedServer interface {
	FrontendAddress() string
	UIURL() string
	WorkflowURL(workflowID, runID string) string
	Stop() error
}

// EmbeddedOptions configure the embedded Temporal server.
type EmbeddedOptions struct {
	DataDir      string
	Namespace    string
	FrontendPort int
	UIPort       int
	Logger       *slog.Logger
}

// Options are what cmd/mahavishnu wires in. Keeping the embedded server behind a
// function keeps the Temporal server's packages out of this package's tests.
type Options struct {
	StartEmbedded func(ctx context.Context, opts EmbeddedOptions) (EmbeddedServer, error)
	Stdout        io.Writer
	Stderr        io.Writer
}

// NewApp builds the mahavishnu command line.
func NewApp(opts Options) *cli.App {
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	env := &runtime{opts: opts}
	return &cli.App{
		Name:  "mahavishnu",
		Usage: "incident response orchestrator: events in, durable Temporal workflows per incident, responders in control",
		Description: "Detects incidents from operational events with windowed threshold rules and runs each\n" +
			"incident as a durable Temporal workflow (Assess -> Contain -> Investigate -> Remediate ->\n" +
			"Recover -> Post-Mortem). Start the manager with `mahavishnu incidents start`.",
		Writer:               opts.Stdout,
		ErrWriter:            opts.Stderr,
		EnableBashCompletion: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, EnvVars: []string{"MAHAVISHNU_CONFIG"},
				Usage: "config file (default: settings/mahavishnu.yaml when it exists, else built-in defaults)"},
			&cli.StringFlag{Name: "data-dir", EnvVars: []string{"MAHAVISHNU_DATA_DIR"},
				Usage: "data directory for the SQLite files (overrides data_dir)"},
			&cli.StringFlag{Name: "token", EnvVars: []string{"MAHAVISHNU_TOKEN"},
				Usage: "API token the commands call the manager with (default: api.token); see `tokens create`"},
		},
		Before: env.load,
		After: func(*cli.Context) error {
			env.close()
			return nil
		},
		Commands: []*cli.Command{incidentsCommand(env), dbCommand(env), temporalCommand(env),
			proceduresCommand(env),                // issue 13: procedure tests
			tokensCommand(env), auditCommand(env), // issue 10
			peopleCommand(env), oncallCommand(env), heartbeatsCommand(env), // issue 11
		},
		ExitErrHandler: func(c *cli.Context, err error) {
			if err == nil {
				return
			}
			if msg := err.Error(); msg != "" { // cli.Exit("", 1): the command said it already
				fmt.Fprintf(opts.Stderr, "error: %s\n", msg)
			}
			cli.OsExiter(exitCode(err))
		},
	}
}

func exitCode(err error) int {
	var coder cli.ExitCoder
	if errors.As(err, &coder) {
		return coder.ExitCode()
	}
	return 1
}

// runtime holds what commands share: the config, and the store and Temporal client,
// opened on first use.
type runtime struct {
	opts Options
	cfg  *config.Config
	// token is --token or MAHAVISHNU_TOKEN ("" falls back to api.token).
	token  string
	store  *store.Store
	client client.Client
}

func (r *runtime) load(c *cli.Context) error {
	if c.Args().Len() == 0 {
		return nil // help only
	}
	cfg, err := config.Load(c.String("config"), os.LookupEnv)
	if err != nil {
		return err
	}
	if dir := c.String("data-dir"); dir != "" {
		cfg.DataDir = dir
	}
	r.cfg = cfg
	r.token = c.String("token")
	return nil
}

// Store opens the incident store (the same one the manager writes).
func (r *runtime) Store(ctx context.Context) (*store.Store, error) {
	if r.store != nil {
		return r.store, nil
	}
	dir, err := r.cfg.DataDirAbs()
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, r.cfg.DatabaseURL(), dir)
	if err != nil {
		return nil, fmt.Errorf("open incident store: %w", err)
	}
	r.store = st
	return st, nil
}

// Client dials Temporal.
func (r *runtime) Client(ctx context.Context) (client.Client, error) {
	if r.client != nil {
		return r.client, nil
	}
	hostPort := r.cfg.TemporalHostPort()
	opts := client.Options{
		HostPort:  hostPort,
		Namespace: r.cfg.Temporal.Namespace,
		Logger:    sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	}
	if err := secureTemporal(r.cfg, &opts); err != nil {
		return nil, err
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		hint := ""
		if r.cfg.Embedded() {
			hint = " (is `mahavishnu incidents start` running?)"
		}
		return nil, fmt.Errorf("cannot reach Temporal at %s%s: %w", hostPort, hint, err)
	}
	r.client = c
	return c, nil
}

func (r *runtime) close() {
	if r.client != nil {
		r.client.Close()
	}
	if r.store != nil {
		_ = r.store.Close()
	}
}

// currentUser names the responder when --by is not given.
func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if name := os.Getenv("USER"); name != "" {
		return name
	}
	return "unknown"
}

// Run runs the app with flags allowed after positional arguments.
func Run(ctx context.Context, app *cli.App, args []string) error {
	return app.RunContext(ctx, permuteArgs(app, args))
}
