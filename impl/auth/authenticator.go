package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl/account"
	"github.com/kala-server/kala/impl/contract"
	"github.com/kala-server/kala/impl/errs"
	"github.com/kala-server/kala/impl/ratelimit"
)

// Authenticator verifies the credential of one security scheme.
type Authenticator struct {
	Contract *contract.Contract
	DB       *db.DB
	Accounts *account.Core
	Tokens   *Tokens
	Now      func() time.Time
	// Sessions verifies session cookies (nil: the cookie scheme accepts nothing).
	Sessions SessionVerifier
	// Basic verifies Basic credentials (nil: Accounts.Login on every request).
	Basic BasicVerifier
	// OnFailure counts failures by scheme (metrics).
	OnFailure func(scheme string)
	// Cache keeps verified tokens, users and API keys (nil: none kept).
	Cache *PrincipalCache
	// Guard refuses clients over their failed-credential limit before any verification,
	// and counts their failures (nil: no limits).
	Guard *ratelimit.Guard
	// Touches records each API key's last use in the background.
	Touches *Touches
}

// SessionVerifier resolves a session cookie value to its user and stored session id.
type SessionVerifier interface {
	Verify(ctx context.Context, cookie string) (*db.User, string, error)
}

// BasicVerifier checks a username and password, possibly from a cache of recent successes.
type BasicVerifier interface {
	Verify(ctx context.Context, username, password string) (*db.User, error)
}

// ErrNoCredential is the 401 of a request that carries no credential an operation
// accepts. Cheap; shown only when no scheme's credential was presented at all.
var ErrNoCredential = errs.E(errs.Unauthorized, "a valid credential is required").WithReason(errs.ReasonNoCredentials)

func invalid(what string) error { return errs.E(errs.Unauthorized, "invalid %s", what) }

// SessionCookie is the session cookie's name (Kylin's).
const SessionCookie = "JSESSIONID"

// Verify turns one presented credential of scheme (the Authorization header's
// credentials for Bearer and Basic, the key, the cookie's value) into its Principal.
// A client over its rate limit is refused before the credential is looked at, and a
// refused credential counts against it; password failures are counted by the account
// core, which sees every password path. Reading credentials off a request is the
// server's part; a failure to verify is counted by scheme through OnFailure.
func (a *Authenticator) Verify(ctx context.Context, scheme, credential string) (*Principal, error) {
	p, err := a.guarded(ctx, scheme, credential)
	if err != nil && a.OnFailure != nil {
		a.OnFailure(scheme)
	}
	return p, err
}

func (a *Authenticator) guarded(ctx context.Context, scheme, credential string) (*Principal, error) {
	if a.Guard != nil {
		if err := a.Guard.Check(ctx); err != nil {
			return nil, err
		}
	}
	p, err := a.verify(ctx, scheme, credential)
	if err != nil && scheme != SchemeBasic && errs.CodeOf(err) == errs.Unauthorized {
		if over := a.Guard.Failed(ctx); over != nil {
			return nil, over
		}
	}
	return p, err
}

func (a *Authenticator) verify(ctx context.Context, scheme, v string) (*Principal, error) {
	switch scheme {
	case SchemeBearer:
		return a.bearer(ctx, v)
	case SchemeAPIKeyHeader, SchemeAPIKeyQuery:
		return a.apiKey(ctx, v, scheme)
	case SchemeBasic:
		user, pass, err := ParseBasic(v)
		if err != nil {
			return nil, errs.E(errs.BadLogin, "bad username or password")
		}
		var u *db.User
		if a.Basic != nil {
			u, err = a.Basic.Verify(ctx, user, pass)
		} else {
			u, err = a.Accounts.Login(ctx, user, pass)
		}
		if err != nil {
			return nil, err
		}
		return NewUserPrincipal(a.Contract, u, scheme), nil
	case SchemeCookie:
		if a.Sessions == nil {
			return nil, ErrNoCredential
		}
		u, sid, err := a.Sessions.Verify(ctx, v)
		if err != nil {
			return nil, err
		}
		p := NewUserPrincipal(a.Contract, u, scheme)
		p.SessionID = sid
		return p, nil
	}
	return nil, errs.E(errs.Internal, "unknown security scheme %q", scheme)
}

func (a *Authenticator) bearer(ctx context.Context, raw string) (*Principal, error) {
	id, ver, ok := a.Cache.Token(raw)
	if !ok {
		c, err := a.Tokens.Verify(ctx, raw)
		if err != nil {
			return nil, invalid("access token")
		}
		if id, err = uuid.Parse(c.Subject); err != nil {
			return nil, invalid("access token")
		}
		ver = c.Ver
		a.Cache.PutToken(raw, id, ver, c.ExpiresAt.Time)
	}
	u, err := a.user(ctx, id)
	if errors.Is(err, db.ErrNotFound) {
		return nil, invalid("access token")
	} else if err != nil {
		return nil, errs.Wrap(err, "load user")
	}
	if u.Disabled || u.CredentialVersion != ver {
		return nil, invalid("access token")
	}
	return NewUserPrincipal(a.Contract, u, SchemeBearer), nil
}

// user reads a user, from the cache when it can.
func (a *Authenticator) user(ctx context.Context, id uuid.UUID) (*db.User, error) {
	return a.Cache.user(ctx, a.DB, id)
}

func (a *Authenticator) apiKey(ctx context.Context, key, scheme string) (*Principal, error) {
	lookup, secret, err := ParseAPIKey(key)
	if err != nil {
		return nil, invalid("API key")
	}
	r, ok := a.Cache.Key(lookup)
	if !ok {
		epoch := a.Cache.Epoch()
		r, err = db.APIKeyByLookup(ctx, a.DB, lookup)
		if errors.Is(err, db.ErrNotFound) {
			return nil, invalid("API key")
		} else if err != nil {
			return nil, errs.Wrap(err, "load API key")
		}
		a.Cache.PutKey(epoch, lookup, r)
	}
	if subtle.ConstantTimeCompare(HashSecret(secret), r.Key.SecretHash) != 1 {
		return nil, invalid("API key")
	}
	now := a.Now()
	if now.Before(r.Key.ValidFrom) || !now.Before(r.Key.ValidTo) || r.Owner.Disabled {
		return nil, invalid("API key")
	}
	if r.Key.LastUsedAt == nil || now.Sub(*r.Key.LastUsedAt) >= time.Minute {
		// marked at most once a minute per key (the kept row learns of it too), written
		// in the background
		a.Touches.Key(r.Key.ID, now)
		a.Cache.KeyUsed(lookup, now)
	}
	return NewKeyPrincipal(a.Contract, &r.Key, &r.Owner, scheme), nil
}
