package detector

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// scenario is one of the quickstart's 15 scenarios: its symptom event, repeated.
type scenario struct {
	name     string
	typ      string
	source   string
	message  string
	wantRule string
	wantSev  schemas.Severity
	n        int // the rule's threshold
	window   time.Duration
}

// The symptom events of "15 Common Incident Scenarios", plus the variants the
// specialised rules claim from the general ones.
var scenarios = []scenario{
	{"1 api error burst", "api_error", "api", "POST /api/users returned 500", "error_burst", schemas.SeverityHigh, 10, 300 * time.Second},
	{"1 error burst (setup step 3)", "error", "api", "Test error 1", "error_burst", schemas.SeverityHigh, 10, 300 * time.Second},
	{"2 service down", "service_down", "auth_service", "", "service_down", schemas.SeverityCritical, 5, 60 * time.Second},
	{"2 service unavailable", "service_unavailable", "auth_service", "503", "service_down", schemas.SeverityCritical, 5, 60 * time.Second},
	{"3 memory exhaustion", "memory_high", "worker-1", "Memory at 95%", "memory_exhaustion", schemas.SeverityCritical, 3, 120 * time.Second},
	{"4 database error", "database_error", "orders", "Connection pool exhausted", "database_failure", schemas.SeverityCritical, 5, 60 * time.Second},
	{"4 service down with database source", "service_down", "postgres-primary", "", "database_failure", schemas.SeverityCritical, 5, 60 * time.Second},
	{"4 errors from a db source", "error", "orders-db", "query failed", "database_failure", schemas.SeverityCritical, 5, 60 * time.Second},
	{"5 cache error", "cache_error", "api", "Redis connection refused", "cache_failure", schemas.SeverityHigh, 5, 300 * time.Second},
	{"5 errors mentioning redis", "error", "api", "Redis connection refused", "cache_failure", schemas.SeverityHigh, 5, 300 * time.Second},
	{"5 errors from memcached", "api_error", "memcached-2", "get failed", "cache_failure", schemas.SeverityHigh, 5, 300 * time.Second},
	{"6 performance degradation", "slow_request", "api", "Request took 5.2s", "performance_degradation", schemas.SeverityMedium, 10, 300 * time.Second},
	{"7 disk low", "disk_low", "host-7", "Disk at 92%", "disk_space_low", schemas.SeverityHigh, 3, 300 * time.Second},
	{"7 disk space low", "disk_space_low", "host-7", "Disk at 92%", "disk_space_low", schemas.SeverityHigh, 3, 300 * time.Second},
	{"8 workflow failure spike", "workflow_failed", "etl", "ETL pipeline failed", "workflow_failure_spike", schemas.SeverityHigh, 8, 300 * time.Second},
	{"9 quality drop", "quality_failed", "ci", "Coverage dropped to 72%", "quality_drop", schemas.SeverityMedium, 5, 600 * time.Second},
	{"9 quality check failed", "quality_check_failed", "ci", "lint failed", "quality_drop", schemas.SeverityMedium, 5, 600 * time.Second},
	{"10 network error", "network_error", "payments", "Connection refused", "network_partition", schemas.SeverityCritical, 5, 60 * time.Second},
	{"10 service down with network cause", "service_down", "payments", "dial tcp: connection refused", "network_partition", schemas.SeverityCritical, 5, 60 * time.Second},
	{"11 zombie processes", "resource_leak", "worker-3", "High process count", "resource_leak", schemas.SeverityMedium, 3, 300 * time.Second},
	{"12 rate limit", "rate_limit", "github-client", "Rate limit exceeded", "rate_limit", schemas.SeverityMedium, 10, 300 * time.Second},
	{"12 errors with 429", "api_error", "github-client", "upstream returned 429 Too Many Requests", "rate_limit", schemas.SeverityMedium, 10, 300 * time.Second},
	{"13 ssl error", "ssl_error", "api", "Certificate expired", "ssl_expiry", schemas.SeverityCritical, 1, 60 * time.Second},
	{"13 service down with tls error", "service_down", "api", "TLS handshake failed: x509: certificate has expired", "ssl_expiry", schemas.SeverityCritical, 1, 60 * time.Second},
	{"13 db source with certificate error", "error", "postgres", "certificate verify failed", "ssl_expiry", schemas.SeverityCritical, 1, 60 * time.Second},
	{"14 deadlock", "deadlock", "orders-db", "Database deadlock detected", "deadlock", schemas.SeverityHigh, 1, 60 * time.Second},
	{"15 security breach", "security_breach", "gateway", "Unauthorized access detected", "security_breach", schemas.SeverityCritical, 1, 60 * time.Second},
}

