package api

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// TestDashboardBeyondTenThousandIncidents: the overview's counts, its paginated table and
// the export cover every incident, not the first 10,000.
func TestDashboardBeyondTenThousandIncidents(t *testing.T) {
	e := newDashEnv(t, "")
	ctx := context.Background()
	now := time.Now().UTC()
	const n = 10_500
	incs := make([]schemas.Incident, n)
	for i := range incs {
		incs[i] = schemas.Incident{IncidentID: fmt.Sprintf("inc_bulk_%05d", i), IncidentType: "error_burst", Severity: schemas.SeverityMedium,
			Status: schemas.StatusInvestigating, Title: "bulk", Fingerprint: fmt.Sprintf("bulk/%d", i),
			DetectedAt: now.Add(-time.Duration(i+10) * time.Minute), WorkflowID: fmt.Sprintf("incident/bulk/%d", i), UpdatedAt: now}
	}
	require.NoError(t, e.st.InsertIncidents(ctx, incs))

	body := e.get(t, "/?severity=medium", http.StatusOK)
	require.Contains(t, body, `<small id="table-total">10500</small>`)
	require.Len(t, rows(body), tablePageSize)
	require.Contains(t, body, "rows 1&ndash;100 of 10500 · page 1 of 105")
	last := e.get(t, "/?page=105&severity=medium", http.StatusOK)
	require.Equal(t, []string{"inc_bulk_10400"}, rows(last)[:1])
	require.Len(t, rows(last), 100)
	require.Contains(t, last, `rel="prev"`)
	e.get(t, "/?page=0", http.StatusBadRequest)

	csvBody := e.get(t, "/export?format=csv&severity=medium", http.StatusOK)
	recs, err := csv.NewReader(strings.NewReader(csvBody)).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, n+1, "a header and every incident")

	var js struct {
		Incidents []schemas.Incident `json:"incidents"`
	}
	require.NoError(t, json.Unmarshal([]byte(e.get(t, "/export?format=json&status=all&severity=medium", http.StatusOK)), &js))
	bulk := 0
	for _, inc := range js.Incidents {
		if strings.HasPrefix(inc.IncidentID, "inc_bulk_") {
			bulk++
		}
	}
	require.Equal(t, n, bulk)
	require.Equal(t, "inc_bulk_00000", js.Incidents[0].IncidentID, "most recently detected first")
}
