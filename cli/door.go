package cli

import (
	"net/http"
	"net/url"

	"github.com/urfave/cli/v2"
)

// One door (issue 10): the CLI's writes go through the manager's HTTP API with the
// caller's token, so the same rules and the same audit apply to every client.

// by is the actor name a command sends: --by when given; without it, nothing when the
// CLI holds a token (the server records the token's identity), else the OS user (the
// no-token loopback mode, where names are self-asserted).
func (r *runtime) by(c *cli.Context) string {
	if c.IsSet("by") {
		return c.String("by")
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