func TestScenariosOpenExactlyOneIncident(t *testing.T) {
	covered := map[string]bool{}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			d := newDetector(t, schemas.DefaultRules(), Options{})
			events := series("e", sc.n, time.Second, sc.typ, sc.source, sc.message)
			got := feed(d, events)
			require.Len(t, got, 1, "actions: %+v", got)
			a := got[0]
			require.Equal(t, ActionOpen, a.Kind)
			require.Equal(t, sc.wantRule, a.Rule.ID)
			require.Equal(t, sc.wantRule, a.Rule.IncidentType)
			require.Equal(t, sc.wantSev, a.Severity)
			require.Equal(t, sc.source, a.GroupKey)
			require.Equal(t, schemas.Fingerprint(sc.wantRule, sc.source), a.Fingerprint)
			require.Equal(t, ids(events), a.Events.EventIDs)
			require.Equal(t, []string{sc.source}, a.Events.Components)
			require.Equal(t, events[0].Timestamp, a.Events.FirstAt)
			require.Equal(t, events[sc.n-1].Timestamp, a.Events.LastAt)
			require.Equal(t, schemas.SeverityMedium, a.Events.Severity)
			require.Equal(t, sc.window, a.Rule.Window())
		})
		covered[sc.wantRule] = true
	}
	require.Len(t, covered, 15, "every default rule has a scenario")
}

func TestScenarioNearMissesOpenNothing(t *testing.T) {
	for _, sc := range scenarios {
		cases := map[string][]schemas.Event{
			"threshold minus one": series("e", sc.n-1, time.Second, sc.typ, sc.source, sc.message),
		}
		if sc.n > 1 {
			// n events whose span is a full window: never n of them within the window.
			step := (sc.window + time.Duration(sc.n-2)) / time.Duration(sc.n-1)
			cases["spread wider than the window"] = series("e", sc.n, step, sc.typ, sc.source, sc.message)
			split := series("e", sc.n, time.Second, sc.typ, sc.source, sc.message)
			for i := 1; i < len(split); i += 2 {
				split[i].Source += "-b"
				split[i].Component = split[i].Source
			}
			cases["split over two sources"] = split
		}
		for name, events := range cases {
			t.Run(sc.name+"/"+name, func(t *testing.T) {
				d := newDetector(t, schemas.DefaultRules(), Options{})
				require.Empty(t, feed(d, events))
			})
		}
	}
}

func TestClaims(t *testing.T) {
	t.Run("cache errors open cache_failure only, then attach", func(t *testing.T) {
		d := newDetector(t, schemas.DefaultRules(), Options{})
		got := feed(d, series("e", 12, time.Second, "error", "api", "redis: connection refused"))
		opens := ofKind(got, ActionOpen)
		require.Len(t, opens, 1)
		require.Equal(t, "cache_failure", opens[0].Rule.ID)
		require.Len(t, ofKind(got, ActionAttach), 7)
		for _, a := range got {
			require.Equal(t, "cache_failure", a.Rule.ID)
		}
	})
	t.Run("claimed events do not count toward error_burst", func(t *testing.T) {
		d := newDetector(t, schemas.DefaultRules(), Options{})
		events := append(series("plain", 9, time.Second, "error", "api", "boom"),
			series("rl", 4, time.Second, "api_error", "api", "HTTP 429")...)
		require.Empty(t, feed(d, events))
	})
	t.Run("a disabled claimer claims nothing", func(t *testing.T) {
		rules := schemas.DefaultRules()
		ruleByID(t, rules, "cache_failure").Enabled = false
		d := newDetector(t, rules, Options{})
		got := feed(d, series("e", 10, time.Second, "error", "api", "Redis connection refused"))
		require.Len(t, got, 1)
		require.Equal(t, "error_burst", got[0].Rule.ID)
	})
	t.Run("database claims service down from a db source", func(t *testing.T) {
		d := newDetector(t, schemas.DefaultRules(), Options{})
		got := feed(d, series("e", 5, time.Second, "service_down", "mysql-1", "connection refused"))
		require.Len(t, got, 1)
		require.Equal(t, "database_failure", got[0].Rule.ID)
	})
	t.Run("keyword anchors: feedback is not a db", func(t *testing.T) {
		d := newDetector(t, schemas.DefaultRules(), Options{})
		got := feed(d, series("e", 10, time.Second, "error", "feedback", "boom"))
		require.Len(t, got, 1)
		require.Equal(t, "error_burst", got[0].Rule.ID)
		got = feed(d, series("db", 5, time.Second, "error", "db", "boom"))
		require.Len(t, got, 1)
		require.Equal(t, "database_failure", got[0].Rule.ID)
	})
}

