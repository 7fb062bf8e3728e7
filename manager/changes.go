package manager

import (
	"context"
	"sync"
	"time"
)

// Changes tells subscribers when incidents change, for the dashboard's live updates
// (Server-Sent Events, issue 12). It polls the store's change stamp while anyone listens,
// so that changes made by any process (a worker elsewhere, the detector) are seen; with no
// subscriber it does nothing.
type Changes struct {
	m        *Manager
	interval time.Duration

	mu     sync.Mutex
	subs   map[chan string]struct{}
	cancel context.CancelFunc
	last   string
}

// DefaultChangeInterval is how often Changes polls the store while subscribed.
const DefaultChangeInterval = time.Second

// Changes returns the manager's change feed.
func (m *Manager) Changes() *Changes {
	m.changesOnce.Do(func() { m.changes = &Changes{m: m, interval: DefaultChangeInterval, subs: map[chan string]struct{}{}} })
	return m.changes
}

// Subscribe returns a channel that receives the new change stamp after each change
// (coalesced: a slow reader gets the latest), and a function to unsubscribe.
func (c *Changes) Subscribe() (<-chan string, func()) {
	ch := make(chan string, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.subs[ch] = struct{}{}
	if c.cancel == nil {
		ctx, cancel := context.WithCancel(context.Background())
		c.cancel = cancel
		go c.poll(ctx)
	}
	return ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.subs, ch)
		if len(c.subs) == 0 && c.cancel != nil {
			c.cancel()
			c.cancel = nil
		}
	}
}

func (c *Changes) poll(ctx context.Context) {
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		stamp, err := c.m.Store().ChangeStamp(ctx)
		if err == nil {
			c.publish(stamp)
		} else if ctx.Err() == nil {
			c.m.logger.Warn("live updates: reading the change stamp failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *Changes) publish(stamp string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if stamp == c.last {
		return
	}
	first := c.last == ""
	c.last = stamp
	if first {
		return // the state the subscribers' pages were rendered from
	}
	for ch := range c.subs {
		select {
		case <-ch:
		default:
		}
		ch <- stamp
	}
}
