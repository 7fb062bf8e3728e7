package store

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSlackThreadFirstMessageWins(t *testing.T) {
	eachStore(t, func(t *testing.T, st *Store) {
		{
			ctx := context.Background()
			ch, ts, err := st.SlackThread(ctx, "inc_1")
			require.NoError(t, err)
			require.Empty(t, ch+ts)
			ch, ts, err = st.SaveSlackThread(ctx, "inc_1", "C1", "1700000000.000100")
			require.NoError(t, err)
			require.Equal(t, []string{"C1", "1700000000.000100"}, []string{ch, ts})
			ch, ts, err = st.SaveSlackThread(ctx, "inc_1", "C1", "1700000099.000200")
			require.NoError(t, err)
			require.Equal(t, "1700000000.000100", ts, "the first message stays the thread")
			_, ts, err = st.SlackThread(ctx, "inc_1")
			require.NoError(t, err)
			require.Equal(t, "1700000000.000100", ts)
		}
	})
}
