package auth

import (
	"context"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/kala-server/kala/db"
)

// Touches records when API keys and sessions were last used without a write in the
// request: a use is marked in memory, and Run writes the marks of each kind in one
// statement every interval. Verify consults the marks not yet written, so this
// instance's idle clock is exact; another instance sees a session's use at most one
// interval late (the idle timeout is minutes).
type Touches struct {
	DB  *db.DB
	Log *slog.Logger

	mu       sync.Mutex
	keys     map[uuid.UUID]time.Time
	sessions map[string]time.Time // by id hash
}

// Key marks a use of an API key.
func (t *Touches) Key(id uuid.UUID, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.keys == nil {
		t.keys = map[uuid.UUID]time.Time{}
	}
	if at.After(t.keys[id]) {
		t.keys[id] = at
	}
}

// Session marks a use of a session.
func (t *Touches) Session(idHash string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sessions == nil {
		t.sessions = map[string]time.Time{}
	}
	if at.After(t.sessions[idHash]) {
		t.sessions[idHash] = at
	}
}

// sessionSeen is the latest unwritten use of a session, if any.
func (t *Touches) sessionSeen(idHash string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.sessions[idHash]
	return at, ok
}

// Flush writes the marks made so far. A mark stays visible to Verify until it is
// written (dropping it first would open a moment in which neither memory nor the
// database knows of the use), and one that fails to be written is tried again.
func (t *Touches) Flush(ctx context.Context) error {
	t.mu.Lock()
	keys, sessions := maps.Clone(t.keys), maps.Clone(t.sessions)
	t.mu.Unlock()
	if err := db.TouchAPIKeys(ctx, t.DB, keys); err != nil {
		return err
	}
	forget(&t.mu, &t.keys, keys)
	if err := db.TouchSessions(ctx, t.DB, sessions); err != nil {
		return err
	}
	forget(&t.mu, &t.sessions, sessions)
	return nil
}

// forget drops the written marks that no newer mark replaced.
func forget[K comparable](mu *sync.Mutex, marks *map[K]time.Time, written map[K]time.Time) {
	mu.Lock()
	defer mu.Unlock()
	for k, at := range written {
		if (*marks)[k].Equal(at) {
			delete(*marks, k)
		}
	}
}

// Run flushes every interval until ctx ends, and once more then.
func (t *Touches) Run(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := t.Flush(last); err != nil {
				t.Log.Warn("record last uses", "err", err)
			}
			return
		case <-tick.C:
			if err := t.Flush(ctx); err != nil && ctx.Err() == nil {
				t.Log.Warn("record last uses", "err", err)
			}
		}
	}
}
