package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"go.temporal.io/sdk/client"

	"github.com/mahavishnu/mahavishnu/api"
	"github.com/mahavishnu/mahavishnu/auth"
	"github.com/mahavishnu/mahavishnu/manager"
	"github.com/mahavishnu/mahavishnu/remediation"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// temporalDialTimeout bounds the dashboard's wait for Temporal; without it the dashboard
// still serves, read-only.
const temporalDialTimeout = 10 * time.Second

func dashboardCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "dashboard",
		Usage: "serve the web dashboard on its own (reads the store; actions go to the incidents' workflows)",
		Description: "The manager (`incidents start`) already serves the dashboard at api.listen when\n" +
			"incident_response.dashboard.enabled is true. This command serves only the dashboard, for\n" +
			"exposing it apart from the API. Actions need api.token (log in at /login) or, without a\n" +
			"token, a client on this machine. Stops on Ctrl-C.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "port", Usage: "port to listen on (0: any free port)", DefaultText: "incident_response.dashboard.port"},
			&cli.StringFlag{Name: "host", Usage: "address to listen on (default: the host of api.listen)"},
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			return r.dashboard(ctx, c)
		},
	}
}

func (r *runtime) dashboard(ctx context.Context, c *cli.Context) error {
	dc := r.cfg.IncidentResponse.Dashboard
	if !dc.Enabled {
		return errors.New("incident_response.dashboard.enabled is false: set it to true to serve the dashboard")
	}
	port := dc.Port
	if c.IsSet("port") {
		port = c.Int("port")
		if port < 0 || port > 65535 {
			return fmt.Errorf("--port: want a port number 0-65535, got %d", port)
		}
	}
	host := c.String("host")
	if !c.IsSet("host") {
		host, _, _ = net.SplitHostPort(r.cfg.API.Listen)
	}
	st, err := r.Store(ctx)
	if err != nil {
		return err
	}
	reg, err := r.registry()
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(r.opts.Stderr, nil)).With("component", "dashboard")
	tp := r.cfg.API.TrustedProxy
	proxy, err := auth.ParseProxy(tp.CIDRs, tp.Header, tp.Roles, tp.DefaultRole)
	if err != nil {
		return err
	}
	deps := api.DashboardDeps{Store: st, Token: r.cfg.API.Token.Value(), Logger: logger,
		Auth:      &auth.Authenticator{Store: st, Bootstrap: r.cfg.API.Token.Value(), Proxy: proxy},
		PublicURL: r.cfg.API.PublicURL, SessionTTL: time.Duration(r.cfg.API.SessionHours) * time.Hour,
		WorkflowURL: r.dashboardWorkflowURL(), Options: r.dashboardOptions(st, reg)}
	dialCtx, cancel := context.WithTimeout(ctx, temporalDialTimeout)
	tc, err := r.Client(dialCtx)
	cancel()
	if err != nil {
		logger.Warn("Temporal is not reachable: the dashboard is read-only", "error", err)
	} else {
		deps.Ops = &manager.Ops{Store: st, Client: tc}
		deps.TemporalHealth = func(ctx context.Context) error {
			_, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		}
	}
	d, err := api.NewDashboard(deps)
	if err != nil {
		return err
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return portInUse(ctx, c.App.Writer, addr)
	}
	if err != nil {
		return fmt.Errorf("dashboard listen on %s (--port, incident_response.dashboard.port): %w", addr, err)
	}
	srv := &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	out := c.App.Writer
	fmt.Fprintf(out, "Mahavishnu dashboard: %s\n", displayURL(ln.Addr().String()))
	if deps.Ops == nil {
		fmt.Fprintln(out, "Temporal is not reachable: read-only (actions are disabled).")
	}
	fmt.Fprintln(out, "Press Ctrl-C to stop.")
	select {
	case <-ctx.Done():
		fmt.Fprintln(out, "Stopping...")
	case err := <-serveErr:
		return fmt.Errorf("dashboard HTTP server: %w", err)
	}
	shutdownCtx, cancelShutdown := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancelShutdown()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Warn("dashboard shutdown", "error", err)
	}
	return nil
}

// portInUse explains a dashboard port already taken. When a Mahavishnu manager holds it
// and serves the dashboard there (the default: dashboard.port and api.listen are both
// 8080), the dashboard is already available: say where, and succeed. Otherwise it is an
// error that says what holds the port.
func portInUse(ctx context.Context, out io.Writer, addr string) error {
	url := displayURL(addr)
	hc := &http.Client{Timeout: 3 * time.Second}
	get := func(path string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+path, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "text/html, application/json")
		return hc.Do(req)
	}
	isManager := false
	if resp, err := get("/healthz"); err == nil {
		var h struct {
			Manager json.RawMessage `json:"manager"`
		}
		isManager = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&h) == nil && len(h.Manager) > 0
		resp.Body.Close()
	}
	if !isManager {
		return fmt.Errorf("dashboard port %s (--port, incident_response.dashboard.port) is in use by another program: pick another --port", addr)
	}
	if resp, err := get("/"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			fmt.Fprintf(out, "The running manager (`incidents start`) already serves the dashboard at %s/: open it there.\n", url)
			fmt.Fprintln(out, "To serve a second copy on its own, give another --port (or incident_response.dashboard.port).")
			return nil
		}
	}
	return fmt.Errorf("dashboard port %s is the running manager's api.listen, which serves no dashboard there "+
		"(incident_response.dashboard.enabled is false for it, or it runs without the api role): pick another --port", addr)
}

// displayURL turns a listen address into a URL a browser on this machine can open.
func displayURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// dashboardWorkflowURL links incidents to the Temporal Web UI: notifications.temporal_ui_url, or
// the embedded server's UI (nil when there is neither).
func (r *runtime) dashboardWorkflowURL() func(workflowID, runID string) string {
	base := r.cfg.IncidentResponse.Notifications.TemporalUIURL
	if base == "" && r.cfg.Embedded() && r.cfg.Temporal.Embedded.UIPort != 0 {
		base = fmt.Sprintf("http://127.0.0.1:%d", r.cfg.Temporal.Embedded.UIPort)
	}
	if base == "" {
		return nil
	}
	ns := r.cfg.Temporal.Namespace
	return func(workflowID, runID string) string { return schemas.WorkflowUIURL(base, ns, workflowID, runID) }
}

// dashboardOptions configures the dashboard (incident_response.dashboard) and the
// actions its Mitigate form offers: the incident's rule's actions (the stored rule, else
// the built-in one) and the actions registered for its type, as `mitigate --list-actions`.
func (r *runtime) dashboardOptions(st *store.Store, reg *remediation.Registry) api.DashboardOptions {
	dc, policy := r.cfg.IncidentResponse.Dashboard, r.cfg.IncidentResponse.RemediationPolicy()
	return api.DashboardOptions{Enabled: dc.Enabled, Refresh: dc.RefreshInterval(),
		Actions: func(ctx context.Context, inc *schemas.Incident) []api.ActionChoice {
			rule, err := storedRule(ctx, st, inc.RuleID)
			if err != nil {
				rule = findRuleByID(inc.RuleID) // the store is away: the built-in rule's actions
			}
			var out []api.ActionChoice
			for _, a := range reg.Recommended(inc.IncidentType, rule.Actions) {
				out = append(out, api.ActionChoice{ID: a.ID, Description: a.Description, Safe: !remediation.NeedsApprover(a, policy)})
			}
			return out
		}}
}
