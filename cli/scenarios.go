package cli

import (
	"fmt"
	"time"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// symptom is one realistic event of a scenario. component, when set, is part of the
// symptom (a database behind a service), so the event matches its rule whatever the
// source; otherwise the component is the source.
type symptom struct {
	eventType string
	component string
	message   string
	metadata  map[string]any
}

// scenario is what one of the quickstart's 15 incidents looks like from the outside: its
// usual source and the mix of events it produces, each of which matches the rule (a test
// checks it against the real detector).
type scenario struct {
	rule     string
	source   string
	symptoms []symptom
}

// scenarios are the quickstart's "15 Common Incident Scenarios", in its order.
var scenarios = []scenario{
	{"error_burst", "api", []symptom{
		{"error", "", "POST /api/users returned 500 Internal Server Error", map[string]any{"http_status": 500, "endpoint": "/api/users"}},
		{"api_error", "", "GET /api/orders timed out after 30s", map[string]any{"http_status": 504, "endpoint": "/api/orders"}},
		{"error", "", "PUT /api/cart/42 returned 502 Bad Gateway", map[string]any{"http_status": 502, "endpoint": "/api/cart"}},
	}},
	{"service_down", "auth_service", []symptom{
		{"service_down", "", "Health check failed: GET /healthz returned 503", map[string]any{"check": "http", "status": 503}},
		{"service_unavailable", "", "auth_service unavailable: 0 of 3 replicas ready", map[string]any{"ready_replicas": 0, "replicas": 3}},
		{"service_down", "", "Liveness probe failed: HTTP probe failed with statuscode: 500", map[string]any{"check": "liveness"}},
	}},
	{"memory_exhaustion", "worker-1", []symptom{
		{"memory_high", "", "Memory at 95% (7.6 GiB of 8 GiB)", map[string]any{"memory_percent": 95}},
		{"memory_high", "", "Memory at 97% (7.8 GiB of 8 GiB), OOM killer active", map[string]any{"memory_percent": 97}},
	}},
	{"database_failure", "orders", []symptom{
		{"database_error", "postgres-primary", "Connection pool exhausted (100 of 100 in use)", map[string]any{"pool_in_use": 100, "pool_max": 100}},
		{"error", "postgres-primary", "FATAL: remaining connection slots are reserved for superuser", map[string]any{"sqlstate": "53300"}},
		{"database_error", "postgres-primary", "query timeout after 30s: SELECT * FROM orders WHERE ...", map[string]any{"timeout_s": 30}},
		{"service_unavailable", "postgres-primary", "could not connect to server: Connection refused", map[string]any{"port": 5432}},
	}},
	{"cache_failure", "api", []symptom{
		{"cache_error", "redis-cache", "Redis connection refused: dial tcp 10.0.3.7:6379", map[string]any{"port": 6379}},
		{"error", "redis-cache", "Redis GET session:8f2c timed out after 500ms", map[string]any{"command": "GET"}},
		{"api_error", "redis-cache", "cache miss storm: hit ratio 3% (normally 94%)", map[string]any{"hit_ratio": 0.03}},
	}},
	{"performance_degradation", "api", []symptom{
		{"slow_request", "", "GET /api/search took 5.2s (target 800ms)", map[string]any{"duration_ms": 5200, "endpoint": "/api/search"}},
		{"slow_request", "", "POST /api/checkout took 3.9s (target 800ms)", map[string]any{"duration_ms": 3900, "endpoint": "/api/checkout"}},
	}},
	{"disk_space_low", "storage-1", []symptom{
		{"disk_low", "", "Disk /var at 92% (184 GiB of 200 GiB)", map[string]any{"mount": "/var", "used_percent": 92}},
		{"disk_space_low", "", "Disk /var at 94%, 12 GiB left", map[string]any{"mount": "/var", "used_percent": 94}},
	}},
	{"workflow_failure_spike", "etl", []symptom{
		{"workflow_failed", "", "ETL pipeline nightly-orders failed at step load: exit status 1", map[string]any{"workflow": "nightly-orders"}},
		{"workflow_failed", "", "ETL pipeline hourly-events failed at step extract: upstream 500", map[string]any{"workflow": "hourly-events"}},
	}},
	{"quality_drop", "ci", []symptom{
		{"quality_failed", "", "Coverage dropped to 72% (target 80%)", map[string]any{"coverage": 72}},
		{"quality_check_failed", "", "Lint failed: 14 issues in 6 files", map[string]any{"issues": 14}},
	}},
	{"network_partition", "payments", []symptom{
		{"network_error", "", "dial tcp 10.0.2.15:8443: connect: connection refused", map[string]any{"peer": "10.0.2.15"}},
		{"service_down", "", "payments unreachable: no route to host", map[string]any{"peer": "10.0.2.15"}},
		{"network_error", "", "read tcp 10.0.1.4:51234->10.0.2.15:8443: i/o timeout", map[string]any{"peer": "10.0.2.15"}},
	}},
	{"resource_leak", "worker-3", []symptom{
		{"resource_leak", "", "High process count: 1204 zombie (defunct) processes", map[string]any{"zombies": 1204}},
		{"resource_leak", "", "File descriptors at 98% of ulimit (64225 of 65536)", map[string]any{"open_fds": 64225}},
	}},
	{"rate_limit", "github-client", []symptom{
		{"rate_limit", "", "Rate limit exceeded: 5000 of 5000 requests used, reset in 42m", map[string]any{"limit": 5000}},
		{"api_error", "", "GitHub API returned 429 Too Many Requests", map[string]any{"http_status": 429}},
	}},
	{"ssl_expiry", "api", []symptom{
		{"ssl_error", "", "Certificate for api.example.com expired 2 hours ago", map[string]any{"domain": "api.example.com"}},
		{"error", "", "TLS handshake failed: x509: certificate has expired or is not yet valid", map[string]any{"domain": "api.example.com"}},
	}},
	{"deadlock", "orders-db", []symptom{
		{"deadlock", "", "Deadlock detected: process 4242 waits for ShareLock on transaction 991", map[string]any{"pid": 4242}},
	}},
	{"security_breach", "auth_service", []symptom{
		{"security_breach", "", "Unauthorized access detected: 57 failed admin logins from 203.0.113.9", map[string]any{"client_ip": "203.0.113.9"}},
	}},
}

func findScenario(ruleID string) (scenario, bool) {
	for _, sc := range scenarios {
		if sc.rule == ruleID {
			return sc, true
		}
	}
	return scenario{}, false
}

// genericScenario simulates a rule without a built-in scenario (a custom rule): its own
// event types, from "simulator".
func genericScenario(r schemas.Rule) scenario {
	sc := scenario{rule: r.ID, source: "simulator"}
	for _, t := range r.EventTypes {
		sc.symptoms = append(sc.symptoms, symptom{eventType: t, message: fmt.Sprintf("simulated %s event for rule %s", t, r.ID)})
	}
	return sc
}

// events builds count events of the scenario from source (the scenario's own when
// empty), a second apart and ending at now.
func (sc scenario) events(count int, source string, sev schemas.Severity, now time.Time) []schemas.Event {
	if source == "" {
		source = sc.source
	}
	out := make([]schemas.Event, count)
	for i := range out {
		sy := sc.symptoms[i%len(sc.symptoms)]
		md := map[string]any{"simulated": true, "scenario": sc.rule, "sequence": i + 1}
		for k, v := range sy.metadata {
			md[k] = v
		}
		comp := sy.component
		if comp == "" {
			comp = source
		}
		out[i] = schemas.Event{
			Timestamp: now.Add(time.Duration(i-count+1) * time.Second).UTC(),
			EventType: sy.eventType,
			Source:    source,
			Component: comp,
			Severity:  sev,
			Message:   "[simulated] " + sy.message,
			Metadata:  md,
		}
	}
	return out
}
