package integration

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestClusterRoles runs cluster mode for real: PostgreSQL (a schema of its own), a
// separately started `mahavishnu temporal serve`, and six managers: two --role api, two
// --role detector, two --role worker, each health-checked on its own port. Bursts from
// six sources, spread over both API processes, open exactly one incident per source. The
// active detector is killed with SIGKILL mid-burst: the standby takes over within 10 s
// and no event is lost or counted twice (every event is attached exactly once and each
// incident's event_count equals its attached events). Then one worker is killed while an
// incident waits in Remediate, and resolving it through the CLI still completes it: it
// reaches resolved and gets its post-mortem.
func TestClusterRoles(t *testing.T) {
	const (
		nSources  = 6
		perSource = 60
		batchSize = 5
		clients   = 4
	)
	dsn, db := newPostgresSchema(t, "it_cluster") // dropped after the processes are gone
	tdir := t.TempDir()
	port := freePortRange(t, 4)
	temporalAddr := fmt.Sprintf("127.0.0.1:%d", port)
	startTemporalServe(t, tdir, port, 0)

	env := []string{"INCIDENT_DATABASE_URL=" + dsn}
	configs := map[string]string{}
	spawnRole := func(name, role string) *child {
		dir := t.TempDir()
		apiAddr := fmt.Sprintf("127.0.0.1:%d", freePortRange(t, 1))
		cfg := clusterConfig(t, dir, apiAddr, temporalAddr, "")
		configs[name] = cfg
		return spawnManager(t, name, cfg, apiAddr, env, role)
	}
	procs := map[string]*child{}
	names := []string{"api-1", "api-2", "detector-1", "detector-2", "worker-1", "worker-2"}
	for _, name := range names {
		procs[name] = spawnRole(name, strings.Split(name, "-")[0])
	}
	for _, name := range names {
		procs[name].waitAnswering(t)
	}
	for _, name := range names {
		code, h, err := getHealthz(procs[name].apiAddr, time.Second)
		require.NoError(t, err, name)
		require.Equal(t, http.StatusOK, code, "%s: %s", name, h)
		require.Equal(t, []string{strings.Split(name, "-")[0]}, h.Manager.Roles, "%s: %s", name, h)
	}
	apis := []*child{procs["api-1"], procs["api-2"]}
	detectors := []*child{procs["detector-1"], procs["detector-2"]}

	// Exactly one detector is active.
	activeDetector := func() (*child, string) {
		var act []*child
		var seen []string
		for _, d := range detectors {
			if d.exited() {
				continue
			}
			_, h, err := getHealthz(d.apiAddr, time.Second)
			if err != nil {
				seen = append(seen, d.name+": "+err.Error())
				continue
			}
			seen = append(seen, fmt.Sprintf("%s: active=%v cursor=%d", d.name, h.Detector.Active, h.Detector.Cursor))
			if h.Detector.Active {
				act = append(act, d)
			}
		}
		if len(act) != 1 {
			return nil, strings.Join(seen, "; ")
		}
		return act[0], strings.Join(seen, "; ")
	}
	var leader *child
	var seen string
	eventually(t, 15*time.Second, "exactly one active detector", func() bool {
		leader, seen = activeDetector()
		return leader != nil
	}, func() string { return seen })
	for _, a := range apis {
		_, h, err := getHealthz(a.apiAddr, time.Second)
		require.NoError(t, err)
		require.False(t, h.Detector.Active, "%s runs no detector: %s", a.name, h)
	}

	// The bursts: batch i carries batchSize events of source i%nSources and goes to API
	// (i/nSources)%2, so each source's events reach both API processes.
	sources := map[string]bool{}
	var perSrc [][]testEvent
	for s := range nSources {
		src := fmt.Sprintf("cluster-svc-%d", s)
		sources[src] = true
		perSrc = append(perSrc, errorEvents("cluster", src, perSource))
	}
	type job struct {
		api   *child
		batch []testEvent
	}
	var jobs []job
	for i := 0; i < nSources*perSource/batchSize; i++ {
		s, n := i%nSources, i/nSources
		jobs = append(jobs, job{api: apis[n%2], batch: perSrc[s][n*batchSize : (n+1)*batchSize]})
	}
	total := nSources * perSource

	ic := newIngestClient()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	work := make(chan job)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				if err := ic.post(ctx, func() string { return j.api.apiAddr }, j.batch); err != nil {
					errs <- err
					cancel()
					return
				}
				sleepCtx(ctx, 10*time.Millisecond) // a burst that lasts long enough to kill into
			}
		}()
	}
	go func() {
		defer close(work)
		for _, j := range jobs {
			select {
			case work <- j:
			case <-ctx.Done():
				return
			}
		}
	}()

	// Kill the active detector mid-burst; the standby takes over within 10 s.
	for ic.count() < total/2 && ctx.Err() == nil {
		time.Sleep(2 * time.Millisecond)
	}
	require.NoError(t, ctx.Err())
	require.Less(t, ic.count(), total, "the burst ended before the detector could be killed")
	leader.kill()
	killedAt := time.Now()
	t.Logf("kill -9 %s at %d/%d events acknowledged", leader.name, ic.count(), total)
	var standby *child
	for _, d := range detectors {
		if d != leader {
			standby = d
		}
	}
	var took time.Duration
	eventually(t, 10*time.Second, "the standby detector to take over", func() bool {
		d, s := activeDetector()
		seen = s
		if d == standby {
			took = time.Since(killedAt)
			return true
		}
		return false
	}, func() string { return seen })
	t.Logf("%s took over %.1fs after the kill", standby.name, took.Seconds())

	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, ic.acceptedIDs(), total)
	burstEnd := ic.last202

	// No event lost or counted twice: every acknowledged event is stored, every event of
	// the bursts is attached exactly once to its source's one incident, and event_count
	// matches.
	stored := map[string]bool{}
	for _, ev := range db.mustEvents(t) {
		stored[ev.ID] = true
	}
	for id := range ic.acceptedIDs() {
		require.True(t, stored[id], "acknowledged event %s is not in the store", id)
	}
	report := "not checked"
	eventually(t, 30*time.Second, "every event attached once, one incident per source", func() bool {
		evs, err1 := db.events(ctx)
		incs, err2 := db.incidents(ctx)
		if err1 != nil || err2 != nil {
			report = fmt.Sprintf("%v %v", err1, err2)
			return false
		}
		report = attachReport(evs, incs, sources, true)
		return report == ""
	}, func() string { return report })
	t.Logf("all %d events attached %.1fs after the burst's end", total, time.Since(burstEnd).Seconds())
	incs := db.mustIncidents(t)
	require.Empty(t, activeTwice(incs))
	require.Len(t, incs, nSources, "exactly one incident per source, and no other")

	// Every incident's workflow starts.
	eventually(t, 30*time.Second, "every incident's workflow to start", func() bool {
		for _, inc := range db.mustIncidents(t) {
			if inc.RunID == "" {
				return false
			}
		}
		return true
	})

	// Kill one worker while an incident waits in Remediate (restart_service needs an
	// approval); resolving it through the CLI completes it on the other worker.
	target := "cluster-svc-0"
	var inc storedIncident
	eventually(t, 60*time.Second, "the "+target+" incident to reach remediating", func() bool {
		for _, i := range db.mustIncidents(t) {
			if i.Source == target {
				inc = i
			}
		}
		return inc.Status == "remediating"
	}, func() string { return fmt.Sprintf("%+v", inc) })
	procs["worker-1"].kill()
	t.Logf("kill -9 worker-1 with %s in %s", inc.ID, inc.Status)

	bin, err := buildBinary()
	require.NoError(t, err)
	cmd := exec.CommandContext(ctx, bin, "--config", configs["api-2"], "incidents", "resolve", inc.ID, "--by", "alice", "--notes", "x")
	cmd.Env = childEnv(append(env, "MAHAVISHNU_API_LISTEN="+apis[1].apiAddr))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "incidents resolve: %s", out)
	require.Contains(t, string(out), "resolved by alice")

	eventually(t, 60*time.Second, "the incident to be resolved with its post-mortem", func() bool {
		var st string
		var pm int
		err := db.db.QueryRowContext(ctx, "SELECT status, (SELECT count(*) FROM "+db.table("postmortems")+" WHERE incident_id = $1) FROM "+
			db.table("incidents")+" WHERE incident_id = $1", inc.ID).Scan(&st, &pm)
		return err == nil && st == "resolved" && pm == 1
	})
	for _, i := range db.mustIncidents(t) {
		if i.ID != inc.ID {
			require.True(t, active(i.Status), "%s is still open: %+v", i.ID, i)
		}
	}
	require.Empty(t, activeTwice(db.mustIncidents(t)))

	// The survivors stop cleanly.
	for _, name := range names {
		if p := procs[name]; !p.exited() {
			p.terminate(t, 30*time.Second)
		}
	}
}
