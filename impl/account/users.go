package account

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl/audit"
	"github.com/kala-server/kala/impl/errs"
)

// noUser is the answer for a user that does not exist.
func noUser(format string, args ...any) *errs.Error {
	return errs.E(errs.NotFound, format, args...).WithReason(errs.ReasonNoUser)
}

// Actor is who asks for a change: the rules about users depend on the actor's own rights.
type Actor struct {
	UserID      uuid.UUID
	Admin       bool
	Permissions []string // effective
	// ManagesUsers: the actor holds User Management for the users service (what a
	// credential holds is auth's to say; what needs it, this package's).
	ManagesUsers bool
	Audit        audit.Actor
}

// NewUser is what creating a user takes.
type NewUser struct {
	Username    string
	Password    string
	Admin       bool
	Disabled    bool
	Permissions []string
	Authorities []string
}

// namesAdmin reports whether requested Kylin groups include ROLE_ADMIN (in any case).
func namesAdmin(in []string) bool {
	return slices.ContainsFunc(in, func(a string) bool { b, _ := builtinGroup(a); return b == AuthorityAdmin })
}

// authorities normalises requested Kylin groups: of the built-in ones (named in any
// case) ALL_USERS always, ROLE_ADMIN only through the admin flag, the rest as given; the
// other names are user groups, returned apart (resolveGroups finds them).
func authorities(admin bool, in []string) (builtin, groups []string) {
	builtin = []string{AuthorityAllUsers}
	if admin {
		builtin = append(builtin, AuthorityAdmin)
	}
	for _, a := range in {
		b, ok := builtinGroup(a)
		switch {
		case !ok:
			if !slices.ContainsFunc(groups, func(g string) bool { return UsernameKey(g) == UsernameKey(a) }) {
				groups = append(groups, a)
			}
		case b != AuthorityAllUsers && b != AuthorityAdmin && !slices.Contains(builtin, b):
			builtin = append(builtin, b)
		}
	}
	return builtin, groups
}

// grantable refuses permissions that a grants unless a is an admin, holds them, or the
// user had them already.
func grantable(a Actor, field string, perms []string, had []string) error {
	for i, p := range perms {
		if !a.Admin && !slices.Contains(a.Permissions, p) && !slices.Contains(had, p) {
			return errs.E(errs.Forbidden, "%s[%d]: you cannot grant a permission you do not hold", field, i)
		}
	}
	return nil
}

// CreateUser makes a user. The name is unique in any case: of concurrent creates of one
// name exactly one succeeds.
func (s *Core) CreateUser(ctx context.Context, a Actor, in NewUser) (*db.User, error) {
	u, hash, err := s.newUser(ctx, a, in)
	if err != nil {
		return nil, err
	}
	if err := s.insertUsers(ctx, a, []*db.User{u}, []string{hash}); err != nil {
		return nil, err
	}
	return u, nil
}

// CreateUsers makes several users, all or none: every rule is checked for every user
// before any is stored, and they are stored in one transaction. A refused user is named
// by its index in field paths ("1.password").
func (s *Core) CreateUsers(ctx context.Context, a Actor, ins []NewUser) ([]*db.User, error) {
	us, hashes := make([]*db.User, len(ins)), make([]string, len(ins))
	for i, in := range ins {
		u, hash, err := s.newUser(ctx, a, in)
		if err != nil {
			return nil, atIndex(err, i)
		}
		us[i], hashes[i] = u, hash
	}
	if err := s.insertUsers(ctx, a, us, hashes); err != nil {
		return nil, err
	}
	return us, nil
}

// atIndex puts the index of a list item in front of an error's field paths.
func atIndex(err error, i int) error {
	var e *errs.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return err
	}
	out := *e
	out.Fields = make([]errs.FieldError, len(e.Fields))
	for j, f := range e.Fields {
		out.Fields[j] = errs.FieldError{Field: fmt.Sprintf("%d.%s", i, f.Field), Message: f.Message}
	}
	out.Message = out.Fields[0].Field + ": " + out.Fields[0].Message
	return &out
}

