package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/api"
	"github.com/mahavishnu/mahavishnu/oncall"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// One door for reads (issue 10): once any token exists (or the CLI holds one), the
// read commands ask the manager's API with the caller's token instead of opening the
// store, so the API's rules and audit apply to them too.

// storeReader is what the read commands need from the store; *store.Store has it, and
// apiReader answers the same calls from the API's GET endpoints with the same types.
type storeReader interface {
	GetIncident(ctx context.Context, id string) (*schemas.Incident, error)
	IncidentGroups(ctx context.Context, since time.Time, severity schemas.Severity, autoResolver string) ([]store.IncidentGroup, error)
	PostMortem(ctx context.Context, incidentID string) (string, time.Time, error)
	Timeline(ctx context.Context, incidentID string) ([]schemas.TimelineEntry, error)
	ListEvents(ctx context.Context, f store.EventFilter) ([]schemas.Event, error)
	ScanIncidentEvents(ctx context.Context, incidentID string, fn func(schemas.Event) error) error
	RuleRecords(ctx context.Context) ([]store.RuleRecord, error)
	GetRule(ctx context.Context, id string) (*store.RuleRecord, error)
	ListActions(ctx context.Context, incidentID string, since time.Time, limit int) ([]schemas.ActionRecord, []string, error)
	People(ctx context.Context, names []string) ([]oncall.Person, error)
	GetPerson(ctx context.Context, name string) (*oncall.Person, error)
	Schedules(ctx context.Context) ([]oncall.Schedule, error)
	GetSchedule(ctx context.Context, name string) (*oncall.Schedule, error)
	Heartbeats(ctx context.Context) ([]oncall.Heartbeat, error)
	GetHeartbeat(ctx context.Context, name string) (*oncall.Heartbeat, error)
}

var (
	_ storeReader   = (*store.Store)(nil)
	_ historyReader = (*store.Store)(nil)
	_ historyReader = apiReader{}
)

// reader returns the store, or the API once reads must go through it.
func (r *runtime) reader(c *cli.Context) (storeReader, error) {
	viaAPI, err := r.readsThroughAPI(c)
	if err != nil {
		return nil, err
	}
	if viaAPI {
		return apiReader{a: r.api()}, nil
	}
	return r.Store(c.Context)
}

// apiReader reads through the manager's HTTP API.
type apiReader struct{ a *apiClient }

func (ar apiReader) get(ctx context.Context, path string, out any) error {
	_, err := ar.a.do(ctx, http.MethodGet, path, nil, out)
	return err
}

func (ar apiReader) GetIncident(ctx context.Context, id string) (*schemas.Incident, error) {
	var inc schemas.Incident
	if err := ar.get(ctx, "/api/v1/incidents/"+url.PathEscape(id), &inc); err != nil {
		return nil, err
	}
	return &inc, nil
}

func (ar apiReader) PostMortem(ctx context.Context, incidentID string) (string, time.Time, error) {
	var pm api.PostMortem
	err := ar.get(ctx, "/api/v1/incidents/"+url.PathEscape(incidentID)+"/postmortem", &pm)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return "", time.Time{}, fmt.Errorf("%w: %s", store.ErrNotFound, ae.Msg)
	}
	if err != nil {
		return "", time.Time{}, err
	}
	return pm.Markdown, pm.WrittenAt, nil
}

func (ar apiReader) Timeline(ctx context.Context, incidentID string) ([]schemas.TimelineEntry, error) {
	var out struct {
		Timeline []schemas.TimelineEntry `json:"timeline"`
	}
	err := ar.get(ctx, "/api/v1/incidents/"+url.PathEscape(incidentID)+"/timeline", &out)
	return out.Timeline, err
}

func (ar apiReader) ListEvents(ctx context.Context, f store.EventFilter) ([]schemas.Event, error) {
	q := url.Values{}
	for k, v := range map[string]string{"type": f.Type, "source": f.Source, "incident_id": f.IncidentID} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Last > 0 {
		q.Set("last", strconv.Itoa(f.Last))
	}
	setSince(q, f.Since)
	var out struct {
		Events []schemas.Event `json:"events"`
	}
	err := ar.get(ctx, "/api/v1/events?"+q.Encode(), &out)
	return out.Events, err
}

