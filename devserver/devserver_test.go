package devserver_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/mahavishnu/mahavishnu/devserver"
	"github.com/mahavishnu/mahavishnu/schemas"
)

func serverLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func dial(t testing.TB, srv *devserver.Server, namespace string) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort:  srv.FrontendAddress(),
		Namespace: namespace,
		Logger:    sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	require.NoError(t, err)
	return c
}

func startServer(t testing.TB, opts devserver.Options) *devserver.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	began := time.Now()
	srv, err := devserver.Start(ctx, opts)
	require.NoError(t, err)
	t.Logf("Start took %s", time.Since(began).Round(time.Millisecond))
	return srv
}

func TestStartNewDataDir(t *testing.T) {
	const namespace = "incidents-test"
	dir := t.TempDir()
	frontendPort, uiPort := devserver.FreePorts(t)
	opts := devserver.Options{
		DataDir:      filepath.Join(dir, "data"),
		Namespace:    namespace,
		FrontendPort: frontendPort,
		UIPort:       uiPort,
		Logger:       serverLogger(),
	}
	srv := startServer(t, opts)
	t.Cleanup(func() { require.NoError(t, srv.Stop()) })

	require.Equal(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(frontendPort)), srv.FrontendAddress())
	require.FileExists(t, filepath.Join(dir, "data", devserver.DatabaseFile+"-wal"), "SQLite runs in WAL mode")

	c := dial(t, srv, namespace)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	desc, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	require.NoError(t, err)
	require.Equal(t, devserver.DefaultRetention, desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration())

	attrs, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	require.NoError(t, err)
	for _, name := range []string{schemas.SearchAttrSeverity, schemas.SearchAttrStatus, schemas.SearchAttrType} {
		require.Equal(t, enumspb.INDEXED_VALUE_TYPE_KEYWORD, attrs.GetCustomAttributes()[name], name)
	}

	uiBase := "http://127.0.0.1:" + strconv.Itoa(uiPort)
	require.Equal(t, uiBase, srv.UIURL())
	wantLink := uiBase + "/namespaces/incidents-test/workflows/incident%2Fdisk_full%2Fdb-1/run-1/history"
	require.Equal(t, wantLink, srv.WorkflowURL("incident/disk_full/db-1", "run-1"))
	require.Equal(t, uiBase+"/namespaces/incidents-test/workflows/incident%2Fdisk_full%2Fdb-1",
		srv.WorkflowURL("incident/disk_full/db-1", ""))
	for _, u := range []string{uiBase + "/", wantLink} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusOK, resp.StatusCode, u)
	}

	// A second server cannot take ports that are in use; the error names the config key.
	otherFrontend, _ := devserver.FreePorts(t)
	taken, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(otherFrontend+2)))
	require.NoError(t, err)
	defer func() { require.NoError(t, taken.Close()) }()
	thirdFrontend, _ := devserver.FreePorts(t)
	tests := []struct {
		name     string
		frontend int
		ui       int
		wantKey  string
	}{
		{"frontend port", frontendPort, 0, "temporal frontend port " + strconv.Itoa(frontendPort) + " (temporal.embedded.frontend_port)"},
		{"derived port", otherFrontend, 0, "temporal matching port " + strconv.Itoa(otherFrontend+2) + " (temporal.embedded.frontend_port + 2)"},
		{"ui port", thirdFrontend, uiPort, "temporal Web UI port " + strconv.Itoa(uiPort) + " (temporal.embedded.ui_port)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := devserver.Start(ctx, devserver.Options{
				DataDir: filepath.Join(dir, "other"), FrontendPort: tt.frontend, UIPort: tt.ui,
			})
			require.ErrorIs(t, err, devserver.ErrPortInUse)
			require.ErrorContains(t, err, tt.wantKey)
		})
	}
}

// sleepWorkflow sleeps on a durable timer, then returns "woke".
func sleepWorkflow(ctx workflow.Context, d time.Duration) (string, error) {
	if err := workflow.Sleep(ctx, d); err != nil {
		return "", err
	}
	return "woke", nil
}

func TestWorkflowSurvivesRestart(t *testing.T) {
	const taskQueue = "devserver-restart-test"
	frontendPort, _ := devserver.FreePorts(t)
	opts := devserver.Options{DataDir: t.TempDir(), FrontendPort: frontendPort, Logger: serverLogger()}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	srv := startServer(t, opts)
	require.Empty(t, srv.UIURL(), "UIPort 0 disables the UI")
	require.Empty(t, srv.WorkflowURL("incident/x", "run"))
	c := dial(t, srv, devserver.DefaultNamespace)
	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflow(sleepWorkflow)
	require.NoError(t, w.Start())
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "incident/restart-test", TaskQueue: taskQueue},
		sleepWorkflow, 3*time.Second)
	require.NoError(t, err)

	// Wait (long poll) until the timer is in the history, then stop everything.
	events := c.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), true, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for {
		require.True(t, events.HasNext(), "history ended before the timer started")
		ev, err := events.Next()
		require.NoError(t, err)
		if ev.GetEventType() == enumspb.EVENT_TYPE_TIMER_STARTED {
			break
		}
	}
	w.Stop()
	c.Close()
	require.NoError(t, srv.Stop())

	restarted := time.Now()
	srv = startServer(t, opts)
	t.Cleanup(func() { require.NoError(t, srv.Stop()) })
	c = dial(t, srv, devserver.DefaultNamespace)
	defer c.Close()
	w = worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflow(sleepWorkflow)
	require.NoError(t, w.Start())
	defer w.Stop()

	var result string
	require.NoError(t, c.GetWorkflow(ctx, run.GetID(), run.GetRunID()).Get(ctx, &result))
	require.Equal(t, "woke", result)

	desc, err := c.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID())
	require.NoError(t, err)
	require.True(t, desc.GetWorkflowExecutionInfo().GetCloseTime().AsTime().After(restarted),
		"the workflow completed after the restart, from the persisted state")
}

// noopWorkflow completes at once.
func noopWorkflow(workflow.Context) error { return nil }

// BenchmarkStartWorkflow measures StartWorkflowExecution on the embedded server's SQLite
// file with 16 concurrent callers and a worker completing the workflows. For comparison,
// TEMPORAL-NOTES.md measured about 110 starts/s on the official dev server's file mode.
func BenchmarkStartWorkflow(b *testing.B) {
	const taskQueue = "devserver-bench"
	frontendPort, _ := devserver.FreePorts(b)
	srv := startServer(b, devserver.Options{DataDir: b.TempDir(), FrontendPort: frontendPort, Logger: serverLogger()})
	b.Cleanup(func() { require.NoError(b, srv.Stop()) })
	c := dial(b, srv, devserver.DefaultNamespace)
	defer c.Close()
	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflow(noopWorkflow)
	require.NoError(b, w.Start())
	defer w.Stop()

	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(8) // 8 x GOMAXPROCS (2 here) callers
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("bench-%d", n.Add(1))
			if _, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: taskQueue}, noopWorkflow); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "starts/s")
}
