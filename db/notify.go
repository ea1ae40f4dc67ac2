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

// Listen delivers every notification on Channel to onEvent until ctx ends. After a lost
// connection it calls onEvent("*"): events may have been missed, so caches must drop all.
func Listen(ctx context.Context, url string, log *slog.Logger, onEvent func(payload string)) error {
	l := pq.NewListener(url, time.Second, 30*time.Second, func(ev pq.ListenerEventType, err error) {
		switch ev {
		case pq.ListenerEventReconnected:
			onEvent("*")
		case pq.ListenerEventConnectionAttemptFailed, pq.ListenerEventDisconnected:
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
