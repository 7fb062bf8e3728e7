package cli

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/urfave/cli/v2"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/mahavishnu/mahavishnu/api"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/worker"
)

// replayResult is one history replayed against this binary's workflow code.
type replayResult struct {
	WorkflowID string `json:"workflow_id,omitempty"`
	RunID      string `json:"run_id,omitempty"`
	File       string `json:"file,omitempty"`
	Events     int    `json:"events,omitempty"`
	Compatible bool   `json:"compatible"`
	Mismatch   string `json:"mismatch,omitempty"`
}

func replayCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "replay",
		Usage: "replay recorded incident histories against this binary's response procedure",
		Description: "Fetches the histories of incident workflows (running and closed) from the configured\n" +
			"Temporal server, or reads one from --file, and replays them against the workflow code in\n" +
			"this binary. Each is reported compatible or not, with the first mismatch: test a new\n" +
			"response procedure against real incidents before deploying it. Exits 1 on any mismatch.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "since", Value: "7d", Usage: "incidents started since: 10m, 2h, 7d or an RFC 3339 time"},
			&cli.StringFlag{Name: "workflow-id", Usage: "replay only this workflow (its latest run)"},
			&cli.StringSliceFlag{Name: "file", Usage: "replay a history exported as JSON (repeatable); no server needed"},
			outputFlag(),
		},
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c)
			if err != nil {
				return err
			}
			quiet := sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
			replay := func() sdkworker.WorkflowReplayer {
				rp := sdkworker.NewWorkflowReplayer()
				worker.RegisterWorkflows(rp)
				return rp
			}
			var results []replayResult
			if files := c.StringSlice("file"); len(files) > 0 {
				for _, f := range files {
					res := replayResult{File: f, Compatible: true}
					if err := replay().ReplayWorkflowHistoryFromJSONFile(quiet, f); err != nil {
						res.Compatible, res.Mismatch = false, err.Error()
					}
					results = append(results, res)
				}
			} else {
				if results, err = r.replayFromServer(c, replay, quiet); err != nil {
					return err
				}
			}
			bad := 0
			for _, res := range results {
				if !res.Compatible {
					bad++
				}
			}
			if format == outputJSON {
				if results == nil {
					results = []replayResult{}
				}
				if err := writeJSON(c.App.Writer, results); err != nil {
					return err
				}
			} else {
				tw := newTable(c.App.Writer)
				fmt.Fprintln(tw, "HISTORY\tEVENTS\tRESULT")
				for _, res := range results {
					name := res.File
					if name == "" {
						name = res.WorkflowID + " " + res.RunID
					}
					result := "compatible"
					if !res.Compatible {
						result = "INCOMPATIBLE: " + res.Mismatch
					}
					fmt.Fprintf(tw, "%s\t%d\t%s\n", name, res.Events, result)
				}
				_ = tw.Flush()
				fmt.Fprintf(c.App.Writer, "%d replayed, %d compatible, %d incompatible\n", len(results), len(results)-bad, bad)
			}
			if bad > 0 {
				return cli.Exit("", 1)
			}
			return nil
		},
	}
}

func (r *runtime) replayFromServer(c *cli.Context, replay func() sdkworker.WorkflowReplayer, logger sdklog.Logger) ([]replayResult, error) {
	tc, err := r.Client(c.Context)
	if err != nil {
		return nil, err
	}
	type execution struct{ id, run string }
	var execs []execution
	if id := c.String("workflow-id"); id != "" {
		execs = append(execs, execution{id: id})
	} else {
		since, err := api.ParseSince(c.String("since"), time.Now())
		if err != nil {
			return nil, fmt.Errorf("--since: %w", err)
		}
		query := fmt.Sprintf("WorkflowType = '%s' AND StartTime > '%s'", schemas.IncidentWorkflowType, since.Format(time.RFC3339))
		var token []byte
		for {
			resp, err := tc.ListWorkflow(c.Context, &workflowservice.ListWorkflowExecutionsRequest{
				Namespace: r.cfg.Temporal.Namespace, Query: query, NextPageToken: token,
			})
			if err != nil {
				return nil, fmt.Errorf("list incident workflows: %w", err)
			}
			for _, ex := range resp.Executions {
				execs = append(execs, execution{id: ex.Execution.WorkflowId, run: ex.Execution.RunId})
			}
			if token = resp.NextPageToken; len(token) == 0 {
				break
			}
		}
	}
	results := make([]replayResult, 0, len(execs))
	for _, ex := range execs {
		var history historypb.History
		iter := tc.GetWorkflowHistory(c.Context, ex.id, ex.run, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				return nil, fmt.Errorf("history of %s: %w", ex.id, err)
			}
			history.Events = append(history.Events, ev)
		}
		res := replayResult{WorkflowID: ex.id, RunID: ex.run, Events: len(history.Events), Compatible: true}
		if err := replay().ReplayWorkflowHistory(logger, &history); err != nil {
			res.Compatible, res.Mismatch = false, err.Error()
		}
		results = append(results, res)
	}
	return results, nil
}
