// Package integration drives Mahavishnu end to end: the real embedded Temporal server,
// the real store, the HTTP API and the CLI, in-process and as a separate binary.
package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	urfave "github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/cli"
	"github.com/mahavishnu/mahavishnu/devserver"
)

func TestMain(m *testing.M) {
	// The CLI exits the process on error; in tests an error is returned instead.
	urfave.OsExiter = func(int) {}
	os.Exit(m.Run())
}

// env is one manager's configuration: its data dir and free ports.
type env struct {
	dir, configPath string
	apiAddr         string
	frontendPort    int
	uiPort          int
}

// newEnv writes a config file with free ports into a new data dir. extra is appended
// under incident_response.
func newEnv(t testing.TB, extra string) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{dir: dir, configPath: filepath.Join(dir, "mahavishnu.yaml")}
	e.frontendPort = freePortRange(t, 4)
	e.uiPort = freePortRange(t, 1)
	e.apiAddr = fmt.Sprintf("127.0.0.1:%d", freePortRange(t, 1))
	cfg := fmt.Sprintf(`data_dir: %q
api:
  listen: %q
temporal:
  embedded:
    frontend_port: %d
    ui_port: %d
incident_response:
  enabled: true
%s`, dir, e.apiAddr, e.frontendPort, e.uiPort, extra)
	require.NoError(t, os.WriteFile(e.configPath, []byte(cfg), 0o600))
	return e
}

// freePortRange finds n consecutive free loopback ports.
func freePortRange(t testing.TB, n int) int {
	t.Helper()
	for attempt := 0; attempt < 200; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		base := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if base+n > 65000 {
			continue
		}
		ok := true
		for p := base; p < base+n && ok; p++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

func startEmbedded(ctx context.Context, o cli.EmbeddedOptions) (cli.EmbeddedServer, error) {
	return devserver.Start(ctx, devserver.Options{
		DataDir: o.DataDir, Namespace: o.Namespace, FrontendPort: o.FrontendPort, UIPort: o.UIPort, Logger: o.Logger,
	})
}

// run runs one CLI command in-process and returns its standard output.
func (e *env) run(ctx context.Context, args ...string) (string, error) {
	var errOut bytes.Buffer
	return e.runWith(ctx, &errOut, args...)
}

func (e *env) runWith(ctx context.Context, errOut *bytes.Buffer, args ...string) (string, error) {
	var out bytes.Buffer
	app := cli.NewApp(cli.Options{StartEmbedded: startEmbedded, Stdout: &out, Stderr: &syncWriter{buf: errOut}})
	full := append([]string{"mahavishnu", "--config", e.configPath}, args...)
	err := cli.Run(ctx, app, full)
	if err != nil {
		return out.String(), fmt.Errorf("%w (stderr: %s)", err, strings.TrimSpace(errOut.String()))
	}
	return out.String(), nil
}

// mustRun runs a CLI command that must succeed.
func (e *env) mustRun(t testing.TB, args ...string) string {
	t.Helper()
	out, err := e.run(context.Background(), args...)
	require.NoError(t, err, "mahavishnu %s", strings.Join(args, " "))
	return out
}

// startManager runs `incidents start` until the test ends, and waits for /healthz.
func (e *env) startManager(t testing.TB) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logs := &bytes.Buffer{}
	go func() {
		_, err := e.runWith(ctx, logs, "incidents", "start", "--log-level", "warn")
		done <- err
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("manager log:\n%s", logs.String())
		}
	})
	e.waitHealthy(t, done)
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err, "incidents start returned an error on shutdown")
		case <-time.After(30 * time.Second):
			t.Error("incidents start did not stop within 30s")
		}
	}
	t.Cleanup(stop)
	return stop
}

func (e *env) waitHealthy(t testing.TB, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("incidents start exited early: %v", err)
		default:
		}
		resp, err := http.Get("http://" + e.apiAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("manager not healthy within 60s")
}

// postEvents posts a JSON body to the ingest endpoint and returns status and body.
func (e *env) postEvents(t testing.TB, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post("http://"+e.apiAddr+"/api/v1/events", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

// eventually polls cond until it holds or the timeout passes; explain, if given, says
// what was seen instead.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool, explain ...func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, f := range explain {
		what += " (" + f() + ")"
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}

// syncWriter lets the manager's goroutines share one log buffer.
type syncWriter struct {
	mu  sync.Mutex
	buf *bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}
