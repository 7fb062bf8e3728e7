package manager

// Leadership of the detector role: exactly one process at a time consumes the event log
// and runs the outbox dispatcher. On PostgreSQL the active detector holds a session-level
// advisory lock on a connection of its own; standbys try for it every standbyPoll and take
// over when the active process dies (its session ends, the lock goes with it). The store's
// fencing epoch (store.ClaimDetector) makes sure a process that lost the lock without
// noticing cannot move the cursor any more. On SQLite, one embedded process owns the file:
// a second detector is refused with a clear error instead of waiting.

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/uptrace/bun"

	"github.com/mahavishnu/mahavishnu/store"
)

const (
	// standbyPoll is how often a standby detector tries to take the role.
	standbyPoll = 2 * time.Second
	// leaseCheck is how often the active detector checks that it still holds the lock.
	leaseCheck = 2 * time.Second
)

// ErrDetectorTaken means another process holds the detector role on a SQLite store.
var ErrDetectorTaken = errors.New("the detector role is taken")

// lease is a held detector role; lost is closed when it is lost.
type lease struct {
	lost    chan struct{}
	release func()
}

// acquireLeadership blocks until this process holds the detector role (or ctx ends).
func (m *Manager) acquireLeadership(ctx context.Context) (*lease, error) {
	st := m.opts.Store
	if st.Dialect() == store.DialectPostgres {
		return m.acquirePostgres(ctx)
	}
	return acquireFileLock(st.SQLitePath())
}

func (m *Manager) acquirePostgres(ctx context.Context) (*lease, error) {
	waiting := false
	for {
		conn, err := m.opts.Store.DB.Conn(ctx)
		if err == nil {
			var got bool
			err = conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock(?, ?)", store.AdvisoryLockClass, store.LockDetector).Scan(&got)
			if err == nil && got {
				return m.holdPostgres(ctx, conn), nil
			}
			_ = conn.Close()
		}
		if err != nil && ctx.Err() == nil {
			m.logger.Warn("detector role: cannot reach the store", "error", err)
		}
		if !waiting {
			m.logger.Info("detector role held by another process: standing by")
			waiting = true
		}
		if !sleepCtx(ctx, standbyPoll) {
			return nil, ctx.Err()
		}
	}
}

// holdPostgres watches the lock's session; losing it ends the lease.
func (m *Manager) holdPostgres(ctx context.Context, conn bun.Conn) *lease {
	l := &lease{lost: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(l.lost)
		t := time.NewTicker(leaseCheck)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				cctx, cancel := context.WithTimeout(ctx, leaseCheck)
				err := conn.PingContext(cctx)
				cancel()
				if err != nil && ctx.Err() == nil {
					m.logger.Error("detector role lost: the store session holding it failed", "error", err)
					return
				}
			}
		}
	}()
	l.release = func() {
		close(done)
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(uctx, "SELECT pg_advisory_unlock(?, ?)", store.AdvisoryLockClass, store.LockDetector); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		_ = conn.Close()
	}
	return l
}

// acquireFileLock takes an exclusive lock on "<db file>.detector.lock" next to the SQLite
// file; the kernel releases it when the process dies.
func acquireFileLock(dbPath string) (*lease, error) {
	if dbPath == "" { // in memory: private to this process
		return &lease{lost: make(chan struct{}), release: func() {}}, nil
	}
	path := dbPath + ".detector.lock"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("detector lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		_ = f.Close()
		pid := strings.TrimSpace(string(holder))
		if pid == "" {
			pid = "unknown"
		}
		return nil, fmt.Errorf("%w: process %s already runs the detector on %s; with SQLite only one "+
			"detector may run (start this one with --role api,worker, or use PostgreSQL for standby detectors)",
			ErrDetectorTaken, pid, filepath.Base(dbPath))
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &lease{lost: make(chan struct{}), release: func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}}, nil
}
