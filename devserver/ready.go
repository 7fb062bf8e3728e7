package devserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	"github.com/temporalio/ui-server/v2/server/server_options"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
)

// attemptTimeout bounds one readiness probe.
const attemptTimeout = 5 * time.Second

// permanentError stops retry: waiting longer will not help.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }

// retry calls attempt until it succeeds, returns a permanentError, or ctx ends.
func retry(ctx context.Context, what string, attempt func(context.Context) error) error {
	delay := 20 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		err := attempt(actx)
		cancel()
		if err == nil {
			return nil
		}
		var perm permanentError
		if errors.As(err, &perm) {
			return fmt.Errorf("%s: %w", what, perm.err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last error: %w)", what, ctx.Err(), err)
		case <-time.After(delay):
		}
		delay = min(2*delay, 500*time.Millisecond)
	}
}

// awaitReady waits until the frontend answers, the namespace is served and the search
// attributes are registered (adding them when the namespace predates them).
func (s *Server) awaitReady(ctx context.Context) error {
	ns := s.opts.Namespace
	var c client.Client
	err := retry(ctx, "embedded Temporal frontend "+s.frontend, func(ctx context.Context) error {
		var err error
		c, err = client.DialContext(ctx, client.Options{
			HostPort:  s.frontend,
			Namespace: ns,
			Logger:    sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
		})
		return err
	})
	if err != nil {
		return err
	}
	defer c.Close()

	err = retry(ctx, fmt.Sprintf("temporal namespace %q", ns), func(ctx context.Context) error {
		_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
		return err
	})
	if err != nil {
		return err
	}
	return ensureSearchAttributes(ctx, c, ns)
}

// ensureSearchAttributes registers the missing ones of SearchAttributes on ns and waits
// until the frontend lists all of them.
func ensureSearchAttributes(ctx context.Context, c client.Client, ns string) error {
	added := false
	return retry(ctx, fmt.Sprintf("temporal namespace %q: search attributes", ns), func(ctx context.Context) error {
		resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
		if err != nil {
			return err
		}
		missing := map[string]enumspb.IndexedValueType{}
		for name, want := range SearchAttributes {
			got, ok := resp.GetCustomAttributes()[name]
			switch {
			case !ok:
				missing[name] = want
			case got != want:
				return permanentError{fmt.Errorf("%s is registered as %s, want %s", name, got, want)}
			}
		}
		if len(missing) == 0 {
			return nil
		}
		if !added {
			_, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
				Namespace:        ns,
				SearchAttributes: missing,
			})
			var exists *serviceerror.AlreadyExists
			if err != nil && !errors.As(err, &exists) {
				return err
			}
			added = true
		}
		return fmt.Errorf("%v not listed yet", slices.Sorted(maps.Keys(missing)))
	})
}

// startUI starts the Web UI in a goroutine and waits until it serves its index page.
func (s *Server) startUI(ctx context.Context) error {
	o := s.opts
	s.uiURL = "http://" + net.JoinHostPort(dialHost(o.Host), strconv.Itoa(o.UIPort))
	s.ui = uiserver.NewServer(server_options.WithConfigProvider(&uiconfig.Config{
		TemporalGRPCAddress: s.frontend,
		Host:                o.Host,
		Port:                o.UIPort,
		EnableUI:            true,
		DefaultNamespace:    o.Namespace,
		HideLogs:            true,
		DisableNewsFetch:    true,
		// Plain HTTP on this machine: the CSRF cookie must not require HTTPS.
		CORS: uiconfig.CORS{CookieInsecure: true},
	}))
	s.uiDone = make(chan struct{})
	go func() {
		defer close(s.uiDone)
		// Start blocks until Stop; it exits the process if it cannot listen, which
		// checkPorts makes unlikely by testing the port first.
		_ = s.ui.Start()
	}()

	hc := &http.Client{}
	return retry(ctx, "temporal Web UI "+s.uiURL+" (temporal.embedded.ui_port)", func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.uiURL+"/", nil)
		if err != nil {
			return permanentError{err}
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET / answered %s", resp.Status)
		}
		return nil
	})
}
