package notify_test

import (
	"testing"

	"github.com/mahavishnu/mahavishnu/notify"
	"github.com/mahavishnu/mahavishnu/notify/notifytest"
)

func TestMemoryState(t *testing.T) {
	notifytest.TestThrottleState(t, func(*testing.T) (notify.ThrottleState, notify.ThrottleState) {
		s := notify.NewMemoryState()
		return s, s
	})
}