// ScanIncidentEvents calls fn for each event attached to the incident, oldest first.
func (ar apiReader) ScanIncidentEvents(ctx context.Context, incidentID string, fn func(schemas.Event) error) error {
	var out struct {
		Events []schemas.Event `json:"events"`
	}
	if err := ar.get(ctx, "/api/v1/incidents/"+url.PathEscape(incidentID)+"/events", &out); err != nil {
		return err
	}
	for _, e := range out.Events {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

func (ar apiReader) RuleRecords(ctx context.Context) ([]store.RuleRecord, error) {
	var out struct {
		Rules []store.RuleRecord `json:"rules"`
	}
	err := ar.get(ctx, "/api/v1/rules", &out)
	return out.Rules, err
}

// People lists everyone (names nil) or the named people, like the store.
func (ar apiReader) People(ctx context.Context, names []string) ([]oncall.Person, error) {
	var out struct {
		People []oncall.Person `json:"people"`
	}
	if err := ar.get(ctx, "/api/v1/people", &out); err != nil || names == nil {
		return out.People, err
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var kept []oncall.Person
	for _, p := range out.People {
		if want[p.Name] {
			kept = append(kept, p)
		}
	}
	return kept, nil
}

func (ar apiReader) GetPerson(ctx context.Context, name string) (*oncall.Person, error) {
	var p oncall.Person
	if err := ar.get(ctx, "/api/v1/people/"+url.PathEscape(name), &p); err != nil {
		return nil, err
	}
	return &p, nil
}

func (ar apiReader) Schedules(ctx context.Context) ([]oncall.Schedule, error) {
	var out struct {
		Schedules []oncall.Schedule `json:"schedules"`
	}
	err := ar.get(ctx, "/api/v1/schedules", &out)
	return out.Schedules, err
}

func (ar apiReader) GetSchedule(ctx context.Context, name string) (*oncall.Schedule, error) {
	var sc oncall.Schedule
	if err := ar.get(ctx, "/api/v1/schedules/"+url.PathEscape(name), &sc); err != nil {
		return nil, err
	}
	return &sc, nil
}

func (ar apiReader) Heartbeats(ctx context.Context) ([]oncall.Heartbeat, error) {
	var out struct {
		Heartbeats []oncall.Heartbeat `json:"heartbeats"`
	}
	err := ar.get(ctx, "/api/v1/heartbeats", &out)
	return out.Heartbeats, err
}

func (ar apiReader) GetHeartbeat(ctx context.Context, name string) (*oncall.Heartbeat, error) {
	var h oncall.Heartbeat
	if err := ar.get(ctx, "/api/v1/heartbeats/"+url.PathEscape(name), &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// Activity reads the incidents' timelines (GET /api/v1/activity).
func (ar apiReader) Activity(ctx context.Context, f store.ActivityFilter) ([]schemas.TimelineEntry, error) {
	q := url.Values{}
	if f.IncidentID != "" {
		q.Set("incident_id", f.IncidentID)
	}
	setSince(q, f.Since)
	if f.Last > 0 {
		q.Set("last", strconv.Itoa(f.Last))
	}
	for _, k := range f.Kinds {
		q.Add("kind", k)
	}
	for _, k := range f.ExcludeKinds {
		q.Add("exclude_kind", k)
	}
	var out struct {
		Activity []schemas.TimelineEntry `json:"activity"`
	}
	err := ar.get(ctx, "/api/v1/activity?"+q.Encode(), &out)
	return out.Activity, err
}

// Audit reads the audit log (GET /api/v1/audit, admin only).
func (ar apiReader) Audit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	q := url.Values{}
	for k, v := range map[string]string{"actor": f.Actor, "incident_id": f.IncidentID, "result": f.Result} {
		if v != "" {
			q.Set(k, v)
		}
	}
	setSince(q, f.Since)
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out struct {
		Audit []store.AuditEntry `json:"audit"`
	}
	err := ar.get(ctx, "/api/v1/audit?"+q.Encode(), &out)
	return out.Audit, err
}

// ListActions reads the remediation action runs (GET /api/v1/actions).
func (ar apiReader) ListActions(ctx context.Context, incidentID string, since time.Time, limit int) ([]schemas.ActionRecord, []string, error) {
	q := url.Values{}
	if incidentID != "" {
		q.Set("incident_id", incidentID)
	}
	setSince(q, since)
	if limit > 0 {
		q.Set("last", strconv.Itoa(limit))
	}
	var out struct {
		Actions []api.ActionRun `json:"actions"`
	}
	if err := ar.get(ctx, "/api/v1/actions?"+q.Encode(), &out); err != nil {
		return nil, nil, err
	}
	recs := make([]schemas.ActionRecord, len(out.Actions))
	ids := make([]string, len(out.Actions))
	for i, a := range out.Actions {
		recs[i], ids[i] = a.ActionRecord, a.IncidentID
	}
	return recs, ids, nil
}

func setSince(q url.Values, since time.Time) {
	if !since.IsZero() {
		q.Set("since", since.UTC().Format(time.RFC3339Nano))
	}
}

// IncidentGroups reads the aggregates `incidents stats` works from (GET
// /api/v1/stats/groups); the server counts as auto-resolved what api.AutoResolver resolved.
func (ar apiReader) IncidentGroups(ctx context.Context, since time.Time, severity schemas.Severity, autoResolver string) ([]store.IncidentGroup, error) {
	if autoResolver != api.AutoResolver {
		return nil, fmt.Errorf("the API counts incidents resolved by %q as auto-resolved, not %q", api.AutoResolver, autoResolver)
	}
	q := url.Values{}
	setSince(q, since)
	if severity != "" {
		q.Set("severity", string(severity))
	}
	var out struct {
		Groups []store.IncidentGroup `json:"groups"`
	}
	err := ar.get(ctx, "/api/v1/stats/groups?"+q.Encode(), &out)
	return out.Groups, err
}

// GetRule reads one stored rule; a 404 is store.ErrNotFound, as from the store.
func (ar apiReader) GetRule(ctx context.Context, id string) (*store.RuleRecord, error) {
	var rec store.RuleRecord
	err := ar.get(ctx, "/api/v1/rules/"+url.PathEscape(id), &rec)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return nil, fmt.Errorf("%w: %s", store.ErrNotFound, ae.Msg)
	}
	if err != nil {
		return nil, err
	}
	return &rec, nil
}

// showCommand is a "show NAME" command: it reads one record by name, from the store or
// through the API (r.reader), and prints it as JSON or with print.
func showCommand[T any](r *runtime, usage, arg string, get func(storeReader, context.Context, string) (*T, error),
	print func(*cli.Context, *T) error) *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     usage,
		ArgsUsage: arg,
		Flags:     []cli.Flag{outputFlag()},
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c, strings.ToLower(arg))
			if err != nil {
				return err
			}
			rd, err := r.reader(c)
			if err != nil {
				return err
			}
			v, err := get(rd, c.Context, c.Args().First())
			if err != nil {
				return err
			}
			if format == outputJSON {
				return writeJSON(c.App.Writer, v)
			}
			return print(c, v)
		},
	}
}

