// Package account holds the rules about users that both faces share: passwords,
// login and lockout, and the bootstrap admin.
package account

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"math"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/singleflight"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl/audit"
	"github.com/kala-server/kala/impl/errs"
	"github.com/kala-server/kala/impl/ratelimit"
)

// Authorities every user has, and the admin one.
const (
	AuthorityAllUsers = "ALL_USERS"
	AuthorityAdmin    = "ROLE_ADMIN"
	BuiltinAdmin      = "ADMIN"
)

// DefaultLockSchedule is Kylin's: index = consecutive failures; the last entry applies
// to every later failure.
var DefaultLockSchedule = []time.Duration{0, 0, 0, 30 * time.Second, time.Minute, 5 * time.Minute,
	10 * time.Minute, 30 * time.Minute, 24 * time.Hour}

// Core is the account core.
type Core struct {
	DB           *db.DB
	Hasher       *Hasher
	Now          func() time.Time
	LockSchedule []time.Duration
	// Changed is called after a user's credentials or rights changed (password, disable,
	// delete), inside the transaction, so every instance drops what it cached of them.
	Changed func(ctx context.Context, q db.Queryer, userID uuid.UUID) error
	// Locked is called when failures lock a login name, so caches of successful logins
	// for that name stop answering for it.
	Locked func(ctx context.Context, usernameKey string)
	// Guard limits password attempts and failures per client address (nil: no limits).
	Guard *ratelimit.Guard

	flight     singleflight.Group
	flightOnce sync.Once
	flightMAC  []byte
}

// LockFor is how long the n-th consecutive failure locks a name.
func (s *Core) LockFor(n int) time.Duration {
	sch := s.LockSchedule
	if len(sch) == 0 {
		return 0
	}
	if n >= len(sch) {
		return sch[len(sch)-1]
	}
	if n < 0 {
		return 0
	}
	return sch[n]
}

func badLogin() error { return errs.E(errs.BadLogin, "bad username or password") }

func locked(until time.Time) error {
	e := errs.E(errs.Locked, "too many failed logins; locked until %s", until.UTC().Format(time.RFC3339))
	e.Until = until
	return e
}

// Login checks a username and password under the lockout schedule and the client's
// password rate limit. Concurrent logins with the same name and password share one
// verification (a Kylin client firing Basic requests in parallel must not burn the
// name's budget on itself).
func (s *Core) Login(ctx context.Context, username, password string) (*db.User, error) {
	if err := s.Guard.Check(ctx); err != nil {
		return nil, err
	}
	// the whole login is urgent work, not only its hash: its reads and writes wait for a
	// processor too, and under a query flood they took as long as the hash
	defer s.Hasher.Gate.Urgent()()
	key := UsernameKey(username)
	v, err, _ := s.flight.Do(s.flightKey(key, password), func() (any, error) {
		// the leader's request may end first; the verification is everyone's
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), attemptLease)
		defer cancel()
		if err := s.Guard.Password(lctx); err != nil {
			return nil, err
		}
		return s.login(lctx, key, password)
	})
	if err != nil {
		if c := errs.CodeOf(err); c == errs.BadLogin || c == errs.Locked {
			if over := s.Guard.Failed(ctx); over != nil {
				err = over
			}
		}
		s.recordLogin(ctx, key, nil, err)
		return nil, err
	}
	u := v.(*db.User)
	s.recordLogin(ctx, key, u, nil)
	return u, nil
}

// recordLogin writes the audit event of one login attempt; one that was never judged
// (the database failed) is not an event.
func (s *Core) recordLogin(ctx context.Context, key string, u *db.User, err error) {
	ev := audit.Event{At: s.Now(), Name: audit.LoginSuccess, Actor: audit.Actor{Name: key}}
	if u != nil {
		ev.Actor.ID = u.ID.String()
	}
	if err != nil {
		code := errs.CodeOf(err)
		if code == errs.Internal || code == errs.Unavailable {
			return
		}
		ev.Name, ev.Outcome, ev.Detail = audit.LoginFailure, audit.Failure, map[string]any{"reason": string(code)}
	}
	_ = audit.Record(context.WithoutCancel(ctx), s.DB, ev) // the answer stands without it
}

// attemptLease bounds one password verification, queueing for a hash slot included; a
// reservation of an instance that dies mid-verification lapses after it.
const attemptLease = 15 * time.Second

// flightKey names one (login name, password) pair for sharing a verification, without
// keeping the password itself as a map key.
func (s *Core) flightKey(key, password string) string {
	s.flightOnce.Do(func() {
		s.flightMAC = make([]byte, 32)
		_, _ = rand.Read(s.flightMAC)
	})
	m := hmac.New(sha256.New, s.flightMAC)
	m.Write([]byte(key))
	m.Write([]byte{0})
	m.Write([]byte(password))
	return string(m.Sum(nil))
}

// lockThreshold is the number of consecutive failures that first locks a name.
func (s *Core) lockThreshold() int {
	for i := 1; i < len(s.LockSchedule); i++ {
		if s.LockSchedule[i] > 0 {
			return i
		}
	}
	return math.MaxInt32
}