// newUser checks a new user against the rules and hashes its password.
func (s *Core) newUser(ctx context.Context, a Actor, in NewUser) (*db.User, string, error) {
	if err := CheckUsername("username", in.Username); err != nil {
		return nil, "", err
	}
	if err := CheckPassword("password", in.Password); err != nil {
		return nil, "", err
	}
	if namesAdmin(in.Authorities) {
		in.Admin = true
	}
	if in.Admin && !a.Admin {
		return nil, "", errs.E(errs.Forbidden, "only an admin can create an admin")
	}
	if err := grantable(a, "permissions", in.Permissions, nil); err != nil {
		return nil, "", err
	}
	auths, groups := authorities(in.Admin, in.Authorities)
	hash, err := s.Hasher.Hash(ctx, in.Password)
	if err != nil {
		return nil, "", errs.Wrap(err, "hash password")
	}
	now := s.Now()
	perms := slices.Clone(in.Permissions)
	if perms == nil {
		perms = []string{}
	}
	return &db.User{ID: uuid.Must(uuid.NewV7()), Username: in.Username, UsernameKey: UsernameKey(in.Username),
		Admin: in.Admin, Disabled: in.Disabled, DefaultPassword: true,
		Authorities: auths, Permissions: perms, CredentialVersion: 1, CreatedAt: now, ModifiedAt: now,
		Groups: groups}, hash, nil // the user groups asked for: insertUsers finds them
}

