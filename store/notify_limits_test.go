package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func notifyAdmission(incident string, at time.Time) NotifyAdmission {
	return NotifyAdmission{IncidentID: incident, Channel: "slack", Kind: "opened", At: at, Dedup: true,
		Window: 5 * time.Minute, InFlight: time.Minute, Token: incident + "@" + at.Format(time.RFC3339Nano)}
}

func TestAdmitNotificationDedup(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		admit := func(a NotifyAdmission, want string) {
			t.Helper()
			got, err := s.AdmitNotification(ctx, a)
			require.NoError(t, err)
			require.Equal(t, want, got, "%s at %s", a.IncidentID, a.At.Sub(base))
		}
		a := notifyAdmission("inc_1", base)
		admit(a, NotifyAdmitted)
		admit(notifyAdmission("inc_1", base.Add(time.Second)), NotifyDuplicate)
		require.NoError(t, s.ReleaseNotification(ctx, "inc_1", "slack", "opened", a.Token, true))
		var m notifyThrottleModel
		require.NoError(t, s.DB.NewSelect().Model(&m).Where("incident_id = ?", "inc_1").Scan(ctx))
		require.Equal(t, stored(base), m.SentAt.Time, "sent at the reservation's time")
		require.True(t, m.ReservedAt.IsZero())
		require.Empty(t, m.Token)

		admit(notifyAdmission("inc_1", base.Add(5*time.Minute-time.Microsecond)), NotifyDuplicate)
		late := notifyAdmission("inc_1", base.Add(5*time.Minute))
		admit(late, NotifyAdmitted)
		require.NoError(t, s.ReleaseNotification(ctx, "inc_1", "slack", "opened", "someone else's", true))
		admit(notifyAdmission("inc_1", base.Add(5*time.Minute+time.Second)), NotifyDuplicate)
		require.NoError(t, s.ReleaseNotification(ctx, "inc_1", "slack", "opened", late.Token, false))
		require.NoError(t, s.DB.NewSelect().Model(&m).Where("incident_id = ?", "inc_1").Scan(ctx))
		require.Equal(t, stored(base), m.SentAt.Time, "a failed send leaves the last send")

		test := notifyAdmission("inc_1", base.Add(5*time.Minute+2*time.Second))
		test.Dedup = false
		admit(test, NotifyAdmitted)
		admit(test, NotifyAdmitted)
	})
}

func TestAdmitNotificationRate(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		admit := func(id string, after time.Duration) string {
			t.Helper()
			a := notifyAdmission(id, base.Add(after))
			a.Every, a.Burst = 30*time.Second, 2
			got, err := s.AdmitNotification(ctx, a)
			require.NoError(t, err)
			return got
		}
		require.Equal(t, NotifyAdmitted, admit("inc_1", 0))
		require.Equal(t, NotifyAdmitted, admit("inc_2", 0))
		require.Equal(t, NotifyRateLimited, admit("inc_3", 0))
		require.Equal(t, NotifyRateLimited, admit("inc_3", 29*time.Second))
		require.Equal(t, NotifyAdmitted, admit("inc_3", 30*time.Second), "rate-limited: not reserved")
		require.Equal(t, NotifyDuplicate, admit("inc_1", 30*time.Second), "in flight")
		require.Equal(t, NotifyRateLimited, admit("inc_4", 30*time.Second), "the duplicate took no place")

		var r notifyRateModel
		require.NoError(t, s.DB.NewSelect().Model(&r).Where("channel = ?", "slack").Scan(ctx))
		require.Equal(t, stored(base).Add(90*time.Second), r.TAT.Time)
	})
}

func TestSweepNotifications(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		for i, after := range []time.Duration{0, 10 * time.Second} {
			a := notifyAdmission(fmt.Sprintf("inc_sent%d", i), base.Add(after))
			_, err := s.AdmitNotification(ctx, a)
			require.NoError(t, err)
			require.NoError(t, s.ReleaseNotification(ctx, a.IncidentID, a.Channel, a.Kind, a.Token, true))
		}
		for i, after := range []time.Duration{0, 10 * time.Second} {
			_, err := s.AdmitNotification(ctx, notifyAdmission(fmt.Sprintf("inc_flying%d", i), base.Add(after)))
			require.NoError(t, err)
		}
		n, err := s.SweepNotifications(ctx, base.Add(5*time.Second), base.Add(5*time.Second))
		require.NoError(t, err)
		require.Equal(t, 2, n)
		var left []string
		require.NoError(t, s.DB.NewSelect().Model((*notifyThrottleModel)(nil)).Column("incident_id").Order("incident_id").Scan(ctx, &left))
		require.Equal(t, []string{"inc_flying1", "inc_sent1"}, left)
	})
}

// TestAdmitNotificationAcrossConnections: senders on two handles (two worker processes)
// deciding at once about one key, and about one channel's rate, get one answer.
func TestAdmitNotificationAcrossConnections(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		stores := []*Store{openTestStore(t, db), openTestStore(t, db)}
		const n = 20
		race := func(admission func(i int) NotifyAdmission) (admitted int) {
			var wg sync.WaitGroup
			var mu sync.Mutex
			for i := range n {
				wg.Go(func() {
					got, err := stores[i%2].AdmitNotification(ctx, admission(i))
					if !(assertNoError(t, err) && got == NotifyAdmitted) {
						return
					}
					mu.Lock()
					admitted++
					mu.Unlock()
				})
			}
			wg.Wait()
			return admitted
		}
		require.Equal(t, 1, race(func(i int) NotifyAdmission {
			a := notifyAdmission("inc_same", base)
			a.Token = fmt.Sprint(i)
			return a
		}), "one key")
		require.Equal(t, 4, race(func(i int) NotifyAdmission {
			a := notifyAdmission(fmt.Sprintf("inc_%d", i), base)
			a.Channel, a.Every, a.Burst = "webhook", time.Hour, 4
			return a
		}), "one channel's burst")
	})
}

func assertNoError(t *testing.T, err error) bool {
	t.Helper()
	if err != nil {
		t.Errorf("AdmitNotification: %v", err)
		return false
	}
	return true
}
