package devserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/server/common/log/tag"
)

func TestServerLogger(t *testing.T) {
	tests := []struct {
		name     string
		stopping bool
		log      func(l serverLogger)
		want     string // "" when the record is dropped
	}{
		{
			name: "info is dropped",
			log:  func(l serverLogger) { l.Info("Service started", tag.Service("frontend")) },
		},
		{
			name: "warning is written with its tags",
			log:  func(l serverLogger) { l.Warn("slow persistence", tag.ShardID(1)) },
			want: `level=WARN msg="slow persistence" component=temporal-server shard-id=1` + "\n",
		},
		{
			name: "known noise is dropped",
			log: func(l serverLogger) {
				l.Warn("HTTP API port has not been set. Nexus HTTP endpoints will not be available.")
			},
		},
		{
			name:     "warnings are dropped while stopping",
			stopping: true,
			log:      func(l serverLogger) { l.Warn("connection closed") },
		},
		{
			name:     "errors are kept while stopping",
			stopping: true,
			log:      func(l serverLogger) { l.Error("write failed", tag.Error(errors.New("disk full"))) },
			want:     `level=ERROR msg="write failed" component=temporal-server error="disk full"` + "\n",
		},
		{
			name: "cancellation error is dropped",
			log: func(l serverLogger) {
				l.Error("poll failed", tag.Error(fmt.Errorf("poll: %w", context.Canceled)))
			},
		},
		{
			name: "flattened cancellation error is dropped",
			log: func(l serverLogger) {
				l.Error("poll failed", tag.Error(errors.New("CreateTaskQueue operation failed. Error: context canceled")))
			},
		},
		{
			name: "deadline error is written",
			log: func(l serverLogger) {
				l.Error("update failed", tag.Error(context.DeadlineExceeded))
			},
			want: `level=ERROR msg="update failed" component=temporal-server error="context deadline exceeded"` + "\n",
		},
		{
			name: "With tags come first",
			log: func(l serverLogger) {
				l.With(tag.Service("history")).(serverLogger).Error("lost shard", tag.ShardID(3))
			},
			want: `level=ERROR msg="lost shard" component=temporal-server service=history shard-id=3` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := slog.NewTextHandler(&buf, &slog.HandlerOptions{
				ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey && len(groups) == 0 {
						return slog.Attr{}
					}
					return a
				},
			})
			stopping := new(atomic.Bool)
			stopping.Store(tt.stopping)
			tt.log(newServerLogger(slog.New(h), stopping))
			require.Equal(t, tt.want, buf.String())
		})
	}
}
