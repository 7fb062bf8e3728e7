package notifytest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mahavishnu/mahavishnu/notify"
)

// ThrottleStates returns two handles onto one fresh, shared notify.ThrottleState: the
// same value twice for an in-memory state, two connections to one database for a stored
// one. It is what TestThrottleState runs against.
type ThrottleStates func(t *testing.T) (a, b notify.ThrottleState)

// throttleEpoch is the tests' clock origin, on a whole microsecond (what a database keeps).
var throttleEpoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// TestThrottleState checks that a notify.ThrottleState keeps the contract the Throttle
// relies on: deduplication windows, reservations in flight and their expiry, release,
// rate limits per channel (GCRA), sweeping, and atomic decisions across handles.
func TestThrottleState(t *testing.T, states ThrottleStates) {
	t.Run("dedup window", func(t *testing.T) {
		a, b := states(t)
		adm := dedup(key("inc_1", notify.ChannelSlack, notify.KindOpened), 0)
		mustAdmit(t, a, adm, "")
		mustAdmit(t, b, at(adm, time.Second), notify.ReasonDuplicate, "in flight, seen from the other handle")
		mustRelease(t, b, adm, true)
		mustAdmit(t, a, at(adm, time.Second), notify.ReasonDuplicate, "sent")
		mustAdmit(t, b, at(adm, adm.Window-time.Microsecond), notify.ReasonDuplicate, "still within the window")
		next := at(adm, adm.Window)
		mustAdmit(t, b, next, "", "the window has passed")
		mustRelease(t, a, next, true)
		mustAdmit(t, a, at(next, adm.Window/2), notify.ReasonDuplicate, "the window starts again at the last send")
	})
	t.Run("keys are independent", func(t *testing.T) {
		a, b := states(t)
		mustAdmit(t, a, dedup(key("inc_1", notify.ChannelSlack, notify.KindOpened), 0), "")
		mustAdmit(t, b, dedup(key("inc_1", notify.ChannelSlack, notify.KindEscalated), 0), "", "another kind")
		mustAdmit(t, b, dedup(key("inc_2", notify.ChannelSlack, notify.KindOpened), 0), "", "another incident")
		mustAdmit(t, b, dedup(key("inc_1", notify.ChannelPagerDuty, notify.KindOpened), 0), "", "another channel")
	})
	t.Run("failed send is not sent", func(t *testing.T) {
		a, b := states(t)
		adm := dedup(key("inc_1", notify.ChannelSlack, notify.KindOpened), 0)
		mustAdmit(t, a, adm, "")
		mustRelease(t, a, adm, false)
		retry := at(adm, time.Second)
		mustAdmit(t, b, retry, "", "a retry after a failure goes through")
		mustRelease(t, b, retry, true)
		again := at(adm, 2*time.Second)
		mustAdmit(t, a, again, notify.ReasonDuplicate)
		late := at(adm, adm.Window+time.Second)
		mustAdmit(t, a, late, "")
		mustRelease(t, a, late, false)
		mustAdmit(t, b, at(late, time.Second), "", "a failed send leaves the last send as it was (outside the window)")
	})
	t.Run("abandoned reservation expires", func(t *testing.T) {
		a, b := states(t)
		adm := dedup(key("inc_1", notify.ChannelSlack, notify.KindOpened), 0)
		mustAdmit(t, a, adm, "") // its worker dies: never released
		mustAdmit(t, b, at(adm, adm.InFlight-time.Microsecond), notify.ReasonDuplicate)
		takeover := at(adm, adm.InFlight)
		mustAdmit(t, b, takeover, "", "a reservation older than InFlight is taken over")
		mustRelease(t, a, adm, true) // the old sender answers late: not its key any more
		mustAdmit(t, a, at(takeover, time.Second), notify.ReasonDuplicate, "the new send is in flight")
		mustRelease(t, b, takeover, false)
		mustAdmit(t, a, at(takeover, 2*time.Second), "", "the late release recorded nothing")
	})
	t.Run("no dedup", func(t *testing.T) {
		a, b := states(t)
		adm := dedup(key("inc_test", notify.ChannelSlack, notify.KindTest), 0)
		adm.Dedup, adm.Token = false, ""
		mustAdmit(t, a, adm, "")
		mustAdmit(t, b, adm, "", "never a duplicate")
	})
	t.Run("rate limit", func(t *testing.T) {
		a, b := states(t)
		rate := notify.Rate{Every: 30 * time.Second, Burst: 2}
		send := func(s notify.ThrottleState, id string, after time.Duration, want string, msg ...string) {
			t.Helper()
			adm := dedup(key(id, notify.ChannelSlack, notify.KindOpened), after)
			adm.Rate = rate
			mustAdmit(t, s, adm, want, msg...)
			if want == "" {
				mustRelease(t, s, adm, true)
			}
		}
		send(a, "inc_1", 0, "", "burst 1")
		send(b, "inc_2", 0, "", "burst 2")
		send(a, "inc_3", 0, notify.ReasonRateLimited, "the burst is used up, on both handles")
		send(b, "inc_3", 29*time.Second, notify.ReasonRateLimited, "not yet one place back")
		send(b, "inc_3", 30*time.Second, "", "a rate-limited send was not recorded as sent")
		send(a, "inc_4", 30*time.Second, notify.ReasonRateLimited)
		send(a, "inc_1", 30*time.Second, notify.ReasonDuplicate, "duplicates are checked first and take no place")
		send(a, "inc_4", 60*time.Second, "")
		send(a, "inc_5", 10*time.Minute, "", "after a quiet spell, a whole burst again")
		send(b, "inc_6", 10*time.Minute, "")
		send(b, "inc_7", 10*time.Minute, notify.ReasonRateLimited)

		other := dedup(key("inc_9", notify.ChannelPagerDuty, notify.KindOpened), 0)
		other.Rate = rate
		mustAdmit(t, a, other, "", "each channel has its own rate")
		unlimited := dedup(key("inc_9", notify.ChannelLog, notify.KindOpened), 0)
		unlimited.Dedup = false
		for range 5 {
			mustAdmit(t, b, unlimited, "", "a channel without a rate is unlimited")
		}
		test := dedup(key("inc_test", notify.ChannelPagerDuty, notify.KindTest), 0)
		test.Dedup, test.Rate = false, rate
		mustAdmit(t, b, test, "", "sends without dedup take a place too")
		mustAdmit(t, b, test, notify.ReasonRateLimited)
	})
	t.Run("sweep", func(t *testing.T) {
		a, b := states(t)
		old := dedup(key("inc_old", notify.ChannelSlack, notify.KindOpened), 0)
		recent := dedup(key("inc_recent", notify.ChannelSlack, notify.KindOpened), 10*time.Second)
		flying := dedup(key("inc_flying", notify.ChannelSlack, notify.KindOpened), 0)
		flying.InFlight = time.Hour
		for _, adm := range []notify.Admission{old, recent, flying} {
			mustAdmit(t, a, adm, "")
		}
		mustRelease(t, a, old, true)
		mustRelease(t, a, recent, true)
		if err := b.Sweep(context.Background(), throttleEpoch.Add(5*time.Second), throttleEpoch.Add(-time.Second)); err != nil {
			t.Fatalf("Sweep: %v", err)
		}
		mustAdmit(t, b, at(old, 20*time.Second), "", "swept")
		mustAdmit(t, b, at(recent, 10*time.Second), notify.ReasonDuplicate, "sent after sentBefore: kept")
		mustAdmit(t, b, at(flying, 20*time.Second), notify.ReasonDuplicate, "reserved after reservedBefore: kept")
	})
	t.Run("concurrent decisions are atomic", func(t *testing.T) {
		a, b := states(t)
		const n = 16
		race := func(adm func(i int) notify.Admission) int {
			var wg sync.WaitGroup
			var mu sync.Mutex
			admitted := 0
			for i := range n {
				s := a
				if i%2 == 1 {
					s = b
				}
				wg.Go(func() {
					reason, err := s.Admit(context.Background(), adm(i))
					if err != nil {
						t.Errorf("Admit %d: %v", i, err)
						return
					}
					if reason == "" {
						mu.Lock()
						admitted++
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			return admitted
		}
		same := race(func(i int) notify.Admission {
			adm := dedup(key("inc_same", notify.ChannelSlack, notify.KindOpened), 0)
			adm.Token = fmt.Sprintf("token-%d", i)
			return adm
		})
		if same != 1 {
			t.Errorf("one key from %d senders at once: %d admitted, want 1", n, same)
		}
		limited := race(func(i int) notify.Admission {
			adm := dedup(key(fmt.Sprintf("inc_%d", i), notify.ChannelWebhook, notify.KindOpened), 0)
			adm.Rate = notify.Rate{Every: time.Hour, Burst: 3}
			return adm
		})
		if limited != 3 {
			t.Errorf("%d keys on one channel with burst 3 at once: %d admitted, want 3", n, limited)
		}
	})
}

func key(incident, channel string, kind notify.Kind) notify.ThrottleKey {
	return notify.ThrottleKey{IncidentID: incident, Channel: channel, Kind: kind}
}

// dedup is a deduplicated admission of k at throttleEpoch+after, window 5 minutes,
// in flight for at most a minute, unlimited rate.
func dedup(k notify.ThrottleKey, after time.Duration) notify.Admission {
	adm := notify.Admission{Key: k, Dedup: true, Window: 5 * time.Minute, InFlight: time.Minute}
	return at(adm, after)
}

// at is adm at throttleEpoch+after (or adm.At+after when set) with a new token.
func at(adm notify.Admission, after time.Duration) notify.Admission {
	if adm.At.IsZero() {
		adm.At = throttleEpoch
	}
	adm.At = adm.At.Add(after)
	if adm.Dedup {
		adm.Token = fmt.Sprintf("%s/%s/%s@%d", adm.Key.IncidentID, adm.Key.Channel, adm.Key.Kind, adm.At.UnixMicro())
	}
	return adm
}

func mustAdmit(t *testing.T, s notify.ThrottleState, adm notify.Admission, want string, msg ...string) {
	t.Helper()
	got, err := s.Admit(context.Background(), adm)
	if err != nil {
		t.Fatalf("Admit(%+v): %v", adm, err)
	}
	if got != want {
		t.Fatalf("Admit %s/%s/%s at +%s: got reason %q, want %q %v", adm.Key.IncidentID, adm.Key.Channel, adm.Key.Kind,
			adm.At.Sub(throttleEpoch), got, want, msg)
	}
}

func mustRelease(t *testing.T, s notify.ThrottleState, adm notify.Admission, sent bool) {
	t.Helper()
	if err := s.Release(context.Background(), adm.Key, adm.Token, sent); err != nil {
		t.Fatalf("Release(%+v, %v): %v", adm.Key, sent, err)
	}
}
