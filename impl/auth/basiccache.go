package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl/account"
)

// BasicCache remembers successful Basic verifications for a short time, so that Kylin
// clients, which send the password on every request, do not pay a password hash per
// request. Entries are keyed by an HMAC of name and password under a key that lives only
// in this process; failures are never cached; a user's entries are dropped as soon as
// their password, state or rights change, on every instance (through LISTEN/NOTIFY).
type BasicCache struct {
	Accounts PasswordChecker
	TTL      time.Duration
	Now      func() time.Time
	Max      int // entries at most

	once    sync.Once
	paused  atomic.Bool
	epoch   atomic.Uint64 // bumped by every drop
	key     []byte
	mu      sync.Mutex
	entries map[[32]byte]basicEntry
}

type basicEntry struct {
	user       *db.User
	expires    time.Time
	refreshing bool
}

func (c *BasicCache) init() {
	c.once.Do(func() {
		c.key = make([]byte, 32)
		_, _ = rand.Read(c.key)
		c.entries = map[[32]byte]basicEntry{}
		if c.Max == 0 {
			c.Max = 10000
		}
	})
}

func (c *BasicCache) mac(username, password string) [32]byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(account.UsernameKey(username)))
	m.Write([]byte{0})
	m.Write([]byte(password))
	var out [32]byte
	copy(out[:], m.Sum(nil))
	return out
}

// PasswordChecker verifies a username and password (account.Core).
type PasswordChecker interface {
	Login(ctx context.Context, username, password string) (*db.User, error)
	// Recheck reads again the user of credentials verified earlier, failing when they no
	// longer hold (password, name, state or lock changed).
	Recheck(ctx context.Context, u *db.User) (*db.User, error)
}

// Verify checks credentials, from the cache when it can.
func (c *BasicCache) Verify(ctx context.Context, username, password string) (*db.User, error) {
	c.init()
	k := c.mac(username, password)
	now := c.Now()
	c.mu.Lock()
	e, ok := c.entries[k]
	// in its last quarter an entry is checked again in the background while it still
	// answers, so that clients sending one password on every request never all miss at
	// once and queue on the password hash. The check reads the user, it does not hash:
	// the password was verified, and any change to it, the name, the state or the lock
	// shows in the row (and drops the entry at once through NOTIFY anyway).
	refresh := ok && !e.refreshing && e.expires.Sub(now) < c.TTL/4
	if refresh {
		e.refreshing = true
		c.entries[k] = e
	}
	c.mu.Unlock()
	if ok && now.Before(e.expires) && !c.paused.Load() {
		if refresh {
			go func() {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				defer cancel()
				c.recheck(rctx, k, e.user)
			}()
		}
		return e.user, nil
	}
	return c.login(ctx, k, username, password)
}

// login verifies credentials and keeps a success under k.
func (c *BasicCache) login(ctx context.Context, k [32]byte, username, password string) (*db.User, error) {
	// a drop while this login runs may be about this very user (a password change, a
	// disable): then its outcome is answered but not kept
	epoch := c.epoch.Load()
	u, err := c.Accounts.Login(ctx, username, password)
	now := c.Now()
	if err != nil || c.paused.Load() {
		c.mu.Lock()
		delete(c.entries, k) // a refresh that failed: the old answer no longer holds
		c.mu.Unlock()
		return u, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch.Load() != epoch {
		return u, nil
	}
	if len(c.entries) >= c.Max {
		for key, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, key)
			}
		}
	}
	if len(c.entries) < c.Max {
		c.entries[k] = basicEntry{user: u, expires: now.Add(c.TTL)}
	}
	return u, nil
}

// recheck renews the entry k of u for another TTL if u's credentials still hold, and
// drops it otherwise (the next request then verifies the password).
func (c *BasicCache) recheck(ctx context.Context, k [32]byte, u *db.User) {
	epoch := c.epoch.Load()
	fresh, err := c.Accounts.Recheck(ctx, u)
	now := c.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil || c.paused.Load() || c.epoch.Load() != epoch {
		delete(c.entries, k)
		return
	}
	c.entries[k] = basicEntry{user: fresh, expires: now.Add(c.TTL)}
}

// Expires says when the entry for these credentials ends, if there is one.
func (c *BasicCache) Expires(username, password string) (time.Time, bool) {
	c.init()
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[c.mac(username, password)]
	return e.expires, ok
}

// DropUser forgets every entry of a user.
func (c *BasicCache) DropUser(id uuid.UUID) {
	c.dropWhere(func(u *db.User) bool { return u.ID == id })
}

// DropName forgets every entry of a login name (case-folded), e.g. when it gets locked.
func (c *BasicCache) DropName(usernameKey string) {
	c.dropWhere(func(u *db.User) bool { return u.UsernameKey == usernameKey })
}

func (c *BasicCache) dropWhere(match func(*db.User) bool) {
	c.init()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch.Add(1)
	for k, e := range c.entries {
		if match(e.user) {
			delete(c.entries, k)
		}
	}
}

// Pause drops every entry and, while paused, neither answers from the cache nor fills
// it: with the invalidation channel down, a change elsewhere could not reach it.
func (c *BasicCache) Pause(paused bool) {
	c.paused.Store(paused)
	c.DropAll()
}

// Paused reports whether the cache is paused.
func (c *BasicCache) Paused() bool { return c.paused.Load() }

// DropAll forgets everything (after a lost LISTEN connection: events may have been missed).
func (c *BasicCache) DropAll() {
	c.init()
	c.mu.Lock()
	c.epoch.Add(1)
	clear(c.entries)
	c.mu.Unlock()
}

// Len is the number of entries (for tests and metrics).
func (c *BasicCache) Len() int {
	c.init()
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
