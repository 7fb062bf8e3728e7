package manager

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

func TestReviewFlagsNoisyAndSilentRules(t *testing.T) {
	ctx := context.Background()
	tm := newTestManager(t, nil)
	n := 0
	incident := func(rule string, status schemas.Status, ack *float64) {
		n++
		inc := &schemas.Incident{IncidentID: fmt.Sprintf("inc_%d", n), IncidentType: rule, RuleID: rule, Severity: schemas.SeverityHigh,
			Status: status, Fingerprint: rule + "/x", DetectedAt: t0, MTTASeconds: ack}
		require.NoError(t, tm.st.UpsertIncident(ctx, inc))
	}
	for range 10 {
		incident("error_burst", schemas.StatusRecovering, nil) // fires often
	}
	for _, ack := range []float64{60, 120, 600} {
		incident("disk_space_low", schemas.StatusResolved, ptr(ack)) // resolved, nobody acted
	}
	incident("deadlock", schemas.StatusClosed, ptr(30.0))
	incident("deadlock", schemas.StatusResolved, nil)
	require.NoError(t, tm.st.AddTimeline(ctx, schemas.TimelineEntry{IncidentID: "inc_14", At: t0, Kind: schemas.TimelineAction, Message: "killed txn"}))
	_, err := tm.UpdateRule(ctx, "quality_drop", RulePatch{Enabled: ptr(false)}, "a")
	require.NoError(t, err)

	revs, err := Review(ctx, tm.st, tm.Rules(), ReviewOptions{Since: t0.Add(-7 * 24 * time.Hour)})
	require.NoError(t, err)
	require.Len(t, revs, 15)
	by := map[string]RuleReview{}
	for _, rv := range revs {
		by[rv.RuleID] = rv
	}
	require.Equal(t, []string{FlagNoisy}, by["error_burst"].Flags)
	require.Equal(t, 10, by["error_burst"].Fires)
	require.Contains(t, by["error_burst"].Advice, "test-rule error_burst --threshold 20")

	disk := by["disk_space_low"]
	require.Equal(t, []string{FlagNoisy}, disk.Flags)
	require.Equal(t, 3, disk.ResolvedWithoutAction)
	require.Equal(t, 3, disk.Acknowledged)
	require.Equal(t, 120.0, *disk.MedianAckSeconds)
	require.Equal(t, 260.0, *disk.MeanAckSeconds)

	dl := by["deadlock"]
	require.Empty(t, dl.Flags, "fired twice, acted on once")
	require.Equal(t, 2, dl.Resolved)
	require.Equal(t, 1, dl.ResolvedWithoutAction)
	require.Equal(t, 30.0, *dl.MedianAckSeconds)

	require.Equal(t, []string{FlagSilent}, by["memory_exhaustion"].Flags)
	require.Nil(t, by["memory_exhaustion"].MedianAckSeconds)
	require.Empty(t, by["quality_drop"].Flags, "a disabled rule is not silent")
}
