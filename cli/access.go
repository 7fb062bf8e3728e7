package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/mahavishnu/mahavishnu/api"
	"github.com/mahavishnu/mahavishnu/auth"
	"github.com/mahavishnu/mahavishnu/manager"
	"github.com/mahavishnu/mahavishnu/remediation"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// accessOptions are the access-control parts of the API server's options (issue 10).
type accessOptions struct {
	Proxy      *auth.Proxy
	PublicURL  string
	SessionTTL time.Duration
	Declare    func(ctx context.Context, req api.DeclareRequest) (schemas.IncidentInput, error)
}

func (r *runtime) accessOptions(ctx context.Context, st *store.Store, tc client.Client, reg *remediation.Registry, logger *slog.Logger) (accessOptions, error) {
	cfg := r.cfg
	tp := cfg.API.TrustedProxy
	proxy, err := auth.ParseProxy(tp.CIDRs, tp.Header, tp.Roles, tp.DefaultRole)
	if err != nil {
		return accessOptions{}, err
	}
	warnOpenAPI(ctx, r, st, proxy, logger)
	ops := &manager.Ops{Store: st, Client: tc}
	return accessOptions{
		Proxy: proxy, PublicURL: cfg.API.PublicURL, SessionTTL: time.Duration(cfg.API.SessionHours) * time.Hour,
		Declare: func(ctx context.Context, req api.DeclareRequest) (schemas.IncidentInput, error) {
			rule := findRuleByID(req.Type)
			for _, candidate := range schemas.DefaultRules() {
				if candidate.IncidentType == req.Type {
					rule = candidate
				}
			}
			id := manager.NewIncidentID()
			source := req.Source
			if source == "" {
				source = "manual"
			}
			in := schemas.IncidentInput{
				IncidentID: id, Fingerprint: "manual/" + id, RuleID: rule.ID, IncidentType: req.Type,
				Severity: req.Severity, Title: strings.TrimSpace(req.Title), Description: req.Description, Source: source,
				DetectedAt: time.Now().UTC(), Actions: rule.Actions, Settings: incidentSettings(cfg, reg),
			}
			if in.Description == "" {
				in.Description = "Declared by " + req.By
			}
			return in, ops.Declare(ctx, cfg.Temporal.TaskQueue, in)
		},
	}, nil
}

// warnOpenAPI prints a loud warning when the API listens beyond loopback with no token
// and no trusted proxy: it then serves reads to anyone who can reach it, and no writes.
func warnOpenAPI(ctx context.Context, r *runtime, st *store.Store, proxy *auth.Proxy, logger *slog.Logger) {
	host, _, err := net.SplitHostPort(r.cfg.API.Listen)
	if err != nil {
		return
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return
	}
	a := &auth.Authenticator{Store: st, Bootstrap: r.cfg.API.Token.Value()}
	if required, err := a.TokensRequired(ctx); err != nil || required || proxy != nil {
		return
	}
	msg := fmt.Sprintf("WARNING: the API listens on %s, beyond loopback, and no API token exists: "+
		"anyone who can reach it may READ incidents, events and rules, and nobody can write except from this machine. "+
		"Create tokens with `mahavishnu tokens create --name NAME --role ROLE` (docs/security.md).", r.cfg.API.Listen)
	fmt.Fprintln(r.opts.Stderr, strings.Repeat("!", 78))
	fmt.Fprintln(r.opts.Stderr, msg)
	fmt.Fprintln(r.opts.Stderr, strings.Repeat("!", 78))
	logger.Warn("API open for reads beyond loopback: no API token exists", "listen", r.cfg.API.Listen)
}
