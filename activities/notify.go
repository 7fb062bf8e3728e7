package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/mahavishnu/mahavishnu/notify"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// Notifications routes a notification to channels and delivers it to one channel.
// Errors follow the notify package: notify.Retryable says whether to try again, and
// notify.ErrSuppressed marks a send the throttle held back.
type Notifications interface {
	Route(in NotifyInput) []string
	Send(ctx context.Context, channel string, in NotifyInput) error
}

// Notify delivers one notification to every channel it is routed to. Each channel's
// delivery is recorded on the timeline under the notification's key, so a retry sends
// only to the channels that have not had it. A retryable failure is retried (by Temporal)
// until the last attempt; then, like any permanent failure, it is recorded on the
// timeline as notification_failed: never dropped silently.
func (a *Activities) Notify(ctx context.Context, in NotifyInput) (NotifyResult, error) {
	var res NotifyResult
	if a.Notifications == nil {
		return res, nil
	}
	id := in.Incident.IncidentID
	last := in.MaxAttempts > 0 && activity.GetInfo(ctx).Attempt >= in.MaxAttempts
	var retry []error
	for _, ch := range a.Notifications.Route(in) {
		key := "notify/" + in.Key + "/" + ch
		done, err := a.Store.HasTimeline(ctx, id, key)
		if err != nil {
			return res, err
		}
		if done {
			res.Sent = append(res.Sent, ch)
			continue
		}
		sendErr := a.Notifications.Send(ctx, ch, in)
		entry := schemas.TimelineEntry{IncidentID: id, At: time.Now().UTC(), Actor: ch, Key: key}
		switch {
		case sendErr == nil:
			res.Sent = append(res.Sent, ch)
			entry.Kind, entry.Message = schemas.TimelineNotified, fmt.Sprintf("%s notification sent to %s", in.Kind, ch)
		case errors.Is(sendErr, notify.ErrSuppressed):
			res.Suppressed = append(res.Suppressed, ch)
			entry.Kind, entry.Message = schemas.TimelineNotifySkipped, fmt.Sprintf("%s notification to %s suppressed: %v", in.Kind, ch, sendErr)
		case notify.Retryable(sendErr) && !last:
			retry = append(retry, sendErr)
			continue
		default:
			res.Failed = append(res.Failed, ch)
			entry.Kind, entry.Message = schemas.TimelineNotifyFailed, fmt.Sprintf("%s notification to %s failed: %v", in.Kind, ch, sendErr)
			if a.Logger != nil {
				a.Logger.Warn("notification failed", "incident_id", id, "channel", ch, "kind", in.Kind, "error", sendErr)
			}
		}
		if err := a.Store.AddTimeline(ctx, entry); err != nil {
			return res, err
		}
	}
	if len(retry) > 0 {
		return res, errors.Join(retry...)
	}
	return res, nil
}