// listAllCommand is a "list" command: it reads every record, from the store or through the
// API, and prints them as JSON (an empty array when there are none), as empty when there
// are none, or with print.
func listAllCommand[T any](r *runtime, usage, empty string, list func(storeReader, context.Context) ([]T, error),
	print func(*cli.Context, []T) error) *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: usage,
		Flags: []cli.Flag{outputFlag()},
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c)
			if err != nil {
				return err
			}
			rd, err := r.reader(c)
			if err != nil {
				return err
			}
			items, err := list(rd, c.Context)
			if err != nil {
				return err
			}
			if format == outputJSON {
				if items == nil {
					items = []T{}
				}
				return writeJSON(c.App.Writer, items)
			}
			if len(items) == 0 {
				fmt.Fprintln(c.App.Writer, empty)
				return nil
			}
			return print(c, items)
		},
	}
}

// deleteCommand is a command that deletes one record by name through the API
// (DELETE prefix+NAME) and says so with done (a format taking the name).
func deleteCommand(r *runtime, name, usage, arg, prefix, done string) *cli.Command {
	return &cli.Command{
		Name:      name,
		Usage:     usage,
		ArgsUsage: arg,
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, strings.ToLower(arg)); err != nil {
				return err
			}
			id := c.Args().First()
			if _, err := r.api().do(c.Context, http.MethodDelete, prefix+url.PathEscape(id), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, done+"\n", id)
			return nil
		},
	}
}
