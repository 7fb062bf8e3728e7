package api

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// readEvent reads the stream up to the next "change" event and returns its data.
func readEvent(t *testing.T, sc *bufio.Scanner) string {
	t.Helper()
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "event: change":
			event = "change"
		case strings.HasPrefix(line, "data: ") && event == "change":
			return strings.TrimPrefix(line, "data: ")
		}
	}
	t.Fatalf("stream ended: %v", sc.Err())
	return ""
}

func TestLiveStreamSendsChanges(t *testing.T) {
	e := newDashEnv(t, "")
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	page := e.get(t, "/", http.StatusOK)
	m := regexp.MustCompile(`data-live="(/live\?stamp=[^"]+)"`).FindStringSubmatch(page)
	require.NotNil(t, m, "the page names its live stream")
	require.Contains(t, e.get(t, "/incidents/"+incAPI, http.StatusOK), `data-live="/live?stamp=`)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a bound for hangs only
	defer cancel()
	open := func(path string) *bufio.Scanner {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+strings.ReplaceAll(path, "&amp;", "&"), nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
		return bufio.NewScanner(resp.Body)
	}

	stale := open("/live?stamp=stale")
	first := readEvent(t, stale)
	require.NotEqual(t, "stale", first, "a page older than the store is told at once")

	sc := open(m[1])
	require.NoError(t, e.st.AddTimeline(ctx, schemas.TimelineEntry{IncidentID: incAPI, At: time.Now().UTC(),
		Kind: schemas.TimelineAcknowledged, Actor: "zoe", Message: "Acknowledged by zoe", Key: "ack-live"}))
	got := readEvent(t, sc)
	require.NotEqual(t, strings.TrimPrefix(m[1], "/live?stamp="), got)
	require.Equal(t, got, readEvent(t, stale), "every subscriber hears of it")
}
