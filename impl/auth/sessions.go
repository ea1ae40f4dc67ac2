package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
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

// End deletes the session of a cookie value, if there is one.
func (s *Sessions) End(ctx context.Context, cookie string) error {
	if !ValidSessionCookie(cookie) {
		return nil
	}
	return errs.Wrap(db.DeleteSession(ctx, s.DB, SessionHash(cookie)), "end session")
}

// Logout ends the session of a cookie value at its user's request, if there is one.
func (s *Sessions) Logout(ctx context.Context, cookie string) error {
	if !ValidSessionCookie(cookie) {
		return nil
	}
	err := s.DB.Tx(ctx, func(tx db.Queryer) error {
		id, key, err := db.EndSession(ctx, tx, SessionHash(cookie))
		if err != nil {
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

// Verify resolves a cookie to its user, enforcing the idle and absolute timeouts.
func (s *Sessions) Verify(ctx context.Context, cookie string) (*db.User, string, error) {
	if !ValidSessionCookie(cookie) {
		return nil, "", invalid("session")
	}
	h := SessionHash(cookie)
	sess, u, err := db.SessionWithUser(ctx, s.DB, h)
	if errors.Is(err, db.ErrNotFound) {
		return nil, "", invalid("session")
	} else if err != nil {
		return nil, "", errs.Wrap(err, "load session")
	}
	now := s.Now()
	seen := sess.LastSeenAt
	if at, ok := s.Touches.sessionSeen(string(h)); ok && at.After(seen) {
		seen = at
	}
	if now.Sub(seen) >= s.Idle || now.Sub(sess.CreatedAt) >= s.Max || u.Disabled {
		_ = db.DeleteSession(ctx, s.DB, h)
		return nil, "", invalid("session")
	}
	// a mark a minute at most keeps the idle clock honest; a short idle timeout needs
	// them more often, or an active session would lapse
	if now.Sub(seen) >= min(time.Minute, s.Idle/4) {
		s.Touches.Session(string(h), now)
	}
	return u, string(h), nil
}
