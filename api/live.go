package api

import (
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Live updates of the dashboard (issue 12): GET /live is a Server-Sent Events stream that
// sends a "change" event whenever the incidents change (manager.Changes). The page's
// script (static/dashboard.js) then fetches the same URL again (so the filters hold) and
// swaps the page's content in place, keeping the scroll position and what has focus.

// liveHeartbeat keeps proxies from closing an idle stream.
const liveHeartbeat = 25 * time.Second

// liveURL is the stream's address for a page rendered at stamp ("" without live updates).
func (d *Dashboard) liveURL(r *http.Request) string {
	if d.deps.Changes == nil || d.deps.Stamp == nil {
		return ""
	}
	stamp, err := d.deps.Stamp(r.Context())
	if err != nil {
		d.log.Warn("live updates: change stamp", "error", err)
		return ""
	}
	return "/live?stamp=" + url.QueryEscape(stamp)
}

func (d *Dashboard) live(w http.ResponseWriter, r *http.Request) error {
	if d.deps.Changes == nil || d.deps.Stamp == nil {
		return &httpError{status: http.StatusNotFound, msg: "live updates need the manager in this process"}
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		return &httpError{status: http.StatusInternalServerError, msg: "streaming unsupported"}
	}
	ch, unsubscribe := d.deps.Changes()
	defer unsubscribe()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 3000\n\n")
	// A change between the page's rendering and this subscription is sent at once.
	if now, err := d.deps.Stamp(r.Context()); err == nil && now != r.URL.Query().Get("stamp") {
		fmt.Fprintf(w, "event: change\ndata: %s\n\n", now)
	}
	flusher.Flush()
	beat := time.NewTicker(liveHeartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case stamp := <-ch:
			fmt.Fprintf(w, "event: change\ndata: %s\n\n", stamp)
		case <-beat.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		}
		flusher.Flush()
	}
}