// login verifies one password. The name's verification is reserved in PostgreSQL before
// any hashing (db.ReserveLoginAttempt), so however many requests, instances and password
// paths race, no more passwords are checked than the schedule allows before it locks:
// a request that finds the budget taken by verifications in flight waits for their
// outcome, and then sees the lock they earned. Every failure path does the same work (a
// reservation, a user read, one hash, a counter write), so neither the answer nor its
// timing tells whether the username exists.
func (s *Core) login(ctx context.Context, key, password string) (*db.User, error) {
	if err := s.reserve(ctx, key); err != nil {
		return nil, err
	}
	// a reservation ends exactly once: success, failure, or unjudged
	u, hash, err := db.UserByKeyWithHash(ctx, s.DB, key)
	switch {
	case errors.Is(err, db.ErrNotFound):
		s.Hasher.VerifyDummy(ctx, password)
		return nil, s.fail(ctx, key)
	case err != nil:
		s.unjudged(key)
		return nil, errs.Wrap(err, "read user")
	}
	ok, err := s.Hasher.Verify(ctx, hash, password)
	if err != nil {
		s.unjudged(key)
		return nil, errs.Wrap(err, "verify password")
	}
	if !ok {
		return nil, s.fail(ctx, key)
	}
	if u.Disabled {
		s.unjudged(key)
		return nil, errs.E(errs.Disabled, "user %s is disabled", u.Username)
	}
	if err := db.ReleaseLoginSuccess(ctx, s.DB, key); err != nil {
		return nil, errs.Wrap(err, "clear login failures")
	}
	return u, nil
}

// reserve waits for the right to verify one password of key.
func (s *Core) reserve(ctx context.Context, key string) error {
	wait := 5 * time.Millisecond
	threshold := s.lockThreshold()
	for {
		now := s.Now()
		res, err := db.ReserveLoginAttempt(ctx, s.DB, key, now, threshold, attemptLease)
		if err != nil {
			return errs.Wrap(err, "reserve login attempt")
		}
		if res.LockedUntil != nil {
			return locked(*res.LockedUntil)
		}
		if res.Granted {
			return nil
		}
		// verifications in flight may lock the name: their outcome decides this one
		t := time.NewTimer(wait + time.Duration(mrand.Int64N(int64(wait))))
		select {
		case <-ctx.Done():
			t.Stop()
			e := errs.E(errs.TooMany, "other logins of this name are being checked; try again")
			e.RetryAfter = time.Second
			return e
		case <-t.C:
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// unjudged ends a reservation whose password was not judged. It must run even when the
// request's context has ended, or the name's budget would stay taken until the lease ends.
func (s *Core) unjudged(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = db.ReleaseLoginAttempt(ctx, s.DB, key)
}

// fail counts a failure and returns the error to show: locked when this failure locked
// the name, bad credentials otherwise.
func (s *Core) fail(ctx context.Context, key string) error {
	now := s.Now()
	_, until, err := db.ReleaseLoginFailure(ctx, s.DB, key, now, s.LockSchedule)
	if err != nil {
		s.unjudged(key)
		return errs.Wrap(err, "record login failure")
	}
	if until != nil {
		if s.Locked != nil {
			s.Locked(ctx, key)
		}
		_ = audit.Record(ctx, s.DB, audit.Event{At: now, Name: audit.LoginLocked, Outcome: audit.Failure,
			Actor: audit.Actor{Name: key}, Detail: map[string]any{"until": until.UTC().Format(time.RFC3339)}})
		return locked(*until)
	}
	return badLogin()
}

// Bootstrap creates the built-in ADMIN when no user exists. It returns the password it
// generated (empty when password was given or nothing was created). Safe to run on
// several instances at once.
func (s *Core) Bootstrap(ctx context.Context, password string) (generated string, created bool, err error) {
	if password == "" {
		generated = RandomPassword()
		password = generated
	} else if err := CheckPassword("KALA_ADMIN_PASSWORD", password); err != nil {
		return "", false, err
	}
	hash, err := s.Hasher.Hash(ctx, password)
	if err != nil {
		return "", false, err
	}
	err = s.DB.WithAdvisoryLock(ctx, db.LockBootstrap, func(tx db.Queryer) error {
		any, err := db.AnyUser(ctx, tx)
		if err != nil || any {
			return err
		}
		now := s.Now()
		created = true
		return db.InsertUser(ctx, tx, &db.User{
			ID: uuid.Must(uuid.NewV7()), Username: BuiltinAdmin, UsernameKey: UsernameKey(BuiltinAdmin),
			Admin: true, Builtin: true, DefaultPassword: true,
			Authorities: []string{AuthorityAllUsers, AuthorityAdmin}, Permissions: []string{},
			CredentialVersion: 1, CreatedAt: now, ModifiedAt: now,
		}, hash)
	})
	if err != nil || !created {
		return "", false, err
	}
	return generated, true, nil
}
