package auth

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/kala-server/kala/db"
)

// PrincipalCache keeps what authenticating a bearer token or an API key reads, so that a
// warm request costs no database trip and no signature check: verified tokens by their
// hash until they expire, users by id, API keys (with their owners) by lookup id,
// sessions by the hash of their cookie. Entries
// are dropped the moment this instance changes them and, through LISTEN/NOTIFY, when
// another instance does; while the listener is down nothing is cached. An entry read
// while a drop happened is not kept (the drop may have been about it), failures are never
// kept, and every entry is re-read after TTL at the latest.
type PrincipalCache struct {
	TTL time.Duration
	Now func() time.Time
	Max int // entries per kind at most

	mu       sync.Mutex
	epoch    uint64 // bumped by every drop
	paused   bool
	tokens   map[[32]byte]tokenEntry
	users    map[uuid.UUID]entry[db.User]
	keys     map[string]entry[db.APIKeyWithOwner]
	sessions map[string]entry[db.Session] // by id hash
}

// entry is a kept row and when it must be read again.
type entry[V any] struct {
	v       V
	expires time.Time
}

type tokenEntry struct {
	sub uuid.UUID
	ver int64
	exp time.Time
}

func (c *PrincipalCache) lockedInit() {
	if c.tokens == nil {
		c.tokens, c.users = map[[32]byte]tokenEntry{}, map[uuid.UUID]entry[db.User]{}
		c.keys, c.sessions = map[string]entry[db.APIKeyWithOwner]{}, map[string]entry[db.Session]{}
		if c.Max == 0 {
			c.Max = 100_000
		}
	}
}

// Epoch is taken before a read whose result may be kept (see PutUser, PutKey).
func (c *PrincipalCache) Epoch() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
}

func tokenHash(raw string) [32]byte { return sha256.Sum256([]byte(raw)) }

// Token returns a verified token's subject and credential version.
func (c *PrincipalCache) Token(raw string) (uuid.UUID, int64, bool) {
	if c == nil {
		return uuid.Nil, 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lockedInit()
	e, ok := c.tokens[tokenHash(raw)]
	if !ok || c.paused || !c.Now().Before(e.exp) {
		return uuid.Nil, 0, false
	}
	return e.sub, e.ver, true
}

// PutToken keeps a token whose signature and claims were verified, until it expires.
func (c *PrincipalCache) PutToken(raw string, sub uuid.UUID, ver int64, exp time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lockedInit()
	if c.paused || !c.room(len(c.tokens)) {
		for k, e := range c.tokens {
			if !c.Now().Before(e.exp) {
				delete(c.tokens, k)
			}
		}
		if c.paused || !c.room(len(c.tokens)) {
			return
		}
	}
	c.tokens[tokenHash(raw)] = tokenEntry{sub: sub, ver: ver, exp: exp}
}

func (c *PrincipalCache) room(n int) bool { return n < c.Max }

// User returns a copy of a kept user.
func (c *PrincipalCache) User(id uuid.UUID) (*db.User, bool) {
	return lookup(c, func() map[uuid.UUID]entry[db.User] { return c.users }, id)
}

// PutUser keeps a user read after Epoch returned epoch, unless something was dropped since.
func (c *PrincipalCache) PutUser(epoch uint64, u *db.User) {
	keep(c, func() map[uuid.UUID]entry[db.User] { return c.users }, epoch, u.ID, u)
}

// Key returns a copy of a kept API key row.
func (c *PrincipalCache) Key(lookupID string) (*db.APIKeyWithOwner, bool) {
	return lookup(c, func() map[string]entry[db.APIKeyWithOwner] { return c.keys }, lookupID)
}

// PutKey keeps an API key row read after Epoch returned epoch, unless something was
// dropped since.
func (c *PrincipalCache) PutKey(epoch uint64, lookupID string, r *db.APIKeyWithOwner) {
	keep(c, func() map[string]entry[db.APIKeyWithOwner] { return c.keys }, epoch, lookupID, r)
}

// lookup returns a copy of what m keeps under k, if it is still fresh.
func lookup[K comparable, V any](c *PrincipalCache, m func() map[K]entry[V], k K) (*V, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lockedInit()
	e, ok := m()[k]
	if !ok || c.paused || !c.Now().Before(e.expires) {
		return nil, false
	}
	v := e.v
	return &v, true
}

// keep stores a copy of v, read after Epoch returned epoch, unless something was dropped
// since (the drop may have been about it).
func keep[K comparable, V any](c *PrincipalCache, m func() map[K]entry[V], epoch uint64, k K, v *V) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lockedInit()
	if c.paused || c.epoch != epoch || !c.room(len(m())) {
		return
	}
	m()[k] = entry[V]{v: *v, expires: c.Now().Add(c.TTL)}
}

