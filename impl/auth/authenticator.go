package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/google/uuid"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl/account"
	"github.com/kala-server/kala/impl/contract"
	"github.com/kala-server/kala/impl/errs"
	"github.com/kala-server/kala/impl/ratelimit"
)

// Authenticator verifies the credential of one security scheme. It is kin-openapi's
// AuthenticationFunc: the validator calls it for each scheme an operation accepts, in
// order, until one succeeds.
type Authenticator struct {
	Contract *contract.Contract
	DB       *db.DB
	Accounts *account.Service
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
}

// SessionVerifier resolves a session cookie value to its user and stored session id.
type SessionVerifier interface {
	Verify(ctx context.Context, cookie string) (*db.User, string, error)
}

// BasicVerifier checks a username and password, possibly from a cache of recent successes.
type BasicVerifier interface {
	Verify(ctx context.Context, username, password string) (*db.User, error)
}

// errAbsent: the request does not carry this scheme's credential. Cheap; shown only when
// no scheme's credential was presented at all.
var errAbsent = errs.E(errs.Unauthorized, "a valid credential is required").WithReason(ReasonNoCredentials)

// ReasonNoCredentials marks a 401 where nothing was presented (Kylin KE-010003207).
const ReasonNoCredentials = "no-credentials"

func invalid(what string) error { return errs.E(errs.Unauthorized, "invalid %s", what) }

// Func is the openapi3filter.AuthenticationFunc.
func (a *Authenticator) Func(ctx context.Context, in *openapi3filter.AuthenticationInput) error {
	h := HolderFrom(ctx)
	if h == nil {
		return errors.New("no auth holder in context")
	}
	// A credential that was presented and refused decides the request: another scheme's
	// credential in the same request must not rescue it.
	if h.refused != nil {
		return h.refused
	}
	r := in.RequestValidationInput.Request
	p, err := a.checked(ctx, r, in.SecuritySchemeName)
	if err != nil {
		if err != errAbsent {
			if a.OnFailure != nil {
				a.OnFailure(in.SecuritySchemeName)
			}
			h.refused = errs.As(err)
		}
		return err
	}
	h.Principal = p
	return nil
}

// checked authenticates one scheme's credential, refusing a client over its rate limit
// before looking at it and counting a refused one. Password failures are counted by the
// account core, which sees every password path.
func (a *Authenticator) checked(ctx context.Context, r *http.Request, scheme string) (*Principal, error) {
	if a.Guard != nil && presented(r, scheme) {
		if err := a.Guard.Check(ctx); err != nil {
			return nil, err
		}
	}
	p, err := a.authenticate(ctx, r, scheme)
	if err != nil && scheme != SchemeBasic && errs.CodeOf(err) == errs.Unauthorized && err != errAbsent {
		if over := a.Guard.Failed(ctx); over != nil {
			return nil, over
		}
	}
	return p, err
}

// presented reports whether the request carries a credential of scheme.
func presented(r *http.Request, scheme string) bool {
	_, ok := credential(r, scheme)
	return ok
}

// credential is the request's credential for scheme, if it carries one. The session
// cookie is ambient (a browser sends it on its own), so it ranks below every explicit
// credential: beside one it is not presented at all, and cannot decide the request
// either way (a stale cookie does not refuse a valid key; a valid cookie does not rescue
// a bad one). Alone, it is presented like any other.
func credential(r *http.Request, scheme string) (string, bool) {
	switch scheme {
	case SchemeBearer:
		return authorization(r, "Bearer")
	case SchemeBasic:
		return authorization(r, "Basic")
	case SchemeAPIKeyHeader:
		v := r.Header.Get("X-API-Key")
		return v, v != ""
	case SchemeAPIKeyQuery:
		v := r.URL.Query().Get("key")
		return v, v != ""
	case SchemeCookie:
		if explicit(r) {
			return "", false
		}
		c, err := r.Cookie(SessionCookie)
		if err != nil {
			return "", false
		}
		return c.Value, c.Value != ""
	}
	return "", false
}

// explicit reports whether the request carries a credential its sender chose to send:
// any Authorization header, an X-API-Key or a ?key=.
func explicit(r *http.Request) bool {
	return r.Header.Get("Authorization") != "" || r.Header.Get("X-API-Key") != "" || r.URL.Query().Get("key") != ""
}

func (a *Authenticator) authenticate(ctx context.Context, r *http.Request, scheme string) (*Principal, error) {
	v, ok := credential(r, scheme)
	if !ok {
		return nil, errAbsent
	}
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
			return nil, errAbsent
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

// SessionCookie is the session cookie's name (Kylin's).
const SessionCookie = "JSESSIONID"

// authorization returns the credentials of an Authorization header of the given scheme
// (compared case-insensitively, RFC 9110).
func authorization(r *http.Request, scheme string) (string, bool) {
	v := r.Header.Get("Authorization")
	if len(v) <= len(scheme)+1 || !strings.EqualFold(v[:len(scheme)], scheme) || v[len(scheme)] != ' ' {
		return "", false
	}
	cred := strings.TrimSpace(v[len(scheme)+1:])
	return cred, cred != ""
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
	if u, ok := a.Cache.User(id); ok {
		return u, nil
	}
	epoch := a.Cache.Epoch()
	u, err := db.UserByID(ctx, a.DB, id)
	if err == nil {
		a.Cache.PutUser(epoch, u)
	}
	return u, err
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
		// at most once a minute per key (the kept row learns of it too)
		if err := db.TouchAPIKey(ctx, a.DB, r.Key.ID, now); err != nil {
			return nil, errs.Wrap(err, "record API key use")
		}
		a.Cache.KeyUsed(lookup, now)
	}
	return NewKeyPrincipal(a.Contract, &r.Key, &r.Owner, scheme), nil
}
