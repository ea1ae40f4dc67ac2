package account

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

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
	Audit       audit.Actor
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

// UserPatch is a partial change; nil fields stay.
type UserPatch struct {
	Admin       *bool
	Disabled    *bool
	Locked      *bool
	Permissions *[]string
	Authorities *[]string
	// Password is an admin reset of another user's password (marked default).
	Password *string
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

func (s *Service) grantable(a Actor, field string, perms []string, had []string) error {
	for i, p := range perms {
		if !a.Admin && !slices.Contains(a.Permissions, p) && !slices.Contains(had, p) {
			return errs.E(errs.Forbidden, "%s[%d]: you cannot grant a permission you do not hold", field, i)
		}
	}
	return nil
}

// CreateUser makes a user. The name is unique in any case: of concurrent creates of one
// name exactly one succeeds.
func (s *Service) CreateUser(ctx context.Context, a Actor, in NewUser) (*db.User, error) {
	u, err := s.newUser(ctx, a, in)
	if err != nil {
		return nil, err
	}
	if err := s.insertUsers(ctx, a, []*db.User{u}); err != nil {
		return nil, err
	}
	return u, nil
}

// CreateUsers makes several users, all or none: every rule is checked for every user
// before any is stored, and they are stored in one transaction. A refused user is named
// by its index in field paths ("1.password").
func (s *Service) CreateUsers(ctx context.Context, a Actor, ins []NewUser) ([]*db.User, error) {
	us := make([]*db.User, len(ins))
	for i, in := range ins {
		u, err := s.newUser(ctx, a, in)
		if err != nil {
			return nil, atIndex(err, i)
		}
		us[i] = u
	}
	if err := s.insertUsers(ctx, a, us); err != nil {
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
func (s *Service) newUser(ctx context.Context, a Actor, in NewUser) (*db.User, error) {
	if err := CheckUsername("username", in.Username); err != nil {
		return nil, err
	}
	if err := CheckPassword("password", in.Password); err != nil {
		return nil, err
	}
	if namesAdmin(in.Authorities) {
		in.Admin = true
	}
	if in.Admin && !a.Admin {
		return nil, errs.E(errs.Forbidden, "only an admin can create an admin")
	}
	if err := s.grantable(a, "permissions", in.Permissions, nil); err != nil {
		return nil, err
	}
	auths, groups := authorities(in.Admin, in.Authorities)
	hash, err := s.Hasher.Hash(ctx, in.Password)
	if err != nil {
		return nil, errs.Wrap(err, "hash password")
	}
	now := s.Now()
	perms := slices.Clone(in.Permissions)
	if perms == nil {
		perms = []string{}
	}
	return &db.User{ID: uuid.Must(uuid.NewV7()), Username: in.Username, UsernameKey: UsernameKey(in.Username),
		PasswordHash: hash, Admin: in.Admin, Disabled: in.Disabled, DefaultPassword: true,
		Authorities: auths, Permissions: perms, CredentialVersion: 1, CreatedAt: now, ModifiedAt: now,
		Groups: groups}, nil // the user groups asked for: insertUsers finds them
}

// insertUsers stores checked new users in one transaction, each with its audit event.
func (s *Service) insertUsers(ctx context.Context, a Actor, us []*db.User) error {
	var dup *db.User
	err := s.DB.Tx(ctx, func(tx db.Queryer) error {
		for _, u := range us {
			if err := db.InsertUser(ctx, tx, u); err != nil {
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
func (s *Service) User(ctx context.Context, id uuid.UUID) (*db.User, error) {
	u, err := db.UserByID(ctx, s.DB, id)
	if errors.Is(err, db.ErrNotFound) {
		return nil, noUser("no such user")
	}
	return u, errs.Wrap(err, "load user")
}

// UserByName loads a user by name in any case.
func (s *Service) UserByName(ctx context.Context, name string) (*db.User, error) {
	u, err := db.UserByKey(ctx, s.DB, UsernameKey(name))
	if errors.Is(err, db.ErrNotFound) {
		return nil, noUser("no user named %s", name)
	}
	return u, errs.Wrap(err, "load user")
}

// Users returns a page of users in name order (see db.UserPage): names containing
// p.Filter in any case (as spelled with p.CaseSensitive), after the name p.After in any
// case; the total of the whole list, and whether more users follow the page.
func (s *Service) Users(ctx context.Context, p db.UserPage) (us []db.User, total int, more bool, err error) {
	if !p.CaseSensitive {
		p.Filter = UsernameKey(p.Filter)
	}
	p.After = UsernameKey(p.After)
	us, total, more, err = db.ListUsers(ctx, s.DB, p)
	return us, total, more, errs.Wrap(err, "list users")
}

// guard applies the rules every change to another user obeys.
func guard(a Actor, target *db.User, what string) error {
	if target.Admin && !a.Admin {
		return errs.E(errs.Forbidden, "only an admin can %s an admin", what)
	}
	return nil
}

// adminAfter is whether a user is an admin after p: groups without ROLE_ADMIN demote and
// groups with it promote, as on Kylin; an admin flag given beside them must agree.
func adminAfter(was bool, p UserPatch) (bool, error) {
	admin := was
	if p.Authorities != nil {
		admin = namesAdmin(*p.Authorities)
		if p.Admin != nil && *p.Admin != admin {
			return false, errs.Field("authorities", "must contain ROLE_ADMIN exactly when admin is true")
		}
	}
	if p.Admin != nil {
		admin = *p.Admin
	}
	return admin, nil
}

// UpdateUser applies a patch. Nobody disables or demotes themselves or the built-in
// ADMIN; the last enabled admin stays. Disabling ends the user's tokens and sessions.
func (s *Service) UpdateUser(ctx context.Context, a Actor, id uuid.UUID, p UserPatch) (*db.User, error) {
	if p.Locked != nil && *p.Locked {
		return nil, errs.Field("locked", "can only be set to false (unlock)")
	}
	var newHash string
	if p.Password != nil {
		if id == a.UserID {
			return nil, errs.Field("password", "change your own password with the old one, not by a reset")
		}
		if err := CheckPassword("password", *p.Password); err != nil {
			return nil, err
		}
		var err error
		if newHash, err = s.Hasher.Hash(ctx, *p.Password); err != nil {
			return nil, errs.Wrap(err, "hash password")
		}
	}
	// every check runs before any write, and all writes share one transaction: a refused
	// change leaves the user exactly as it was
	err := s.DB.Tx(ctx, func(tx db.Queryer) error {
		u, err := db.UserForUpdate(ctx, tx, id)
		if errors.Is(err, db.ErrNotFound) {
			return noUser("no such user")
		} else if err != nil {
			return err
		}
		if err := guard(a, u, "change"); err != nil {
			return err
		}
		admin, err := adminAfter(u.Admin, p)
		if err != nil {
			return err
		}
		disabling := p.Disabled != nil && *p.Disabled && !u.Disabled
		demoting := u.Admin && !admin
		switch {
		case (disabling || demoting) && u.Builtin:
			return errs.E(errs.Forbidden, "the built-in ADMIN cannot be disabled or demoted")
		case (disabling || demoting) && u.ID == a.UserID:
			return errs.E(errs.Forbidden, "you cannot disable or demote yourself")
		case admin && !u.Admin && !a.Admin:
			return errs.E(errs.Forbidden, "only an admin can make an admin")
		}
		if (disabling || demoting) && u.Admin {
			n, err := db.OtherActiveAdmins(ctx, tx, u.ID)
			if err != nil {
				return err
			}
			if n == 0 {
				return errs.E(errs.Conflict, "the last admin cannot be disabled or demoted")
			}
		}
		u.Admin = admin
		if p.Disabled != nil {
			u.Disabled = *p.Disabled
		}
		if p.Permissions != nil {
			if err := s.grantable(a, "permissions", *p.Permissions, u.Permissions); err != nil {
				return err
			}
			u.Permissions = slices.Clone(*p.Permissions)
		}
		asked := []string(u.Authorities)
		if p.Authorities != nil {
			asked = *p.Authorities
		}
		// the admin column and ROLE_ADMIN in the groups are written together from one value
		var groups []string
		u.Authorities, groups = authorities(u.Admin, asked)
		if p.Authorities != nil {
			gs, err := resolveGroups(ctx, tx, "authorities", groups)
			if err != nil {
				return err
			}
			if err := s.setUserGroups(ctx, tx, a, u, gs, false); err != nil {
				return err
			}
		}
		if err := db.UpdateUser(ctx, tx, u, disabling, s.Now()); err != nil {
			return err
		}
		if p.Password != nil {
			if err := db.SetPassword(ctx, tx, u.ID, newHash, true, s.Now(), nil); err != nil {
				return err
			}
		}
		if p.Locked != nil {
			if err := db.ClearLoginFailures(ctx, tx, u.UsernameKey); err != nil {
				return err
			}
		}
		if err := s.recordUpdate(ctx, tx, a, u, p); err != nil {
			return err
		}
		return s.changed(ctx, tx, u.ID)
	})
	if err != nil {
		return nil, errs.Wrap(err, "update user")
	}
	return s.User(ctx, id)
}

// recordUpdate records what a patch set: user.update for its fields, password.reset for
// a password (never the password itself).
func (s *Service) recordUpdate(ctx context.Context, q db.Queryer, a Actor, u *db.User, p UserPatch) error {
	detail := map[string]any{"username": u.Username}
	if p.Admin != nil {
		detail["admin"] = *p.Admin
	}
	if p.Disabled != nil {
		detail["disabled"] = *p.Disabled
	}
	if p.Locked != nil {
		detail["locked"] = *p.Locked
	}
	if p.Permissions != nil {
		detail["permissions"] = *p.Permissions
	}
	if p.Authorities != nil {
		detail["authorities"] = *p.Authorities
	}
	now := s.Now()
	if len(detail) > 1 {
		if err := audit.Record(ctx, q, audit.Event{At: now, Name: audit.UserUpdate, Actor: a.Audit,
			Target: u.ID.String(), Detail: detail}); err != nil {
			return err
		}
	}
	if p.Password == nil {
		return nil
	}
	return audit.Record(ctx, q, audit.Event{At: now, Name: audit.PasswordReset, Actor: a.Audit,
		Target: u.ID.String(), Detail: map[string]any{"username": u.Username}})
}

func (s *Service) changed(ctx context.Context, q db.Queryer, id uuid.UUID) error {
	if s.Changed != nil {
		return s.Changed(ctx, q, id)
	}
	return nil
}

// DeleteUser removes a user with their keys, sessions and access entries.
func (s *Service) DeleteUser(ctx context.Context, a Actor, id uuid.UUID) error {
	return s.DeleteUsers(ctx, a, []uuid.UUID{id})
}

// DeleteUsers removes several users, all or none, under DeleteUser's rules (checked as
// each is deleted, so deleting two admins at once still leaves one).
func (s *Service) DeleteUsers(ctx context.Context, a Actor, ids []uuid.UUID) error {
	// rows are locked in one order, so two batches never wait for each other in a cycle
	ids = slices.Clone(ids)
	slices.SortFunc(ids, func(x, y uuid.UUID) int { return bytes.Compare(x[:], y[:]) })
	ids = slices.Compact(ids)
	err := s.DB.Tx(ctx, func(tx db.Queryer) error {
		for _, id := range ids {
			if err := s.deleteUser(ctx, tx, a, id); err != nil {
				return err
			}
		}
		return nil
	})
	return errs.Wrap(err, "delete user")
}

func (s *Service) deleteUser(ctx context.Context, tx db.Queryer, a Actor, id uuid.UUID) error {
	u, err := db.UserForUpdate(ctx, tx, id)
	if errors.Is(err, db.ErrNotFound) {
		return noUser("no such user")
	} else if err != nil {
		return err
	}
	switch {
	case u.Builtin:
		return errs.E(errs.Forbidden, "the built-in ADMIN cannot be deleted")
	case u.ID == a.UserID:
		return errs.E(errs.Forbidden, "you cannot delete yourself")
	}
	if err := guard(a, u, "delete"); err != nil {
		return err
	}
	if u.Admin && !u.Disabled {
		n, err := db.OtherActiveAdmins(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		if n == 0 {
			return errs.E(errs.Conflict, "the last admin cannot be deleted")
		}
	}
	if err := db.DeleteUser(ctx, tx, u.ID); err != nil {
		return err
	}
	if err := audit.Record(ctx, tx, audit.Event{At: s.Now(), Name: audit.UserDelete, Actor: a.Audit,
		Target: u.ID.String(), Detail: map[string]any{"username": u.Username}}); err != nil {
		return err
	}
	return s.changed(ctx, tx, u.ID)
}

// ChangePassword changes id's password. Changing one's own needs the old password, and
// wrong old passwords count toward the lockout like failed logins. Changing another's
// needs manage (User Management) and marks the new password default.
// keepSession is the session making the change, which survives it.
func (s *Service) ChangePassword(ctx context.Context, a Actor, manage bool, id uuid.UUID, old *string, newPassword string, keepSession []byte) error {
	if err := CheckPassword("newPassword", newPassword); err != nil {
		return err
	}
	u, err := s.User(ctx, id)
	if err != nil {
		return err
	}
	if u.ID != a.UserID {
		if !manage {
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
func (s *Service) storePassword(ctx context.Context, userID uuid.UUID, password string, isDefault bool, keepSession []byte, ev audit.Event) error {
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
func (s *Service) ResetPassword(ctx context.Context, username string) (string, error) {
	u, err := s.UserByName(ctx, username)
	if err != nil {
		return "", err
	}
	pw := RandomPassword()
	return pw, s.storePassword(ctx, u.ID, pw, true, nil, audit.Event{Name: audit.PasswordReset,
		Target: u.ID.String(), Detail: map[string]any{"username": u.Username, "via": "cli"}})
}
