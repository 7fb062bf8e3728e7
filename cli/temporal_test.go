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

// fakeEmbedded stands in for devserver.Server.
type fakeEmbedded struct {
	addr    string
	stopped bool
}

func (f *fakeEmbedded) FrontendAddress() string        { return f.addr }
func (f *fakeEmbedded) UIURL() string                  { return "http://127.0.0.1:9233" }
func (f *fakeEmbedded) WorkflowURL(_, _ string) string { return "" }
func (f *fakeEmbedded) Stop() error                    { f.stopped = true; return nil }

func TestTemporalServeFlags(t *testing.T) {
	dir := t.TempDir()
	cfgDir := filepath.Join(dir, "from-config")
	cfgPath := filepath.Join(dir, "mahavishnu.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte("data_dir: "+cfgDir+"\n"), 0o600))
	for name, tc := range map[string]struct {
		args    []string
		wantErr string
		want    EmbeddedOptions
	}{
		"defaults from the config": {
			want: EmbeddedOptions{DataDir: cfgDir, Namespace: "default", FrontendPort: 7233, UIPort: 8233},
		},
		"flags override": {
			args: []string{"--data-dir", dir, "--port", "17233", "--ui-port", "0", "--namespace", "ops"},
			want: EmbeddedOptions{DataDir: dir, Namespace: "ops", FrontendPort: 17233, UIPort: 0},
		},
		"port zero":        {args: []string{"--data-dir", dir, "--port", "0"}, wantErr: "--port 0: must be between 1 and 65532"},
		"port too high":    {args: []string{"--data-dir", dir, "--port", "65534"}, wantErr: "--port 65534: must be between 1 and 65532"},
		"ui port negative": {args: []string{"--data-dir", dir, "--ui-port", "-1"}, wantErr: "--ui-port -1: must be between 0"},
		"ui port clashes":  {args: []string{"--data-dir", dir, "--port", "7000", "--ui-port", "7003"}, wantErr: "--ui-port 7003: clashes with the server's ports 7000-7003"},
		"empty namespace":  {args: []string{"--data-dir", dir, "--namespace", " "}, wantErr: "--namespace: must not be empty"},
		"info log level":   {args: []string{"--data-dir", dir, "--log-level", "info"}, wantErr: "--log-level: want warn or error"},
		"positional arg":   {args: []string{"--data-dir", dir, "extra"}, wantErr: `unexpected argument "extra"`},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var got *EmbeddedOptions
			fake := &fakeEmbedded{addr: "127.0.0.1:7233"}
			var out, errOut bytes.Buffer
			app := NewApp(Options{
				Stdout: &out, Stderr: &errOut,
				StartEmbedded: func(_ context.Context, o EmbeddedOptions) (EmbeddedServer, error) {
					o.Logger = nil
					got = &o
					cancel() // as if SIGTERM arrived once the server is up
					return fake, nil
				},
			})
			app.ExitErrHandler = func(*cli.Context, error) {}
			args := append([]string{"mahavishnu", "--config", cfgPath, "temporal", "serve"}, tc.args...)
			err := Run(ctx, app, args)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.Nil(t, got, "the server must not start on bad flags")
				return
			}
			require.NoError(t, err, errOut.String())
			require.NotNil(t, got)
			require.Equal(t, tc.want, *got)
			require.True(t, fake.stopped, "the server is stopped on SIGTERM")
			require.Contains(t, out.String(), "Frontend:  127.0.0.1:7233 (namespace "+tc.want.Namespace+")")
			require.Contains(t, out.String(), "Web UI:    http://127.0.0.1:9233")
			require.Contains(t, out.String(), "Temporal server stopped.")
		})
	}
}
