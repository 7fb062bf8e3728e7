package email_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/notify/notifytest"
	"github.com/mahavishnu/mahavishnu/schemas"
)

func TestPagedPeopleGetTheEmail(t *testing.T) {
	srv := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{Username: user, Password: password})
	cfg := config(srv)
	cfg.Username, cfg.Password = user, password
	m := message()
	m.Recipients = []schemas.Contact{{Name: "alice", Email: "alice@example.com"}, {Name: "sre", Email: "sre@example.com"}, {Name: "bob"}}
	_, err := newNotifier(t, cfg).Send(context.Background(), m)
	require.NoError(t, err)
	mails := srv.Mails()
	require.Len(t, mails, 1)
	require.Equal(t, []string{"oncall@example.com", "sre@example.com", "alice@example.com"}, mails[0].To, "once each")
}
