// Package auth turns whichever credential a request carries (JWT, API key, Basic,
// session cookie) into one Principal, and checks what that Principal may do.
package auth

import (
	"context"
	"slices"
	"strings"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl/account"
	"github.com/kala-server/kala/impl/audit"
	"github.com/kala-server/kala/impl/contract"
	"github.com/kala-server/kala/impl/errs"
)

// Kind is what authenticated: a user (token, password, session) or an API key.
type Kind string

const (
	KindUser   Kind = "user"
	KindAPIKey Kind = "apiKey"
)

// Scheme names, as openapi.yaml declares them.
const (
	SchemeBearer       = "bearerAuth"
	SchemeAPIKeyHeader = "apiKeyHeader"
	SchemeAPIKeyQuery  = "apiKeyQuery"
	SchemeBasic        = "basicAuth"
	SchemeCookie       = "sessionCookie"
)

// Principal is the caller of one request and its rights now.
type Principal struct {
	Kind   Kind
	Scheme string
	User   *db.User   // the user, or the key's owner
	Key    *db.APIKey // for KindAPIKey
	// SessionID is the stored id (hash) of the session that authenticated, if any.
	SessionID string

	permissions []string // effective, sorted
	services    []string // effective, sorted
	// managesUsers: holds User Management and may call the users service.
	managesUsers bool
}

// UserPermissions are a user's permissions: all of them for an admin.
func UserPermissions(c *contract.Contract, u *db.User) []string {
	if u.Admin {
		return c.AllPermissionIDs()
	}
	out := []string{}
	for _, p := range u.Permissions {
		if c.Permission(p) != nil {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// NewUserPrincipal is a user acting for themselves.
func NewUserPrincipal(c *contract.Contract, u *db.User, scheme string) *Principal {
	return (&Principal{Kind: KindUser, Scheme: scheme, User: u,
		permissions: UserPermissions(c, u), services: c.AllServiceIDs()}).settle(c)
}

// settle works out, once, what p's rights amount to for the account rules.
func (p *Principal) settle(c *contract.Contract) *Principal {
	p.managesUsers = p.Has(c.UserManagement) && p.AllowsService(c.UsersService.ID)
	return p
}

// NewKeyPrincipal is an API key: its permissions ∩ its owner's now, limited to its services.
func NewKeyPrincipal(c *contract.Contract, k *db.APIKey, owner *db.User, scheme string) *Principal {
	ownerPerms := UserPermissions(c, owner)
	perms := []string{}
	for _, p := range k.Permissions {
		if slices.Contains(ownerPerms, p) {
			perms = append(perms, p)
		}
	}
	slices.Sort(perms)
	services := c.AllServiceIDs()
	if k.Services != nil {
		services = services[:0:0]
		for _, s := range k.Services {
			if c.Service(s) != nil {
				services = append(services, s)
			}
		}
		slices.Sort(services)
	}
	return (&Principal{Kind: KindAPIKey, Scheme: scheme, User: owner, Key: k,
		permissions: slices.Compact(perms), services: slices.Compact(services)}).settle(c)
}

// Permissions in effect, sorted.
func (p *Principal) Permissions() []string { return slices.Clone(p.permissions) }

// Services this principal may call, sorted.
func (p *Principal) Services() []string { return slices.Clone(p.services) }

// Has reports whether the permission is in effect.
func (p *Principal) Has(permission string) bool { return slices.Contains(p.permissions, permission) }

// AllowsService reports whether the principal may call operations of service id.
func (p *Principal) AllowsService(id string) bool { return slices.Contains(p.services, id) }

// Admin reports a ROLE_ADMIN user acting as themselves (a key is never more than its rights).
func (p *Principal) Admin() bool { return p.Kind == KindUser && p.User.Admin }

// ID is what the access log records: the user id, or the key id for a key.
func (p *Principal) ID() string {
	if p == nil {
		return ""
	}
	if p.Key != nil {
		return "key:" + p.Key.ID.String()
	}
	return p.User.ID.String()
}

// Authorize applies an operation's x-service and x-permissions to p. For operations on
// one project the permission check is left to the data core, which knows the project:
// the access list may allow it (x-project-access), and a project the caller cannot see
// must answer 404 before any 403.
func Authorize(c *contract.Contract, p *Principal, op *contract.Operation) error {
	if op.Service != nil && !p.AllowsService(op.Service.ID) {
		return errs.E(errs.Forbidden, "this API key may not call the %s service", op.Service.Name)
	}
	if op.ProjectAccess != "" || op.OnProject {
		return nil
	}
	return RequireAll(c, p, op.Permissions)
}

// RequireAll is nil when p holds every one of perms, and otherwise the 403 that names
// those it lacks. Both the operation check and the project check decide with it.
func RequireAll(c *contract.Contract, p *Principal, perms []string) error {
	var lack []string
	for _, perm := range perms {
		if !p.Has(perm) {
			name := perm
			if cp := c.Permission(perm); cp != nil {
				name = cp.Name
			}
			lack = append(lack, name)
		}
	}
	switch len(lack) {
	case 0:
		return nil
	case 1:
		return errs.E(errs.Forbidden, "this needs the %s permission", lack[0])
	}
	return errs.E(errs.Forbidden, "this needs the %s permissions", strings.Join(lack, " and "))
}

type principalKey struct{}

// WithPrincipal is ctx for a request that p made.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the authenticated caller, or nil.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Caller is the request's principal, or the 401 of a request that carries no credential.
// Operations that require one never reach their handler without it; this is the guard.
func Caller(ctx context.Context) (*Principal, error) {
	if p := PrincipalFrom(ctx); p != nil {
		return p, nil
	}
	return nil, ErrNoCredential
}

// Actor is the principal as the account rules see it.
func (p *Principal) Actor() account.Actor {
	return account.Actor{UserID: p.User.ID, Admin: p.Admin(), Permissions: p.Permissions(),
		ManagesUsers: p.managesUsers, Audit: p.AuditActor()}
}

// AuditActor is p as security events name it: its id, and its user's login name.
func (p *Principal) AuditActor() audit.Actor {
	return audit.Actor{ID: p.ID(), Name: p.User.UsernameKey}
}
