// Package account holds the rules about users that both faces share: passwords,
// login and lockout, and the bootstrap admin.
package account

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl/errs"
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

// Service is the account core.
type Service struct {
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
}

// LockFor is how long the n-th consecutive failure locks a name.
func (s *Service) LockFor(n int) time.Duration {
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

// Login checks a username and password, with the lockout rules. Every failure path
// does the same work (a lockout read, a user read, one hash, a counter write), so
// neither the answer nor its timing tells whether the username exists.
func (s *Service) Login(ctx context.Context, username, password string) (*db.User, error) {
	now := s.Now()
	key := UsernameKey(username)
	f, err := db.LoginFailuresOf(ctx, s.DB, key)
	if err != nil {
		return nil, errs.Wrap(err, "read login failures")
	}
	if f != nil && f.LockedUntil != nil && f.LockedUntil.After(now) {
		return nil, locked(*f.LockedUntil)
	}
	u, err := db.UserByKey(ctx, s.DB, key)
	switch {
	case errors.Is(err, db.ErrNotFound):
		s.Hasher.VerifyDummy(ctx, password)
		return nil, s.fail(ctx, key, now)
	case err != nil:
		return nil, errs.Wrap(err, "read user")
	}
	ok, err := s.Hasher.Verify(ctx, u.PasswordHash, password)
	if err != nil {
		return nil, errs.Wrap(err, "verify password")
	}
	if !ok {
		return nil, s.fail(ctx, key, now)
	}
	if u.Disabled {
		return nil, errs.E(errs.Disabled, "user %s is disabled", u.Username)
	}
	if f != nil {
		if err := db.ClearLoginFailures(ctx, s.DB, key); err != nil {
			return nil, errs.Wrap(err, "clear login failures")
		}
	}
	return u, nil
}

// fail counts a failure and returns the error to show: locked when this failure locked
// the name, bad credentials otherwise.
func (s *Service) fail(ctx context.Context, key string, now time.Time) error {
	n, err := db.RecordLoginFailure(ctx, s.DB, key, now, s.LockFor)
	if err != nil {
		return errs.Wrap(err, "record login failure")
	}
	if d := s.LockFor(n); d > 0 {
		if s.Locked != nil {
			s.Locked(ctx, key)
		}
		return locked(now.Add(d))
	}
	return badLogin()
}

// Bootstrap creates the built-in ADMIN when no user exists. It returns the password it
// generated (empty when password was given or nothing was created). Safe to run on
// several instances at once.
func (s *Service) Bootstrap(ctx context.Context, password string) (generated string, created bool, err error) {
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
	err = s.DB.WithAdvisoryLock(ctx, db.LockBootstrap, func(tx *sqlx.Tx) error {
		any, err := db.AnyUser(ctx, tx)
		if err != nil || any {
			return err
		}
		now := s.Now()
		created = true
		return db.InsertUser(ctx, tx, &db.User{
			ID: uuid.Must(uuid.NewV7()), Username: BuiltinAdmin, UsernameKey: UsernameKey(BuiltinAdmin),
			PasswordHash: hash, Admin: true, Builtin: true, DefaultPassword: true,
			Authorities: []string{AuthorityAllUsers, AuthorityAdmin}, Permissions: []string{},
			CredentialVersion: 1, CreatedAt: now, ModifiedAt: now,
		})
	})
	if err != nil || !created {
		return "", false, err
	}
	return generated, true, nil
}

// SetPassword sets a user's password after checking the rule; isDefault marks a password
// someone else chose (an admin reset), which the user should change.
// Every session of the user but keepSession ends, and so does every token.
func (s *Service) SetPassword(ctx context.Context, userID uuid.UUID, password string, isDefault bool, keepSession []byte) error {
	if err := CheckPassword("password", password); err != nil {
		return err
	}
	hash, err := s.Hasher.Hash(ctx, password)
	if err != nil {
		return errs.Wrap(err, "hash password")
	}
	return s.DB.Tx(ctx, func(tx *sqlx.Tx) error {
		if err := db.SetPassword(ctx, tx, userID, hash, isDefault, s.Now(), keepSession); err != nil {
			if errors.Is(err, db.ErrNotFound) {
				return errs.E(errs.NotFound, "no such user")
			}
			return errs.Wrap(err, "set password")
		}
		if s.Changed != nil {
			return s.Changed(ctx, tx, userID)
		}
		return nil
	})
}

// ResetPassword gives username a new random password and returns it.
func (s *Service) ResetPassword(ctx context.Context, username string) (string, error) {
	u, err := db.UserByKey(ctx, s.DB, UsernameKey(username))
	if errors.Is(err, db.ErrNotFound) {
		return "", errs.E(errs.NotFound, "no user named %q", username)
	} else if err != nil {
		return "", err
	}
	pw := RandomPassword()
	return pw, s.SetPassword(ctx, u.ID, pw, true, nil)
}
