package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"
)

func TestConfigSetAndGet(t *testing.T) {
	data, err := os.ReadFile("../settings/mahavishnu.yaml")
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "mahavishnu.yaml")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	run := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		app := NewApp(Options{Stdout: &out, Stderr: &errOut})
		app.ExitErrHandler = func(*cli.Context, error) {}
		err := Run(context.Background(), app, append([]string{"mahavishnu", "--config", path}, args...))
		return out.String(), err
	}
	out, err := run("incidents", "config", "set", "auto_remediation=false", "notifications.slack.webhook_url=https://hooks.example.com/T/B/secret")
	require.NoError(t, err)
	require.Contains(t, out, "incident_response.auto_remediation = false in "+path)
	require.Contains(t, out, "incident_response.notifications.slack.webhook_url = <secret>")
	require.NotContains(t, out, "hooks.example.com", "a secret is never printed")

	out, err = run("incidents", "config", "get", "auto_remediation")
	require.NoError(t, err)
	require.Equal(t, "false\n", out)
	out, err = run("incidents", "config", "get", "notifications")
	require.NoError(t, err)
	require.Contains(t, out, `"webhook_url": "<secret>"`)
	require.NotContains(t, out, "hooks.example.com")

	_, err = run("incidents", "config", "set", "auto_remediation=maybe")
	require.ErrorContains(t, err, "incident_response.auto_remediation")
}

func TestDBCommands(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		app := NewApp(Options{Stdout: &out, Stderr: &errOut})
		app.ExitErrHandler = func(*cli.Context, error) {}
		err := Run(context.Background(), app, append([]string{"mahavishnu", "--data-dir", dir}, args...))
		return out.String(), err
	}
	out, err := run("db", "status")
	require.Error(t, err, "a new database has pending migrations")
	require.Contains(t, out, "pending  20260601000000_init")
	out, err = run("db", "migrate")
	require.NoError(t, err)
	require.Contains(t, out, "Applied 20260601000000_init")
	out, err = run("db", "status", "-o", "json")
	require.NoError(t, err)
	require.Contains(t, out, `"pending": []`)
	_, err = run("db", "rollback")
	require.ErrorContains(t, err, "--yes")
	out, err = run("db", "rollback", "--yes")
	require.NoError(t, err)
	require.Contains(t, out, "Rolled back 20260601000000_init")
	out, err = run("db", "migrate")
	require.NoError(t, err)
	require.Contains(t, out, "Applied")
}
