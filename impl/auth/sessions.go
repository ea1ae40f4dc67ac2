package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"time"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl/audit"
	"github.com/kala-server/kala/impl/errs"
)

// Sessions are Kylin's cookie sessions. The cookie holds 256 random bits; the database
// holds only their SHA-256, so a copy of the table opens no session.
type Sessions struct {
	DB   *db.DB
	Now  func() time.Time
	Idle time.Duration // ends after this long without a request
	Max  time.Duration // ends this long after login, whatever happens
	// Touches records each session's last use in the background.
	Touches *Touches
	// Cache keeps sessions and users for warm requests (nil: none kept).
	Cache *PrincipalCache
}

// SessionHash is how a cookie value is stored.
func SessionHash(cookie string) []byte {
	h := sha256.Sum256([]byte(cookie))
	return h[:]
}

// ValidSessionCookie reports whether v has the shape of a cookie this server issues
// (43 characters of unpadded base64url), so junk costs no database trip.
func ValidSessionCookie(v string) bool {
	if len(v) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil
}

// Start makes a session for u, who just logged in, and returns the cookie value.
func (s *Sessions) Start(ctx context.Context, u *db.User) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	v := base64.RawURLEncoding.EncodeToString(b[:])
	now := s.Now()
	err := s.DB.Tx(ctx, func(tx db.Queryer) error {
		if err := db.InsertSession(ctx, tx, &db.Session{IDHash: SessionHash(v), UserID: u.ID, CreatedAt: now, LastSeenAt: now}); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{At: now, Name: audit.SessionLogin,
			Actor: audit.Actor{ID: u.ID.String(), Name: u.UsernameKey}, Target: u.ID.String()})
	})
	return v, errs.Wrap(err, "start session")
}

// End deletes the session of a cookie value, if there is one, and has every instance
// forget it.
func (s *Sessions) End(ctx context.Context, cookie string) error {
	if !ValidSessionCookie(cookie) {
		return nil
	}
	h := SessionHash(cookie)
	s.Cache.DropSession(string(h))
	err := s.DB.Tx(ctx, func(tx db.Queryer) error {
		if err := db.DeleteSession(ctx, tx, h); err != nil {
			return err
		}
		return db.Notify(ctx, tx, db.Event{Kind: db.EventSession, Name: hex.EncodeToString(h)})
	})
	return errs.Wrap(err, "end session")
}

// Logout ends the session of a cookie value at its user's request, if there is one.
func (s *Sessions) Logout(ctx context.Context, cookie string) error {
	if !ValidSessionCookie(cookie) {
		return nil
	}
	h := SessionHash(cookie)
	s.Cache.DropSession(string(h))
	err := s.DB.Tx(ctx, func(tx db.Queryer) error {
		id, key, err := db.EndSession(ctx, tx, h)
		if err != nil {
			return err
		}
		if err := db.Notify(ctx, tx, db.Event{Kind: db.EventSession, Name: hex.EncodeToString(h)}); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{At: s.Now(), Name: audit.SessionLogout,
			Actor: audit.Actor{ID: id.String(), Name: key}, Target: id.String()})
	})
	if errors.Is(err, db.ErrNotFound) {
		return nil
	}
	return errs.Wrap(err, "end session")
}

// Verify resolves a cookie to its user, enforcing the idle and absolute timeouts. A
// warm session is answered from the cache; one that looks idle there is read again
// before it is ended, as its use may have been seen by another instance.
func (s *Sessions) Verify(ctx context.Context, cookie string) (*db.User, string, error) {
	if !ValidSessionCookie(cookie) {
		return nil, "", invalid("session")
	}
	h := SessionHash(cookie)
	key := string(h)
	now := s.Now()
	sess, u, err := s.cached(ctx, key)
	if err != nil || sess == nil || now.Sub(s.seen(sess)) >= s.Idle {
		epoch := s.Cache.Epoch()
		sess, u, err = db.SessionWithUser(ctx, s.DB, h)
		if errors.Is(err, db.ErrNotFound) {
			return nil, "", invalid("session")
		} else if err != nil {
			return nil, "", errs.Wrap(err, "load session")
		}
		s.Cache.PutSession(epoch, sess)
		s.Cache.PutUser(epoch, u)
	}
	seen := s.seen(sess)
	if now.Sub(seen) >= s.Idle || now.Sub(sess.CreatedAt) >= s.Max || u.Disabled {
		_ = s.End(ctx, cookie)
		return nil, "", invalid("session")
	}
	// a mark a minute at most keeps the idle clock honest; a short idle timeout needs
	// them more often, or an active session would lapse
	if now.Sub(seen) >= min(time.Minute, s.Idle/4) {
		s.Touches.Session(key, now)
		s.Cache.SessionSeen(key, now)
	}
	return u, key, nil
}

// cached is a kept session and its user, or nils.
func (s *Sessions) cached(ctx context.Context, key string) (*db.Session, *db.User, error) {
	sess, ok := s.Cache.Session(key)
	if !ok {
		return nil, nil, nil
	}
	u, err := s.Cache.user(ctx, s.DB, sess.UserID)
	return sess, u, err
}

// seen is a session's last use as this instance knows it: stored, or marked and not
// yet written.
func (s *Sessions) seen(sess *db.Session) time.Time {
	if at, ok := s.Touches.sessionSeen(string(sess.IDHash)); ok && at.After(sess.LastSeenAt) {
		return at
	}
	return sess.LastSeenAt
}
