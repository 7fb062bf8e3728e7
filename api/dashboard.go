package api

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mahavishnu/mahavishnu/auth"
	"github.com/mahavishnu/mahavishnu/manager"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/*
var staticFS embed.FS

// Cookie names of the dashboard.
const (
	flashCookie = "mahavishnu_flash"
)

// DashboardOptions configure the web dashboard of the manager's server
// (incident_response.dashboard).
type DashboardOptions struct {
	// Enabled serves the dashboard at / (otherwise / answers the JSON endpoint list).
	Enabled bool
	// Refresh is how often the overview and incident pages reload themselves (static/
	// dashboard.js, keeping the scroll position; the filters are in the URL); 0 turns
	// auto-refresh off. A page with a form being filled in waits until it is left alone.
	Refresh time.Duration
	// Actions lists the remediation actions recommended for an incident, offered by the
	// Mitigate form (nil: no action is offered).
	Actions func(ctx context.Context, inc *schemas.Incident) []ActionChoice
}

// ActionChoice is a remediation action the dashboard offers for an incident.
type ActionChoice struct {
	ID          string
	Description string
	// Safe actions run without an approver; the others need one.
	Safe bool
}

// DashboardDeps is what a dashboard reads and acts through.
type DashboardDeps struct {
	Store *store.Store
	// Ops sends responder actions to the incidents' workflows; nil makes the dashboard
	// read-only (actions answer 503).
	Ops *manager.Ops
	// Token is the config's bootstrap api.token ("" for none); issued tokens live in the
	// store. Auth, when set, is used instead (the API server shares its own).
	Token string
	Auth  *auth.Authenticator
	// PublicURL is api.public_url: https makes the session cookie Secure.
	PublicURL string
	// SessionTTL is how long a login lasts (default 12h).
	SessionTTL time.Duration
	Logger     *slog.Logger
	// ManagerStatus reports the manager running in this process (nil: none does).
	ManagerStatus func() manager.Status
	// TemporalHealth reports the Temporal connection (nil: not checked).
	TemporalHealth func(ctx context.Context) error
	// WorkflowURL links an incident to the Temporal Web UI (nil or "": no link).
	WorkflowURL func(workflowID, runID string) string
	Options     DashboardOptions
	// Changes subscribes to incident changes and Stamp reads the current change stamp,
	// for live updates (live.go); nil turns them off.
	Changes func() (<-chan string, func())
	Stamp   func(ctx context.Context) (string, error)
}

// Dashboard is the server-rendered web dashboard: HTML pages, action forms and exports.
type Dashboard struct {
	deps  DashboardDeps
	auth  *auth.Authenticator
	log   *slog.Logger
	pages map[string]*template.Template
	csrf  string
}

// NewDashboard parses the embedded templates and draws the per-process CSRF token.
func NewDashboard(deps DashboardDeps) (*Dashboard, error) {
	if deps.Store == nil {
		return nil, errors.New("dashboard: Store is required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	d := &Dashboard{deps: deps, auth: deps.Auth, log: deps.Logger, pages: map[string]*template.Template{}}
	if d.auth == nil {
		d.auth = &auth.Authenticator{Store: deps.Store, Bootstrap: deps.Token}
	}
	for _, page := range []string{"dashboard.html", "incident.html", "login.html", "error.html"} {
		t, err := template.New(page).Funcs(templateFuncs).ParseFS(templateFS, "templates/layout.html", "templates/charts.html", "templates/"+page)
		if err != nil {
			return nil, fmt.Errorf("dashboard template %s: %w", page, err)
		}
		d.pages[page] = t
	}
	// The CSRF token is random per process; with api.token set it is derived from the
	// token instead, so that replicas behind one load balancer accept each other's forms.
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("dashboard: CSRF token: %w", err)
	}
	if deps.Token != "" {
		mac := hmac.New(sha256.New, []byte(deps.Token))
		mac.Write([]byte("mahavishnu dashboard csrf v1"))
		b = mac.Sum(nil)
	}
	d.csrf = hex.EncodeToString(b)
	return d, nil
}

// Register adds the dashboard routes to mux: /, /incidents/{id}, the action forms,
// /login, the exports and /static/.
func (d *Dashboard) Register(mux *http.ServeMux) {
	page := func(pattern string, h func(http.ResponseWriter, *http.Request) error) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			securityHeaders(w.Header())
			if err := h(w, r); err != nil {
				d.writeError(w, r, err)
			}
		})
	}
	page("GET /{$}", d.overview)
	page("GET /incidents/{id}", d.incident)
	page("GET /incidents/{id}/export", d.exportIncident)
	page("GET /export", d.exportList)
	page("GET /login", d.loginForm)
	page("GET /live", d.live)
	page("POST /login", d.login)
	page("POST /logout", d.logout)
	for _, a := range []string{"acknowledge", "assign", "mitigate", "resolve", "close", "approve", "reject"} {
		page("POST /incidents/{id}/"+a, d.action(a))
	}
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	mux.HandleFunc("GET /static/", func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w.Header())
		files.ServeHTTP(w, r)
	})
}

// Handler returns the dashboard alone, with /healthz, for `incidents dashboard`.
func (d *Dashboard) Handler() http.Handler {
	mux := http.NewServeMux()
	d.Register(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := d.deps.Store.Ping(r.Context()); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "degraded", "store": "unreachable"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "store": "ok"})
	})
	return mux
}

// temporalHealth reports the manager's last Temporal check, without calling Temporal.
func (s *Server) temporalHealth(context.Context) error {
	if h := s.m.Health(); h.Temporal == manager.HealthUnreachable {
		return errors.New("temporal unreachable")
	}
	return nil
}

// mountDashboard serves the dashboard at / when it is enabled, else the JSON index.
func (s *Server) mountDashboard(mux *http.ServeMux, handle func(string, bool, func(http.ResponseWriter, *http.Request) error)) {
	if !s.opts.Dashboard.Enabled {
		handle("GET /{$}", false, s.index)
		return
	}
	d, err := NewDashboard(DashboardDeps{
		Store: s.m.Store(), Ops: s.m.Ops(), Token: s.opts.Token, Auth: s.auth, PublicURL: s.opts.PublicURL,
		SessionTTL: s.opts.SessionTTL, Logger: s.log.With("component", "dashboard"),
		ManagerStatus: s.m.Status, TemporalHealth: s.temporalHealth, WorkflowURL: s.opts.WorkflowURL,
		Options: s.opts.Dashboard, Changes: s.m.Changes().Subscribe, Stamp: s.m.Store().ChangeStamp,
	})
	if err != nil { // the templates are embedded: only a broken build gets here
		panic(err)
	}
	d.Register(mux)
}

var templateFuncs = template.FuncMap{
	"time": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if !v.IsZero() {
				return v.UTC().Format("2006-01-02 15:04:05Z")
			}
		case *time.Time:
			if v != nil && !v.IsZero() {
				return v.UTC().Format("2006-01-02 15:04:05Z")
			}
		}
		return "-"
	},
	"secs": func(s *float64) string {
		if s == nil {
			return "-"
		}
		return fmtDuration(*s)
	},
	"dur":  fmtDuration,
	"dash": func(s string) string { return cmp.Or(strings.TrimSpace(s), "-") },
	"add":  func(a, b, c int) int { return a + b + c },
	"join": strings.Join,
	"query": func(f dashFilter, key, value string) template.URL {
		return template.URL("?" + f.with(key, value).Encode())
	},
}

func fmtDuration(s float64) string {
	if s <= 0 {
		return "0s"
	}
	return (time.Duration(s * float64(time.Second))).Round(time.Second).String()
}

// dashFilter is the dashboard's query: ?severity=, ?status=, ?component=, ?since=.
type dashFilter struct {
	Severity  string
	Status    string
	Component string
	Since     string
	since     time.Time
}

func parseDashFilter(q url.Values) (dashFilter, error) {
	f := dashFilter{Severity: strings.ToLower(q.Get("severity")), Status: strings.ToLower(q.Get("status")),
		Component: q.Get("component"), Since: q.Get("since")}
	if f.Severity != "" {
		if _, err := schemas.ParseSeverity(f.Severity); err != nil {
			return f, badRequest("severity: %s", err)
		}
	}
	if f.Status != "" && f.Status != "all" && f.Status != schemas.StatusActive {
		if _, err := schemas.ParseStatus(f.Status); err != nil {
			return f, badRequest("status: %s (or active, all)", err)
		}
	}
	var err error
	f.since, err = sinceParam(f.Since)
	return f, err
}

func (f dashFilter) with(key, value string) url.Values {
	v := url.Values{}
	for k, cur := range map[string]string{"severity": f.Severity, "status": f.Status, "component": f.Component, "since": f.Since} {
		if cur != "" {
			v.Set(k, cur)
		}
	}
	switch {
	case key == "":
	case value == "":
		v.Del(key)
	default:
		v.Set(key, value)
	}
	return v
}

// Query is the filter as a query string ("" or "?...").
func (f dashFilter) Query() string {
	if q := f.with("", "").Encode(); q != "" {
		return "?" + q
	}
	return ""
}

// tableStatus is the status shown in the incidents table: active unless asked otherwise.
func (f dashFilter) tableStatus() string {
	switch f.Status {
	case "":
		return schemas.StatusActive
	case "all":
		return ""
	}
	return f.Status
}

// load returns the incidents matching severity, component and since (all statuses).
// scan calls fn for every incident matching the filter's severity, since and component,
// most recently detected first, streamed from the store in pages: nothing is capped, and
// memory stays flat however many incidents there are. status, when not "", narrows it
// further in SQL (active, or one status).
func (d *Dashboard) scan(ctx context.Context, f dashFilter, status string, fn func(schemas.Incident) error) error {
	sf := store.IncidentFilter{Severity: schemas.Severity(f.Severity), Since: f.since, Status: status}
	return d.deps.Store.ScanIncidents(ctx, sf, func(inc schemas.Incident) error {
		if f.Component != "" && !slices.Contains(inc.AffectedComponents, f.Component) && inc.Source != f.Component {
			return nil
		}
		return fn(inc)
	})
}

// tablePageSize is how many incidents one page of the dashboard's table shows (?page=N).
const tablePageSize = 100

// matchesStatus reports whether the table (status: "", active or one status) shows inc.
func matchesStatus(inc schemas.Incident, status string) bool {
	switch {
	case status == "":
		return true
	case status == schemas.StatusActive:
		return inc.Status.Active()
	}
	return string(inc.Status) == status
}

type count struct {
	Name string
	N    int
}

type componentRow struct {
	Name      string
	Severity  schemas.Severity
	Incidents []string
}

type timelineRow struct {
	schemas.TimelineEntry
	Title string
}

type healthRow struct {
	Name, State, Detail string
	OK                  bool
}

type overviewPage struct {
	Who                     *whoView
	Title, Flash, FlashKind string
	Refresh                 int
	Filter                  dashFilter
	Health                  []healthRow
	Manager                 *manager.Status
	Active                  int
	ActiveBySeverity        []count
	Total                   int
	Incidents               []schemas.Incident
	TableStatus             string
	// TableTotal counts the incidents the table matches; it shows page Page (from 1) of
	// Pages, tablePageSize at a time, from row PageFrom.
	TableTotal, Page, Pages, PageFrom int
	PrevPage, NextPage                string
	Timeline                          []timelineRow
	ByStatus, BySeverity              []count
	Resolved                          int
	MTTA, MTTR                        string
	Components                        []componentRow
	Severities                        []schemas.Severity
	Statuses                          []schemas.Status
	// Charts are the SVG charts of issue 12 (charts.go).
	Charts chartsView
	// WorkflowURLs link each listed incident to its workflow in the Temporal Web UI.
	WorkflowURLs map[string]string
	// LiveURL is the Server-Sent Events stream of live updates ("" without).
	LiveURL string
}

func (d *Dashboard) overview(w http.ResponseWriter, r *http.Request) error {
	v, ok, err := d.readable(w, r)
	if !ok {
		return err
	}
	f, err := parseDashFilter(r.URL.Query())
	if err != nil {
		return err
	}
	page := 1
	if v := r.URL.Query().Get("page"); v != "" {
		if page, err = strconv.Atoi(v); err != nil || page < 1 {
			return badRequest("page: want a page number from 1, got %q", v)
		}
	}
	ctx := r.Context()
	p := overviewPage{Who: v.view(d.csrf), Title: "Incidents", Filter: f, Refresh: int(d.deps.Options.Refresh.Seconds()), Page: page,
		Health: d.health(ctx), TableStatus: cmp.Or(f.tableStatus(), "all"), Severities: schemas.Severities, Statuses: schemas.Statuses}
	if d.deps.ManagerStatus != nil {
		st := d.deps.ManagerStatus()
		p.Manager = &st
	}
	bySev, byStatus := map[string]int{}, map[string]int{}
	activeBySev := map[string]int{}
	comps := map[string]*componentRow{}
	var mtta, mttr meanOf
	var recent []schemas.Incident // the most recently updated, for the timeline
	tableStatus, first := f.tableStatus(), (page-1)*tablePageSize
	err = d.scan(ctx, f, "", func(inc schemas.Incident) error {
		p.Total++
		if matchesStatus(inc, tableStatus) {
			if p.TableTotal >= first && p.TableTotal < first+tablePageSize {
				p.Incidents = append(p.Incidents, inc)
			}
			p.TableTotal++
		}
		recent = keepRecent(recent, inc, recentIncidents)
		bySev[string(inc.Severity)]++
		byStatus[string(inc.Status)]++
		mtta.add(inc.MTTASeconds)
		if !inc.Status.Active() {
			p.Resolved++
			mttr.add(inc.MTTRSeconds)
			return nil
		}
		p.Active++
		activeBySev[string(inc.Severity)]++
		names := inc.AffectedComponents
		if len(names) == 0 && inc.Source != "" {
			names = []string{inc.Source}
		}
		for _, c := range names {
			row := comps[c]
			if row == nil {
				row = &componentRow{Name: c, Severity: inc.Severity}
				comps[c] = row
			}
			row.Severity = row.Severity.Max(inc.Severity)
			row.Incidents = append(row.Incidents, inc.IncidentID)
		}
		return nil
	})
	if err != nil {
		return err
	}
	p.Pages = max(1, (p.TableTotal+tablePageSize-1)/tablePageSize)
	p.WorkflowURLs = map[string]string{}
	for _, inc := range p.Incidents {
		if d.deps.WorkflowURL != nil && inc.WorkflowID != "" {
			p.WorkflowURLs[inc.IncidentID] = d.deps.WorkflowURL(inc.WorkflowID, inc.RunID)
		}
	}
	p.PageFrom = first + 1
	if page > 1 {
		p.PrevPage = "?" + pageQuery(f, page-1)
	}
	if page < p.Pages {
		p.NextPage = "?" + pageQuery(f, page+1)
	}
	for i := len(schemas.Severities) - 1; i >= 0; i-- {
		s := string(schemas.Severities[i])
		p.BySeverity = append(p.BySeverity, count{s, bySev[s]})
		p.ActiveBySeverity = append(p.ActiveBySeverity, count{s, activeBySev[s]})
	}
	for _, s := range schemas.Statuses {
		p.ByStatus = append(p.ByStatus, count{string(s), byStatus[string(s)]})
	}
	p.MTTA, p.MTTR = mtta.String(), mttr.String()
	for _, c := range comps {
		p.Components = append(p.Components, *c)
	}
	slices.SortFunc(p.Components, func(a, b componentRow) int {
		return cmp.Or(cmp.Compare(b.Severity.Rank(), a.Severity.Rank()), cmp.Compare(a.Name, b.Name))
	})
	if p.Timeline, err = d.recentTimeline(ctx, recent); err != nil {
		return err
	}
	if p.Charts, err = d.charts(ctx, f, time.Now()); err != nil {
		return err
	}
	p.LiveURL = d.liveURL(r)
	p.Flash, p.FlashKind = takeFlash(w, r)
	return d.render(w, http.StatusOK, "dashboard.html", p)
}

// recentTimeline merges the latest timeline entries of the most recently updated incidents.
func (d *Dashboard) recentTimeline(ctx context.Context, incs []schemas.Incident) ([]timelineRow, error) {
	const incidents, entries = 10, 25
	recent := slices.Clone(incs)
	slices.SortFunc(recent, func(a, b schemas.Incident) int { return b.UpdatedAt.Compare(a.UpdatedAt) })
	var rows []timelineRow
	for _, inc := range recent[:min(len(recent), incidents)] {
		tl, err := d.deps.Store.Timeline(ctx, inc.IncidentID)
		if err != nil {
			return nil, err
		}
		for _, e := range tl {
			rows = append(rows, timelineRow{TimelineEntry: e, Title: inc.Title})
		}
	}
	slices.SortStableFunc(rows, func(a, b timelineRow) int { return b.At.Compare(a.At) })
	return rows[:min(len(rows), entries)], nil
}

func (d *Dashboard) health(ctx context.Context) []healthRow {
	rows := []healthRow{{Name: "Store", State: "ok", Detail: d.deps.Store.Dialect(), OK: true}}
	if err := d.deps.Store.Ping(ctx); err != nil {
		rows[0] = healthRow{Name: "Store", State: "unreachable", Detail: d.deps.Store.Dialect()}
		d.log.Warn("dashboard health: store", "error", err)
	}
	switch {
	case d.deps.TemporalHealth != nil:
		row := healthRow{Name: "Temporal", State: "ok", OK: true}
		if err := d.deps.TemporalHealth(ctx); err != nil {
			row = healthRow{Name: "Temporal", State: "unreachable"}
			d.log.Warn("dashboard health: temporal", "error", err)
		}
		rows = append(rows, row)
	case d.deps.Ops == nil:
		rows = append(rows, healthRow{Name: "Temporal", State: "not connected", Detail: "actions are disabled"})
	}
	if d.deps.ManagerStatus == nil {
		rows = append(rows, healthRow{Name: "Manager", State: "not in this process", Detail: "dashboard-only server", OK: true})
	} else if st := d.deps.ManagerStatus(); st.LastError != "" || st.DetectionErrors > 0 {
		rows = append(rows, healthRow{Name: "Manager", State: "errors", Detail: fmt.Sprintf("%d detection errors", st.DetectionErrors)})
	} else {
		rows = append(rows, healthRow{Name: "Manager", State: "running", OK: true})
	}
	return rows
}

type incidentPage struct {
	Who                     *whoView
	Title, Flash, FlashKind string
	Refresh                 int
	Incident                *schemas.Incident
	Timeline                []schemas.TimelineEntry
	Actions                 []schemas.ActionRecord
	Choices                 []ActionChoice
	TemporalURL             string
	HasPostMortem           bool
	// Approvals are the incident's pending approvals (issue 12), with Approve / Reject.
	Approvals []schemas.Approval
	LiveURL   string
	ReadOnly  bool
}

func (d *Dashboard) incident(w http.ResponseWriter, r *http.Request) error {
	v, ok, err := d.readable(w, r)
	if !ok {
		return err
	}
	ctx := r.Context()
	inc, err := d.deps.Store.GetIncident(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	p := incidentPage{Who: v.view(d.csrf), Title: inc.IncidentID + " " + inc.Title, Incident: inc, Refresh: int(d.deps.Options.Refresh.Seconds()),
		LiveURL: d.liveURL(r), ReadOnly: d.deps.Ops == nil}
	if p.Timeline, err = d.deps.Store.Timeline(ctx, inc.IncidentID); err != nil {
		return err
	}
	if p.Actions, _, err = d.deps.Store.ListActions(ctx, inc.IncidentID, time.Time{}, 1000); err != nil {
		return err
	}
	if d.deps.Options.Actions != nil {
		// The form offers only what the role may run: unsafe actions need Approve.
		for _, c := range d.deps.Options.Actions(ctx, inc) {
			if c.Safe || p.Who.CanApprove {
				p.Choices = append(p.Choices, c)
			}
		}
	}
	if d.deps.WorkflowURL != nil && inc.WorkflowID != "" {
		p.TemporalURL = d.deps.WorkflowURL(inc.WorkflowID, inc.RunID)
	}
	if d.deps.Ops != nil && inc.Status.Active() {
		qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		approvals, err := d.deps.Ops.PendingApprovals(qctx, inc.IncidentID)
		cancel()
		if err != nil {
			d.log.Warn("dashboard: pending approvals", "incident", inc.IncidentID, "error", err)
		}
		p.Approvals = approvals
	}
	_, _, pmErr := d.deps.Store.PostMortem(ctx, inc.IncidentID)
	p.HasPostMortem = pmErr == nil
	p.Flash, p.FlashKind = takeFlash(w, r)
	return d.render(w, http.StatusOK, "incident.html", p)
}

func (d *Dashboard) render(w http.ResponseWriter, status int, page string, data any) error {
	var buf strings.Builder
	if err := d.pages[page].ExecuteTemplate(&buf, "layout", data); err != nil {
		return fmt.Errorf("render %s: %w", page, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	securityHeaders(w.Header())
	w.WriteHeader(status)
	_, err := w.Write([]byte(buf.String()))
	return err
}

type errorPage struct {
	Who            *whoView
	Title, Message string
	Status         int
	Refresh        int
	Flash          string
}

func (d *Dashboard) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusInternalServerError, "internal error"
	var (
		he  *httpError
		rej *manager.RejectedError
	)
	switch {
	case errors.As(err, &he):
		status, msg = he.status, he.msg
	case errors.Is(err, store.ErrNotFound):
		status, msg = http.StatusNotFound, "incident not found"
	case errors.As(err, &rej):
		status, msg = http.StatusConflict, rej.Reason
	default:
		d.log.Error("dashboard request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	if rerr := d.render(w, status, "error.html", errorPage{Title: http.StatusText(status), Message: msg, Status: status}); rerr != nil {
		d.log.Error("dashboard error page", "error", rerr)
	}
}

// recentIncidents is how many of the most recently updated incidents feed the timeline.
const recentIncidents = 10

// keepRecent keeps the n most recently updated incidents of list plus inc.
func keepRecent(list []schemas.Incident, inc schemas.Incident, n int) []schemas.Incident {
	i, _ := slices.BinarySearchFunc(list, inc, func(a, b schemas.Incident) int { return b.UpdatedAt.Compare(a.UpdatedAt) })
	if i >= n {
		return list
	}
	list = slices.Insert(list, i, inc)
	return list[:min(len(list), n)]
}

// meanOf is a running mean of the values present.
type meanOf struct {
	sum float64
	n   int
}

func (m *meanOf) add(v *float64) {
	if v != nil {
		m.sum += *v
		m.n++
	}
}

// String is the mean as a duration ("-" with no value).
func (m meanOf) String() string {
	if m.n == 0 {
		return "-"
	}
	return fmtDuration(m.sum / float64(m.n))
}

// pageQuery is the filter's query string with page set.
func pageQuery(f dashFilter, page int) string {
	v := f.with("", "")
	v.Set("page", strconv.Itoa(page))
	return v.Encode()
}