// KeyUsed records in a kept key that it was used at t (written to the database apart).
func (c *PrincipalCache) KeyUsed(lookupID string, t time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lockedInit()
	if e, ok := c.keys[lookupID]; ok {
		e.v.Key.LastUsedAt = &t
		c.keys[lookupID] = e
	}
}

// Session returns a copy of a kept session.
func (c *PrincipalCache) Session(idHash string) (*db.Session, bool) {
	return lookup(c, func() map[string]entry[db.Session] { return c.sessions }, idHash)
}

// PutSession keeps a session read after Epoch returned epoch, unless something was
// dropped since.
func (c *PrincipalCache) PutSession(epoch uint64, sess *db.Session) {
	keep(c, func() map[string]entry[db.Session] { return c.sessions }, epoch, string(sess.IDHash), sess)
}

// SessionSeen records in a kept session that it was used at t (written apart).
func (c *PrincipalCache) SessionSeen(idHash string, t time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lockedInit()
	if e, ok := c.sessions[idHash]; ok && t.After(e.v.LastSeenAt) {
		e.v.LastSeenAt = t
		c.sessions[idHash] = e
	}
}

// DropSession forgets a session (ended).
func (c *PrincipalCache) DropSession(idHash string) {
	c.drop(func() { delete(c.sessions, idHash) })
}

// DropUser forgets a user, the keys they own and their sessions.
func (c *PrincipalCache) DropUser(id uuid.UUID) {
	c.drop(func() {
		delete(c.users, id)
		for k, e := range c.keys {
			if e.v.Owner.ID == id {
				delete(c.keys, k)
			}
		}
		for k, e := range c.sessions {
			if e.v.UserID == id {
				delete(c.sessions, k)
			}
		}
	})
}

// DropName forgets the user of a login name (its lock state changed).
func (c *PrincipalCache) DropName(usernameKey string) {
	c.drop(func() {
		for id, e := range c.users {
			if e.v.UsernameKey == usernameKey {
				delete(c.users, id)
			}
		}
		for k, e := range c.keys {
			if e.v.Owner.UsernameKey == usernameKey {
				delete(c.keys, k)
			}
		}
	})
}

// User reads a user through the cache.
func (c *PrincipalCache) user(ctx context.Context, d *db.DB, id uuid.UUID) (*db.User, error) {
	if u, ok := c.User(id); ok {
		return u, nil
	}
	epoch := c.Epoch()
	u, err := db.UserByID(ctx, d, id)
	if err == nil {
		c.PutUser(epoch, u)
	}
	return u, err
}

// DropKey forgets an API key (revoked).
func (c *PrincipalCache) DropKey(id uuid.UUID) {
	c.drop(func() {
		for k, e := range c.keys {
			if e.v.Key.ID == id {
				delete(c.keys, k)
			}
		}
	})
}

// Pause drops everything and, while paused, keeps and answers nothing.
func (c *PrincipalCache) Pause(paused bool) {
	c.drop(func() {
		c.paused = paused
		clear(c.tokens)
		clear(c.users)
		clear(c.keys)
		clear(c.sessions)
	})
}

func (c *PrincipalCache) drop(f func()) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lockedInit()
	c.epoch++
	f()
}
