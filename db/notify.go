package db

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lib/pq"
)

// Channel carries cache invalidations between instances.
const Channel = "kala_events"

// Event is one change every instance must learn of, so that none keeps answering from
// what it cached before the change.
type Event struct {
	Kind EventKind
	ID   uuid.UUID // EventUser, EventKey
	// Name is the normalised login name (EventLocked) or the client's bucket (EventRate).
	Name  string
	Until time.Time // EventRate: the client is refused until then
}

// EventKind is what changed.
type EventKind string

const (
	EventUser        EventKind = "user"         // a user's password, state or rights
	EventKey         EventKind = "key"          // an API key revoked
	EventLocked      EventKind = "locked"       // a login name locked
	EventSession     EventKind = "session"      // a session ended (Name: its id hash, hex)
	EventRate        EventKind = "rate"         // a client over a rate limit
	EventSigningKeys EventKind = "signing-keys" // the token signing keys
	// Made by Listen, never sent: the connection is gone and events may be missed
	// (EventLost) until it is back (EventResync), when caches must drop all they hold.
	EventLost   EventKind = "lost"
	EventResync EventKind = "*"
)

// payload is e on the wire: "<kind>[:<fields>]". The format is shared by every instance
// of a cluster, old and new during a rolling upgrade: change it only compatibly.
func (e Event) payload() string {
	switch e.Kind {
	case EventUser, EventKey:
		return string(e.Kind) + ":" + e.ID.String()
	case EventLocked, EventSession:
		return string(e.Kind) + ":" + e.Name
	case EventRate:
		return fmt.Sprintf("%s:%d:%s", e.Kind, e.Until.UnixMilli(), e.Name)
	}
	return string(e.Kind)
}

// ParseEvent reads a payload; ok is false for one this version does not know.
func ParseEvent(payload string) (e Event, ok bool) {
	kind, rest, _ := strings.Cut(payload, ":")
	e.Kind = EventKind(kind)
	switch e.Kind {
	case EventUser, EventKey:
		id, err := uuid.Parse(rest)
		e.ID = id
		return e, err == nil
	case EventLocked, EventSession:
		e.Name = rest
		return e, rest != ""
	case EventRate:
		ms, bucket, found := strings.Cut(rest, ":")
		n, err := strconv.ParseInt(ms, 10, 64)
		e.Until, e.Name = time.UnixMilli(n), bucket
		return e, found && err == nil && bucket != ""
	case EventSigningKeys:
		return e, rest == "" && !strings.Contains(payload, ":")
	}
	return e, false
}

// Notify tells every instance (this one included) of e. Sent inside a transaction it is
// delivered only if that transaction commits.
func Notify(ctx context.Context, q Queryer, e Event) error {
	_, err := q.ExecContext(ctx, `SELECT pg_notify($1, $2)`, Channel, e.payload())
	return mapErr(err)
}

// Listen delivers every event on Channel to onEvent until ctx ends, and EventLost /
// EventResync when its connection goes and comes back. A payload this version cannot
// read is logged and skipped.
func Listen(ctx context.Context, url string, log *slog.Logger, onEvent func(Event)) error {
	// reconnect attempts at most 2 s apart: caches stay off until the listener is back
	l := pq.NewListener(url, 100*time.Millisecond, 2*time.Second, func(ev pq.ListenerEventType, err error) {
		switch ev {
		case pq.ListenerEventReconnected:
			onEvent(Event{Kind: EventResync})
		case pq.ListenerEventDisconnected:
			onEvent(Event{Kind: EventLost})
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
				if e, ok := ParseEvent(n.Extra); ok {
					onEvent(e)
				} else {
					log.Warn("unknown event", "payload", n.Extra)
				}
			case <-ping.C:
				go l.Ping()
			}
		}
	}()
	return nil
}
