package db

import (
	"context"
	"log/slog"
	"time"

	"github.com/lib/pq"
)

// Channel carries cache invalidations between instances.
const Channel = "kala_events"

// Notify tells every instance (this one included) that payload changed. Sent inside a
// transaction it is delivered only if that transaction commits.
func Notify(ctx context.Context, q Queryer, payload string) error {
	_, err := q.ExecContext(ctx, `SELECT pg_notify($1, $2)`, Channel, payload)
	return mapErr(err)
}

// Events Listen makes up itself.
const (
	// EventLost: the connection is gone; events may be missed until EventResync.
	EventLost = "lost"
	// EventResync: connected again after a loss; caches must drop all they hold.
	EventResync = "*"
)

// Listen delivers every notification on Channel to onEvent until ctx ends, and
// EventLost / EventResync when its connection goes and comes back.
func Listen(ctx context.Context, url string, log *slog.Logger, onEvent func(payload string)) error {
	// reconnect attempts at most 2 s apart: caches stay off until the listener is back
	l := pq.NewListener(url, 100*time.Millisecond, 2*time.Second, func(ev pq.ListenerEventType, err error) {
		switch ev {
		case pq.ListenerEventReconnected:
			onEvent(EventResync)
		case pq.ListenerEventDisconnected:
			onEvent(EventLost)
			log.Warn("event listener connection lost", "err", err)
		case pq.ListenerEventConnectionAttemptFailed:
			log.Warn("event listener connection", "event", int(ev), "err", err)
		}
	})
	if err := l.Listen(Channel); err != nil {
		l.Close()
		return err
	}
	go func() {
		defer l.Close()
		ping := time.NewTicker(time.Minute)
		defer ping.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case n := <-l.Notify:
				if n == nil { // reconnected; handled by the event callback
					continue
				}
				onEvent(n.Extra)
			case <-ping.C:
				go l.Ping()
			}
		}
	}()
	return nil
}
