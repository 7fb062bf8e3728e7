package cli

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"
	"go.temporal.io/sdk/client"

	"github.com/mahavishnu/mahavishnu/api"
	"github.com/mahavishnu/mahavishnu/manager"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// updateRecorder answers the workflow Updates the API sends and records them.
type updateRecorder struct {
	client.Client
	mu   sync.Mutex
	args []any
}

func (u *updateRecorder) UpdateWorkflow(_ context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.args = append(u.args, o.Args...)
	return okHandle{}, nil
}

type okHandle struct{ client.WorkflowUpdateHandle }

func (okHandle) Get(context.Context, any) error { return nil }

// TestCLIGoesThroughTheAPIWithItsToken: tokens issued on the store, the CLI's writes sent
// to a real API server with --token, the actor being the token's name, and refusals.
func TestCLIGoesThroughTheAPIWithItsToken(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, "sqlite:///incidents.db", dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	inc := schemas.Incident{IncidentID: "inc_1", Fingerprint: "error_burst/api", IncidentType: "error_burst", Severity: schemas.SeverityHigh,
		Status: schemas.StatusInvestigating, Title: "API errors", Source: "api", DetectedAt: time.Now().UTC(),
		WorkflowID: "incident/error_burst/api", RunID: "r1", Version: 1}
	require.NoError(t, st.SaveIncident(ctx, &inc))
	rec := &updateRecorder{}
	m, err := manager.New(manager.Options{Store: st, Client: rec, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	srv := httptest.NewServer(api.New(api.Options{Manager: m, Logger: slog.New(slog.DiscardHandler)}).Handler())
	t.Cleanup(srv.Close)
	cfg := filepath.Join(dir, "mahavishnu.yaml")
	require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, "data_dir: %q\napi:\n  listen: %q\n", dir, strings.TrimPrefix(srv.URL, "http://")), 0o600))
	prev := cli.OsExiter
	cli.OsExiter = func(int) {}
	t.Cleanup(func() { cli.OsExiter = prev })
	run := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := Run(ctx, NewApp(Options{Stdout: &out, Stderr: &errOut}), append([]string{"mahavishnu", "--config", cfg}, args...))
		return out.String(), errOut.String(), err
	}

	// Before any token: the quickstart's loopback mode, names self-asserted.
	_, _, err = run("incidents", "assign", "inc_1", "dave", "--by", "carol")
	require.NoError(t, err)

	alice, stderr, err := run("tokens", "create", "--name", "alice", "--role", "approver", "--expires", "90d")
	require.NoError(t, err)
	require.Regexp(t, `^mhv_[A-Za-z0-9_-]{43}\n$`, alice, "stdout is the token alone")
	require.Contains(t, stderr, "issued to alice (approver)")
	alice = strings.TrimSpace(alice)
	rita, _, err := run("tokens", "create", "--name", "rita", "--role", "responder")
	require.NoError(t, err)
	rita = strings.TrimSpace(rita)
	admin, _, err := run("tokens", "create", "--name", "root", "--role", "admin")
	require.NoError(t, err)
	admin = strings.TrimSpace(admin)
	_, _, err = run("tokens", "create", "--name", "alice", "--role", "viewer")
	require.ErrorContains(t, err, "--name: token name \"alice\"")

	list, _, err := run("tokens", "list", "-o", "json")
	require.NoError(t, err)
	require.Contains(t, list, `"name": "rita"`)
	for _, secret := range []string{alice, rita, admin} {
		require.NotContains(t, list, secret, "tokens list never shows a secret")
	}

	_, _, err = run("incidents", "acknowledge", "inc_1")
	require.ErrorContains(t, err, "HTTP 401")
	require.ErrorContains(t, err, "--token")

	out, _, err := run("--token", rita, "incidents", "acknowledge", "inc_1")
	require.NoError(t, err, out)
	require.Contains(t, rec.args, any(schemas.Acknowledge{By: "rita"}), "the token's name is the actor")

	_, _, err = run("--token", rita, "incidents", "mitigate", "inc_1", "--action", "restart_service", "--approved-by", "rita")
	require.ErrorContains(t, err, "may not approve")
	_, _, err = run("--token", alice, "incidents", "mitigate", "inc_1", "--action", "restart_service", "--approved-by", "bob")
	require.ErrorContains(t, err, `you are authenticated as "alice" and cannot approve in the name of "bob"`)
	_, _, err = run("--token", alice, "incidents", "approve", "inc_1", "--action", "restart_service", "--by", "bob")
	require.ErrorContains(t, err, `authenticated as "alice"`)
	_, _, err = run("--token", alice, "incidents", "approve", "inc_1", "--action", "restart_service")
	require.NoError(t, err)
	require.Contains(t, rec.args, any(schemas.ApprovalDecision{Action: "restart_service", By: "alice"}))

	_, _, err = run("--token", alice, "audit", "list")
	require.ErrorContains(t, err, "may not administer")
	out, _, err = run("--token", admin, "audit", "list", "--actor", "alice", "-o", "json")
	require.NoError(t, err)
	require.Contains(t, out, `"result": "denied"`)
	require.Contains(t, out, `"result": "allowed"`)
	out, _, err = run("--token", admin, "audit", "list", "--actor", "carol")
	require.NoError(t, err)
	require.Contains(t, out, "carol (unauthenticated)")

	// Once tokens exist, reads go through the API too.
	_, _, err = run("incidents", "list")
	require.ErrorContains(t, err, "HTTP 401")
	out, _, err = run("--token", rita, "incidents", "list", "-o", "json")
	require.NoError(t, err)
	require.Contains(t, out, `"incident_id": "inc_1"`)

	revoked, _, err := run("tokens", "revoke", "rita")
	require.NoError(t, err)
	require.Contains(t, revoked, "revoked")
	_, _, err = run("--token", rita, "incidents", "acknowledge", "inc_1")
	require.ErrorContains(t, err, "revoked")
}
