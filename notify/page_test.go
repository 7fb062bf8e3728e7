package notify

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

func TestServiceRoutesToPagedPeople(t *testing.T) {
	svc, _ := testService(t, nil)
	r := testRequest(schemas.SeverityLow, KindEscalated)
	r.People = []Contact{{Name: "alice", SlackUser: "UALICE"}, {Name: "bob", Email: "bob@example.com"}}
	require.Equal(t, []string{"log", "slack", "email"}, svc.Route(r), "low goes to the log only, the people add their channels")
	r.Channels = []string{"pagerduty"}
	require.Equal(t, []string{"log", "pagerduty", "slack", "email"}, svc.Route(r))
	require.Equal(t, r.People, svc.Message(r).Recipients)
}