// insertUsers stores checked new users (with their password hashes) in one transaction,
// each with its audit event.
func (s *Core) insertUsers(ctx context.Context, a Actor, us []*db.User, hashes []string) error {
	var dup *db.User
	err := s.DB.Tx(ctx, func(tx db.Queryer) error {
		for i, u := range us {
			if err := db.InsertUser(ctx, tx, u, hashes[i]); err != nil {
				dup = u
				return err
			}
			gs, err := resolveGroups(ctx, tx, "authorities", u.Groups)
			if err != nil {
				return err
			}
			if err := s.setUserGroups(ctx, tx, a, u, gs, true); err != nil {
				return err
			}
			// a name's old failure counter belongs to nobody: the new user starts clean
			if err := db.ClearLoginFailures(ctx, tx, u.UsernameKey); err != nil {
				return err
			}
			if err := audit.Record(ctx, tx, audit.Event{At: u.CreatedAt, Name: audit.UserCreate, Actor: a.Audit, Target: u.ID.String(),
				Detail: map[string]any{"username": u.Username, "admin": u.Admin, "disabled": u.Disabled,
					"authorities": slices.Concat(u.Authorities, u.Groups), "permissions": u.Permissions}}); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, db.ErrDuplicate) {
		return errs.E(errs.Conflict, "a user named %s already exists", dup.Username).WithReason(errs.ReasonDuplicateUser)
	}
	return errs.Wrap(err, "create user")
}

// User loads a user with its lock state.
func (s *Core) User(ctx context.Context, id uuid.UUID) (*db.User, error) {
	u, err := db.UserByID(ctx, s.DB, id)
	if errors.Is(err, db.ErrNotFound) {
		return nil, noUser("no such user")
	}
	return u, errs.Wrap(err, "load user")
}

// Recheck reads again the user of a password verified earlier and returns the fresh row
// while what the verification vouched for still holds: same password (credential
// version), same name, enabled, not locked. Otherwise it fails, and the password must be
// verified again. It costs one read where verifying would cost a hash.
func (s *Core) Recheck(ctx context.Context, u *db.User) (*db.User, error) {
	fresh, err := s.User(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if fresh.CredentialVersion != u.CredentialVersion || fresh.UsernameKey != u.UsernameKey || fresh.Disabled {
		return nil, errs.E(errs.BadLogin, "the credentials changed since they were verified")
	}
	if until, ok := s.LockedUntil(fresh); ok {
		return nil, locked(until)
	}
	return fresh, nil
}

// UserByName loads a user by name in any case.
func (s *Core) UserByName(ctx context.Context, name string) (*db.User, error) {
	u, err := db.UserByKey(ctx, s.DB, UsernameKey(name))
	if errors.Is(err, db.ErrNotFound) {
		return nil, noUser("no user named %s", name)
	}
	return u, errs.Wrap(err, "load user")
}

// Authorities are u's Kylin groups as the faces show them: ALL_USERS (every user is in
// it), ROLE_ADMIN for an admin, the other built-in groups u is in, then u's user groups.
func Authorities(u *db.User) []string {
	out := []string{AuthorityAllUsers}
	if u.Admin {
		out = append(out, AuthorityAdmin)
	}
	for _, a := range u.Authorities {
		if a != AuthorityAllUsers && a != AuthorityAdmin {
			out = append(out, a)
		}
	}
	return append(out, u.Groups...)
}

// LockedUntil is when u's login name is locked until, with true, if it is locked now.
func (s *Core) LockedUntil(u *db.User) (time.Time, bool) {
	if u.LockedUntil != nil && u.LockedUntil.After(s.Now()) {
		return *u.LockedUntil, true
	}
	return time.Time{}, false
}

// Users returns a page of users in name order (see db.UserPage): names containing
// p.Filter in any case (as spelled with p.CaseSensitive), after the name p.After in any
// case; the total of the whole list, and whether more users follow the page.
func (s *Core) Users(ctx context.Context, p db.UserPage) (us []db.User, total int, more bool, err error) {
	if !p.CaseSensitive {
		p.Filter = UsernameKey(p.Filter)
	}
	p.After = UsernameKey(p.After)
	us, total, more, err = db.ListUsers(ctx, s.DB, p)
	return us, total, more, errs.Wrap(err, "list users")
}

// ChangePassword changes id's password. Changing one's own needs the old password, and
// wrong old passwords count toward the lockout like failed logins. Changing another's
// needs User Management (a.ManagesUsers) and marks the new password default.
// keepSession is the session making the change, which survives it.
func (s *Core) ChangePassword(ctx context.Context, a Actor, id uuid.UUID, old *string, newPassword string, keepSession []byte) error {
	if err := CheckPassword("newPassword", newPassword); err != nil {
		return err
	}
	u, err := s.User(ctx, id)
	if err != nil {
		return err
	}
	if u.ID != a.UserID {
		if !a.ManagesUsers {
			return errs.E(errs.Forbidden, "changing another user's password needs the User Management permission")
		}
		if err := guard(a, u, "change the password of"); err != nil {
			return err
		}
		return s.storePassword(ctx, u.ID, newPassword, true, nil, audit.Event{Name: audit.PasswordReset,
			Actor: a.Audit, Target: u.ID.String(), Detail: map[string]any{"username": u.Username}})
	}
	if old == nil || *old == "" {
		return errs.Field("oldPassword", "is required to change your own password")
	}
	ev := audit.Event{Name: audit.PasswordChange, Actor: a.Audit, Target: u.ID.String()}
	if _, err := s.Login(ctx, u.Username, *old); err != nil {
		var refusal error
		switch errs.CodeOf(err) {
		case errs.BadLogin:
			refusal = errs.Field("oldPassword", "is not your current password").WithReason(errs.ReasonWrongOldPassword)
		case errs.Locked:
			e := errs.As(err)
			refusal = &errs.Error{Code: errs.Forbidden, Message: e.Message, Until: e.Until, Reason: errs.ReasonLocked}
		default:
			return err
		}
		ev.At, ev.Outcome, ev.Detail = s.Now(), audit.Failure, map[string]any{"reason": errs.As(refusal).Reason}
		if err := audit.Record(context.WithoutCancel(ctx), s.DB, ev); err != nil {
			return errs.Wrap(err, "change password")
		}
		return refusal
	}
	return s.storePassword(ctx, u.ID, newPassword, false, keepSession, ev)
}

// storePassword sets a password that passed the rule and records ev in the same
// transaction. Every session of the user but keepSession ends, and so does every token.
func (s *Core) storePassword(ctx context.Context, userID uuid.UUID, password string, isDefault bool, keepSession []byte, ev audit.Event) error {
	hash, err := s.Hasher.Hash(ctx, password)
	if err != nil {
		return errs.Wrap(err, "hash password")
	}
	return s.DB.Tx(ctx, func(tx db.Queryer) error {
		now := s.Now()
		if err := db.SetPassword(ctx, tx, userID, hash, isDefault, now, keepSession); err != nil {
			if errors.Is(err, db.ErrNotFound) {
				return noUser("no such user")
			}
			return errs.Wrap(err, "set password")
		}
		ev.At = now
		if err := audit.Record(ctx, tx, ev); err != nil {
			return errs.Wrap(err, "set password")
		}
		return s.changed(ctx, tx, userID)
	})
}

// ResetPassword gives username a new random password and returns it, for
// `kala admin reset-password`: the event names no actor, only the way it came.
func (s *Core) ResetPassword(ctx context.Context, username string) (string, error) {
	u, err := s.UserByName(ctx, username)
	if err != nil {
		return "", err
	}
	pw := RandomPassword()
	return pw, s.storePassword(ctx, u.ID, pw, true, nil, audit.Event{Name: audit.PasswordReset,
		Target: u.ID.String(), Detail: map[string]any{"username": u.Username, "via": "cli"}})
}
