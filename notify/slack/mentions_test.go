package slack

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/notify"
	"github.com/mahavishnu/mahavishnu/schemas"
)

func TestPagedPeopleAreMentioned(t *testing.T) {
	m := notify.Message{IncidentID: "inc_1", Kind: notify.KindEscalated, Title: "t", Severity: schemas.SeverityHigh,
		Recipients: []schemas.Contact{{Name: "alice", SlackUser: "UALICE"}, {Name: "eve", SlackUser: "U1> <!channel"}, {Name: "bob"}}}
	p := BuildPayload(m)
	require.True(t, strings.HasPrefix(p.Text, "<@UALICE> "), p.Text)
	require.NotContains(t, p.Text, "!channel", "only member IDs become mentions")
	require.True(t, strings.HasPrefix(p.Blocks[1].Text.Text, "<@UALICE>\n"), p.Blocks[1].Text.Text)
}