func TestAttachAfterOpenAndClosedResets(t *testing.T) {
	d := newDetector(t, schemas.DefaultRules(), Options{})
	events := series("e", 12, time.Second, "service_down", "auth_service", "")
	got := feed(d, events[:5])
	require.Len(t, got, 1)
	fp := got[0].Fingerprint

	events[5].Severity = schemas.SeverityLow
	got = feed(d, events[5:7])
	require.Len(t, got, 2)
	for i, a := range got {
		require.Equal(t, ActionAttach, a.Kind)
		require.Equal(t, fp, a.Fingerprint)
		require.Equal(t, []string{events[5+i].EventID}, a.Events.EventIDs)
		require.Equal(t, events[5+i].Timestamp, a.Events.FirstAt)
		require.Equal(t, schemas.SeverityCritical, a.Severity)
	}
	require.Equal(t, schemas.SeverityLow, got[0].Events.Severity)

	d.Closed(fp)
	require.Empty(t, feed(d, events[7:11]), "counting starts from zero after Closed")
	got = feed(d, events[11:12])
	require.Len(t, got, 1)
	require.Equal(t, ActionOpen, got[0].Kind)
	require.Equal(t, ids(events[7:12]), got[0].Events.EventIDs)
}

func TestOpenedAttachesAndClearsWindow(t *testing.T) {
	d := newDetector(t, schemas.DefaultRules(), Options{})
	events := series("e", 6, time.Second, "memory_high", "w1", "Memory at 95%")
	require.Empty(t, feed(d, events[:2]))
	fp := schemas.Fingerprint("memory_exhaustion", "w1")
	d.Opened(fp)
	require.Zero(t, d.Stats().HeldEvents)
	got := feed(d, events[2:3])
	require.Len(t, got, 1)
	require.Equal(t, ActionAttach, got[0].Kind)

	// Opened before any window exists, e.g. at start-up.
	d2 := newDetector(t, schemas.DefaultRules(), Options{})
	d2.Opened(fp)
	require.Equal(t, 1, d2.Stats().OpenFingerprints)
	got = feed(d2, events[:1])
	require.Len(t, got, 1)
	require.Equal(t, ActionAttach, got[0].Kind)
	d2.Closed(fp)
	require.Empty(t, feed(d2, events[1:3]))
	require.Len(t, feed(d2, events[3:4]), 1)
}

func TestSeverityRaisedNeverLowered(t *testing.T) {
	for _, tc := range []struct {
		name       string
		critical   int // index of the one critical event; -1 for none
		wantAction schemas.Severity
		wantEvents schemas.Severity
	}{
		{"one critical event raises high to critical", 3, schemas.SeverityCritical, schemas.SeverityCritical},
		{"low events do not lower high", -1, schemas.SeverityHigh, schemas.SeverityLow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDetector(t, schemas.DefaultRules(), Options{})
			events := series("e", 10, time.Second, "error", "api", "boom")
			for i := range events {
				events[i].Severity = schemas.SeverityLow
			}
			if tc.critical >= 0 {
				events[tc.critical].Severity = schemas.SeverityCritical
			}
			got := feed(d, events)
			require.Len(t, got, 1)
			require.Equal(t, "error_burst", got[0].Rule.ID)
			require.Equal(t, tc.wantAction, got[0].Severity)
			require.Equal(t, tc.wantEvents, got[0].Events.Severity)
		})
	}
}

func TestEveryDefaultRuleIsDistinctlyReachable(t *testing.T) {
	// One detector, all scenarios from distinct sources at once: each opens its own rule.
	d := newDetector(t, schemas.DefaultRules(), Options{})
	var out []Action
	for si, sc := range scenarios {
		src := fmt.Sprintf("%s-%d", sc.source, si)
		for _, e := range series(fmt.Sprintf("s%d", si), sc.n, time.Second, sc.typ, src, sc.message) {
			out = d.Observe(&e, out)
		}
	}
	require.Len(t, out, len(scenarios))
	for i, a := range out {
		require.Equal(t, ActionOpen, a.Kind)
		require.Equal(t, scenarios[i].wantRule, a.Rule.ID, scenarios[i].name)
	}
}
