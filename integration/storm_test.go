package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestStormSurvivesKill9 posts a storm of 8,000 "error" events from 50 sources (every batch
// of 50 touches all 50 incidents) over 8 concurrent clients into the embedded default,
// and kills the manager with SIGKILL five times during it, restarting it on the same data
// directory each time. Clients retry on connection errors with the same event IDs.
// Afterwards: every acknowledged event is stored; within 5 s of the storm's end every
// matching event after its incident opened is attached, and each incident's event_count
// equals its attached events; no fingerprint has two active incidents; and no remediation
// action ran twice (each safe action of each incident ran at most once, as attempt 1, as
// the files its command creates show).
func TestStormSurvivesKill9(t *testing.T) {
	const (
		sources   = 50
		perSource = 160 // 8,000 events
		batchSize = 50
		clients   = 8
		kills     = 5
	)
	mktemp, err := exec.LookPath("mktemp")
	require.NoError(t, err)
	ranDir := t.TempDir()
	// The safe actions of error_burst run for real: each run creates one file, so a run
	// repeated after a crash leaves two.
	e := newEnv(t, fmt.Sprintf(`  remediation:
    actions:
      clear_cache:
        command:
          argv: [%q, "%s/clear_cache.{{.IncidentID}}.XXXXXX"]
      scale_up:
        command:
          argv: [%q, "%s/scale_up.{{.IncidentID}}.XXXXXX"]
`, mktemp, ranDir, mktemp, ranDir))

	srcNames := make([]string, sources)
	srcSet := map[string]bool{}
	for i := range srcNames {
		srcNames[i] = fmt.Sprintf("storm-svc-%02d", i)
		srcSet[srcNames[i]] = true
	}
	// Batch b holds event b of every source, so every batch touches every incident.
	var batches [][]testEvent
	perSrc := make([][]testEvent, sources)
	for i, src := range srcNames {
		perSrc[i] = errorEvents("storm", src, perSource)
	}
	var all []testEvent
	for n := 0; n < perSource; n++ {
		for i := range srcNames {
			all = append(all, perSrc[i][n])
		}
	}
	for i := 0; i < len(all); i += batchSize {
		batches = append(batches, all[i:min(i+batchSize, len(all))])
	}
	total := len(all)

	start := func(run int) *child {
		return startManagerChild(t, fmt.Sprintf("manager run %d", run), e.configPath, e.apiAddr, nil, "")
	}
	m := start(1)

	ic := newIngestClient()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	work := make(chan []testEvent)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	addr := func() string { return e.apiAddr }
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				if err := ic.post(ctx, addr, b); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}()
	}
	feedDone := make(chan struct{})
	go func() {
		defer close(feedDone)
		for _, b := range batches {
			select {
			case work <- b:
			case <-ctx.Done():
				return
			}
		}
	}()

	// Kill at 1/6, 2/6, ... 5/6 of the storm: the clients stall while the manager is down,
	// so every kill lands during the storm.
	stormStart := time.Now()
	for k := 1; k <= kills; k++ {
		threshold := total * k / (kills + 1)
		for ic.count() < threshold && ctx.Err() == nil {
			time.Sleep(2 * time.Millisecond)
		}
		require.NoError(t, ctx.Err(), "storm stalled before kill %d at %d of %d events acknowledged", k, ic.count(), total)
		require.Less(t, ic.count(), total, "the storm ended before kill %d", k)
		m.kill()
		t.Logf("kill -9 %d at %d/%d events acknowledged (%.1fs into the storm)", k, ic.count(), total, time.Since(stormStart).Seconds())
		m = start(k + 1)
	}
	<-feedDone
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	acked := ic.acceptedIDs()
	require.Len(t, acked, total, "every event of the storm acknowledged")
	stormEnd := ic.last202
	t.Logf("storm: %d events in %d batches, %.1fs, %d retried requests", total, len(batches), stormEnd.Sub(stormStart).Seconds(), ic.retries.Load())

	db := openSQLiteStore(t, filepath.Join(e.dir, "incidents.db"))

	// Every acknowledged event is stored.
	stored := map[string]storedEvent{}
	for _, ev := range db.mustEvents(t) {
		stored[ev.ID] = ev
	}
	var lost []string
	for id := range acked {
		if _, ok := stored[id]; !ok {
			lost = append(lost, id)
		}
	}
	sort.Strings(lost)
	require.Empty(t, lost, "%d acknowledged events are not in the store", len(lost))

	// Within 5 s of the storm's end, every matching event after its incident opened is
	// attached, and each incident counted each of its events once.
	report := "not checked"
	for {
		evs, errE := db.events(ctx)
		incs, errI := db.incidents(ctx)
		if errE == nil && errI == nil {
			if report = attachReport(evs, incs, srcSet, false); report == "" {
				break
			}
		} else {
			report = fmt.Sprintf("read store: %v %v", errE, errI)
		}
		if time.Since(stormEnd) > 5*time.Second {
			t.Fatalf("5s after the storm: %s", report)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("all matching events attached %.1fs after the storm's end", time.Since(stormEnd).Seconds())
	incs := db.mustIncidents(t)
	require.Empty(t, activeTwice(incs), "fingerprints with two active incidents")
	unattached := 0
	for _, ev := range db.mustEvents(t) {
		if srcSet[ev.Source] && ev.IncidentID == "" {
			unattached++
		}
	}
	t.Logf("%d incidents; %d events before an incident opened stay unattached", len(incs), unattached)

	// Every incident's workflow starts, and its safe actions run: once each.
	byID := map[string]storedIncident{}
	for _, inc := range incs {
		byID[inc.ID] = inc
	}
	// An activity cut off by a kill is retried after its 1-minute start-to-close timeout,
	// so this can take a minute after the last kill, and more when a workflow had two steps
	// in flight on killed processes (once seen: 99 of 100 runs after 2 minutes). The bound
	// is for liveness (nothing lost), not speed.
	eventually(t, 240*time.Second, "every storm incident's workflow to run clear_cache and scale_up", func() bool {
		incs, err := db.incidents(ctx)
		if err != nil {
			return false
		}
		acts, err := db.actions(ctx)
		if err != nil {
			return false
		}
		have := map[string]int{}
		for _, a := range acts {
			if a.Action == "clear_cache" || a.Action == "scale_up" {
				have[a.IncidentID]++
			}
		}
		for _, inc := range incs {
			if srcSet[inc.Source] && (inc.RunID == "" || have[inc.ID] < 2) {
				return false
			}
		}
		return true
	}, func() string {
		incs, _ := db.incidents(ctx)
		acts, _ := db.actions(ctx)
		noRun := 0
		for _, inc := range incs {
			if inc.RunID == "" {
				noRun++
			}
		}
		return fmt.Sprintf("%d incidents, %d without run_id, %d action rows", len(incs), noRun, len(acts))
	})
	acts, err := db.actions(ctx)
	require.NoError(t, err)
	type runKey struct{ incident, action string }
	rows := map[runKey][]storedAction{}
	for _, a := range acts {
		k := runKey{a.IncidentID, a.Action}
		rows[k] = append(rows[k], a)
	}
	files, err := os.ReadDir(ranDir)
	require.NoError(t, err)
	ran := map[runKey]int{}
	for _, f := range files {
		parts := strings.Split(f.Name(), ".") // action.incident.XXXXXX
		require.Len(t, parts, 3, f.Name())
		ran[runKey{parts[1], parts[0]}]++
	}
	for k, n := range ran {
		require.Equal(t, 1, n, "%s ran %d times for %s", k.action, n, k.incident)
		require.Contains(t, rows, k, "%s ran for %s with no action record", k.action, k.incident)
	}
	for k, rs := range rows {
		seen := map[int]bool{}
		for _, a := range rs {
			require.False(t, seen[a.Attempt], "action %s of %s recorded twice as attempt %d", k.action, k.incident, a.Attempt)
			seen[a.Attempt] = true
			require.Equal(t, 1, a.Attempt, "action %s of %s: attempt %d without a human retry (%+v)", k.action, k.incident, a.Attempt, a)
		}
		if rs[0].Status == "succeeded" && (k.action == "clear_cache" || k.action == "scale_up") {
			require.Equal(t, 1, ran[k], "%s of %s succeeded but its command ran %d times", k.action, k.incident, ran[k])
		}
	}
	statuses := map[string]int{}
	for _, a := range acts {
		statuses[a.Status]++
	}
	// An action left "running" was cut off by a kill: it is never run again.
	t.Logf("%d action records %v, %d command runs, none repeated (%.1fs after the storm)", len(acts), statuses, len(files), time.Since(stormEnd).Seconds())

	require.Empty(t, activeTwice(db.mustIncidents(t)), "fingerprints with two active incidents")
	m.terminate(t, 30*time.Second)
}
