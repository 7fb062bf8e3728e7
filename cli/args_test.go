package cli

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPermuteArgsMovesFlagsBeforePositionals(t *testing.T) {
	app := NewApp(Options{})
	for name, tc := range map[string]struct{ in, want []string }{
		"value flag after id": {
			in:   []string{"m", "incidents", "resolve", "inc_1", "--notes", "Fixed by scaling up"},
			want: []string{"m", "incidents", "resolve", "--notes", "Fixed by scaling up", "inc_1"},
		},
		"bool flag after id does not take the next word": {
			in:   []string{"m", "incidents", "get", "inc_1", "--timeline", "-o", "json"},
			want: []string{"m", "incidents", "get", "--timeline", "-o", "json", "inc_1"},
		},
		"global flags stay in front": {
			in:   []string{"m", "--data-dir", "/tmp/x", "incidents", "assign", "inc_1", "john.doe", "--by", "alice"},
			want: []string{"m", "--data-dir", "/tmp/x", "incidents", "assign", "--by", "alice", "inc_1", "john.doe"},
		},
		"flag=value form": {
			in:   []string{"m", "incidents", "resolve", "inc_1", "--notes=done"},
			want: []string{"m", "incidents", "resolve", "--notes=done", "inc_1"},
		},
		"double dash keeps the rest positional": {
			in:   []string{"m", "incidents", "resolve", "inc_1", "--", "--notes"},
			want: []string{"m", "incidents", "resolve", "inc_1", "--", "--notes"},
		},
		"nested group": {
			in:   []string{"m", "incidents", "events", "list", "--last", "10"},
			want: []string{"m", "incidents", "events", "list", "--last", "10"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.want, permuteArgs(app, tc.in))
		})
	}
}
