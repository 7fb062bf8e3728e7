package api

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAlertmanagerResolutionRecoversTheIncident(t *testing.T) {
	h, tc, m := newTestServer(t)
	alert := func(status, fp string, startsAt ...string) string {
		starts := "2026-12-01T10:00:00Z"
		if len(startsAt) > 0 {
			starts = startsAt[0]
		}
		return `{"status":"` + status + `","startsAt":"` + starts + `","labels":{"alertname":"Breach","event_type":"security_breach","service":"gateway","severity":"critical","n":"` +
			fp + `"},"fingerprint":"` + fp + `"}`
	}
	post := func(alerts ...string) {
		body := `{"version":"4","status":"firing","alerts":[`
		for i, a := range alerts {
			if i > 0 {
				body += ","
			}
			body += a
		}
		code, resp := call(t, h, http.MethodPost, "/api/v1/alertmanager", body+`]}`)
		require.Equal(t, http.StatusAccepted, code, resp)
	}
	post(alert("firing", "f1"), alert("firing", "f2"))
	require.Equal(t, []string{"incident/security_breach/gateway"}, tc.starts(t, m))

	post(alert("resolved", "f1"))
	require.Empty(t, tc.recovered, "f2 still fires")

	post(alert("firing", "f1", "2026-12-01T10:30:00Z")) // a new episode of f1 after its resolution
	require.Len(t, tc.starts(t, m), 1, "the firing attaches to the open incident")
	post(alert("resolved", "f2"))
	require.Empty(t, tc.recovered, "f1 fired again after it resolved")

	post(alert("resolved", "f1", "2026-12-01T10:30:00Z"))
	require.Equal(t, []string{"incident/security_breach/gateway: every alert resolved by Alertmanager (2: f1, f2)"}, tc.recovered)
}
