package devserver

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync/atomic"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	"go.uber.org/zap/zapcore"
)

// serverLogger hands the Temporal server's own log records to an slog.Logger. Debug and
// info records are dropped: the server writes about 90 of them at every start. Warnings
// are dropped too once the server is stopping, when it writes hundreds of them about
// connections going away, and so are errors that only say a caller went away. Panic and
// Fatal keep the contract the server relies on (panic, exit) after the record is written.
type serverLogger struct {
	logger   *slog.Logger
	stopping *atomic.Bool
	tags     []tag.Tag
}

var (
	_ log.Logger     = serverLogger{}
	_ log.WithLogger = serverLogger{}
)

func newServerLogger(l *slog.Logger, stopping *atomic.Bool) serverLogger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return serverLogger{logger: l.With(slog.String("component", "temporal-server")), stopping: stopping}
}

// Debug drops the record.
func (serverLogger) Debug(string, ...tag.Tag) {}

// Info drops the record.
func (serverLogger) Info(string, ...tag.Tag) {}

// Warn writes the record at WARN unless the server is stopping or it is known noise.
func (l serverLogger) Warn(msg string, tags ...tag.Tag) {
	if l.stopping.Load() || isNoise(msg) {
		return
	}
	l.write(slog.LevelWarn, msg, tags)
}

// Error writes the record at ERROR, except the errors of operations whose caller went
// away (a context cancellation: a worker's long poll ending when it stops, the server
// stopping), which ask for nothing.
func (l serverLogger) Error(msg string, tags ...tag.Tag) {
	if isCancellation(tags) {
		return
	}
	l.write(slog.LevelError, msg, tags)
}

// DPanic writes the record at ERROR (zap's production behaviour: no panic).
func (l serverLogger) DPanic(msg string, tags ...tag.Tag) { l.write(slog.LevelError, msg, tags) }

// Panic writes the record at ERROR and panics, as the server expects.
func (l serverLogger) Panic(msg string, tags ...tag.Tag) {
	l.write(slog.LevelError, msg, tags)
	panic("temporal server: " + msg)
}

// Fatal writes the record at ERROR and exits the process, as the server expects. The
// server calls it only for configuration it cannot run with.
func (l serverLogger) Fatal(msg string, tags ...tag.Tag) {
	l.write(slog.LevelError, msg, tags)
	os.Exit(1)
}

// With returns a logger that adds tags to every record.
func (l serverLogger) With(tags ...tag.Tag) log.Logger {
	all := make([]tag.Tag, 0, len(l.tags)+len(tags))
	all = append(all, l.tags...)
	all = append(all, tags...)
	return serverLogger{logger: l.logger, stopping: l.stopping, tags: all}
}

// noisyWarnings start the warnings the embedded server writes at every start that ask for
// nothing: the Nexus HTTP endpoint is deliberately off.
var noisyWarnings = []string{
	"HTTP API port has not been set.",
}

func isNoise(msg string) bool {
	for _, prefix := range noisyWarnings {
		if strings.HasPrefix(msg, prefix) {
			return true
		}
	}
	return false
}

// isCancellation reports whether a record's error is a context cancellation. The server
// often flattens errors into strings, so the text is checked too.
func isCancellation(tags []tag.Tag) bool {
	for _, t := range tags {
		if err := tagError(t); err != nil &&
			(errors.Is(err, context.Canceled) || strings.Contains(err.Error(), context.Canceled.Error())) {
			return true
		}
	}
	return false
}

// tagError returns the error an error tag carries, or nil.
func tagError(t tag.Tag) error {
	if zt, ok := t.(tag.ZapTag); ok && zt.Field().Type == zapcore.ErrorType {
		err, _ := zt.Field().Interface.(error)
		return err
	}
	err, _ := t.Value().(error)
	return err
}

// appendAttrs converts a server tag to slog attributes. Most tags wrap a zap field, which
// is encoded as zap would; an error stays an error value.
func appendAttrs(attrs []slog.Attr, t tag.Tag) []slog.Attr {
	zt, ok := t.(tag.ZapTag)
	if !ok {
		return append(attrs, slog.Any(t.Key(), t.Value()))
	}
	if err := tagError(t); err != nil {
		return append(attrs, slog.Any(t.Key(), err))
	}
	enc := zapcore.NewMapObjectEncoder()
	zt.Field().AddTo(enc)
	for _, k := range slices.Sorted(maps.Keys(enc.Fields)) {
		attrs = append(attrs, slog.Any(k, enc.Fields[k]))
	}
	return attrs
}

func (l serverLogger) write(level slog.Level, msg string, tags []tag.Tag) {
	ctx := context.Background()
	if !l.logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, len(l.tags)+len(tags))
	for _, t := range l.tags {
		attrs = appendAttrs(attrs, t)
	}
	for _, t := range tags {
		attrs = appendAttrs(attrs, t)
	}
	l.logger.LogAttrs(ctx, level, msg, attrs...)
}
