package cli

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// One door (issue 10): the CLI's writes go through the manager's HTTP API with the
// caller's token, so the same rules and the same audit apply to every client.

// by is the actor name a command sends: --by when given; without it, nothing when the
// CLI holds a token (the server records the token's identity), else the OS user (the
// no-token loopback mode, where names are self-asserted).
func (r *runtime) by(c *cli.Context) string { return r.byFlag(c, "by") }

// byFlag is by for a command whose actor flag has another name (--created-by).
func (r *runtime) byFlag(c *cli.Context, flag string) string {
	if c.IsSet(flag) {
		return c.String(flag)
	}
	if r.apiToken() != "" {
		return ""
	}
	return currentUser()
}

// incidentCall POSTs body to /api/v1/incidents/{id}/{op} and decodes the answer.
func (r *runtime) incidentCall(c *cli.Context, id, op string, body, out any) error {
	path := "/api/v1/incidents/" + url.PathEscape(id) + "/" + op
	if _, err := r.api().do(c.Context, http.MethodPost, path, body, out); err != nil {
		return incidentError(id, err)
	}
	return nil
}

// readsThroughAPI reports whether reads must go through the API too: once any token
// exists (or the CLI holds one), reading the store directly would bypass the rules.
func (r *runtime) readsThroughAPI(c *cli.Context) (bool, error) {
	if r.apiToken() != "" {
		return true, nil
	}
	st, err := r.Store(c.Context)
	if err != nil {
		return false, err
	}
	return st.HasTokens(c.Context)
}

// listIncidents lists incidents from the store, or through the API once tokens exist.
func (r *runtime) listIncidents(c *cli.Context, f store.IncidentFilter) ([]schemas.Incident, error) {
	viaAPI, err := r.readsThroughAPI(c)
	if err != nil {
		return nil, err
	}
	if !viaAPI {
		st, err := r.Store(c.Context)
		if err != nil {
			return nil, err
		}
		return st.ListIncidents(c.Context, f)
	}
	q := url.Values{}
	for k, v := range map[string]string{"status": f.Status, "type": f.Type, "severity": string(f.Severity)} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out struct {
		Incidents []schemas.Incident `json:"incidents"`
	}
	if _, err := r.api().do(c.Context, http.MethodGet, "/api/v1/incidents?"+q.Encode(), nil, &out); err != nil {
		return nil, err
	}
	return out.Incidents, nil
}
