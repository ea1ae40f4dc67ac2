package account

import (
	"bytes"
	"context"
	"errors"
	"slices"

	"github.com/google/uuid"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl/audit"
	"github.com/kala-server/kala/impl/errs"
)

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

// mayRemoveAdmin is whether p could take an enabled admin away (disable or demote them),
// judged from p alone: a change that may takes the admin lock before it reads the user.
func mayRemoveAdmin(p UserPatch) bool {
	admin, err := adminAfter(true, p)
	return (p.Disabled != nil && *p.Disabled) || (err == nil && !admin)
}

// checkPatch applies the rules a patch obeys whoever it changes; UpdateUser runs them
// before hashing a password, planUpdate again with the rest.
func checkPatch(a Actor, id uuid.UUID, p UserPatch) error {
	if p.Locked != nil && *p.Locked {
		return errs.Field("locked", "can only be set to false (unlock)")
	}
	if p.Password != nil {
		if id == a.UserID {
			return errs.Field("password", "change your own password with the old one, not by a reset")
		}
		return CheckPassword("password", *p.Password)
	}
	return nil
}

// userChange is what a patch does to one user, as planUpdate decided it.
type userChange struct {
	admin, disabled bool
	permissions     []string
	authorities     []string // the built-in groups, ROLE_ADMIN exactly when admin
	// groups are the user groups asked for by name, when setGroups (the patch named
	// authorities); otherwise the user keeps theirs.
	groups    []string
	setGroups bool
	// disabling: an enabled user is disabled, so their tokens and sessions end.
	disabling bool
	// removesAdmin: an admin is demoted or disabled. Whether another enabled admin remains
	// needs a count, which apply makes under the admin lock (keepAnAdmin).
	removesAdmin bool
	unlock       bool // the login name's failure counter goes
	reset        bool // a new password, marked default
}

// planUpdate decides what p does to u when a asks, or refuses it; it reads nothing and
// writes nothing. Nobody disables or demotes themselves or the built-in ADMIN; only an
// admin changes or makes an admin; a non-admin grants only permissions they hold (or
// the user had); the admin flag and ROLE_ADMIN in the groups are one value. What needs
// stored data is left to apply: the last enabled admin (removesAdmin), whether named
// user groups exist, and whether a user changes their own user groups.
func planUpdate(a Actor, u *db.User, p UserPatch) (userChange, error) {
	if err := checkPatch(a, u.ID, p); err != nil {
		return userChange{}, err
	}
	if err := guard(a, u, "change"); err != nil {
		return userChange{}, err
	}
	admin, err := adminAfter(u.Admin, p)
	if err != nil {
		return userChange{}, err
	}
	disabling := p.Disabled != nil && *p.Disabled && !u.Disabled
	demoting := u.Admin && !admin
	switch {
	case (disabling || demoting) && u.Builtin:
		return userChange{}, errs.E(errs.Forbidden, "the built-in ADMIN cannot be disabled or demoted")
	case (disabling || demoting) && u.ID == a.UserID:
		return userChange{}, errs.E(errs.Forbidden, "you cannot disable or demote yourself")
	case admin && !u.Admin && !a.Admin:
		return userChange{}, errs.E(errs.Forbidden, "only an admin can make an admin")
	}
	c := userChange{admin: admin, disabled: u.Disabled, permissions: u.Permissions,
		disabling: disabling, removesAdmin: (disabling || demoting) && u.Admin,
		unlock: p.Locked != nil, reset: p.Password != nil, setGroups: p.Authorities != nil}
	if p.Disabled != nil {
		c.disabled = *p.Disabled
	}
	if p.Permissions != nil {
		if err := grantable(a, "permissions", *p.Permissions, u.Permissions); err != nil {
			return userChange{}, err
		}
		c.permissions = slices.Clone(*p.Permissions)
	}
	asked := []string(u.Authorities)
	if p.Authorities != nil {
		asked = *p.Authorities
	}
	var groups []string
	c.authorities, groups = authorities(admin, asked)
	if c.setGroups {
		c.groups = groups
	}
	return c, nil
}

// UpdateUser applies a patch (planUpdate has the rules) in one transaction: a refused
// change leaves the user exactly as it was. Disabling ends the user's tokens and sessions.
func (s *Core) UpdateUser(ctx context.Context, a Actor, id uuid.UUID, p UserPatch) (*db.User, error) {
	if err := checkPatch(a, id, p); err != nil {
		return nil, err
	}
	var hash string
	if p.Password != nil {
		// before the transaction: no row waits for the hashing
		var err error
		if hash, err = s.Hasher.Hash(ctx, *p.Password); err != nil {
			return nil, errs.Wrap(err, "hash password")
		}
	}
	err := s.DB.Tx(ctx, func(tx db.Queryer) error {
		if mayRemoveAdmin(p) {
			if err := db.LockAdmins(ctx, tx); err != nil {
				return err
			}
		}
		u, err := db.UserForUpdate(ctx, tx, id)
		if errors.Is(err, db.ErrNotFound) {
			return noUser("no such user")
		} else if err != nil {
			return err
		}
		c, err := planUpdate(a, u, p)
		if err != nil {
			return err
		}
		return s.applyUpdate(ctx, tx, a, u, c, hash, p)
	})
	if err != nil {
		return nil, errs.Wrap(err, "update user")
	}
	return s.User(ctx, id)
}

// applyUpdate stores c, a change planUpdate made of u, with its audit events.
func (s *Core) applyUpdate(ctx context.Context, tx db.Queryer, a Actor, u *db.User, c userChange, hash string, p UserPatch) error {
	if c.removesAdmin {
		if err := keepAnAdmin(ctx, tx, u.ID, "the last admin cannot be disabled or demoted"); err != nil {
			return err
		}
	}
	u.Admin, u.Disabled, u.Permissions, u.Authorities = c.admin, c.disabled, c.permissions, c.authorities
	if c.setGroups {
		gs, err := resolveGroups(ctx, tx, "authorities", c.groups)
		if err != nil {
			return err
		}
		if err := s.setUserGroups(ctx, tx, a, u, gs, false); err != nil {
			return err
		}
	}
	now := s.Now()
	if err := db.UpdateUser(ctx, tx, u, c.disabling, now); err != nil {
		return err
	}
	if c.reset {
		if err := db.SetPassword(ctx, tx, u.ID, hash, true, now, nil); err != nil {
			return err
		}
	}
	if c.unlock {
		if err := db.ClearLoginFailures(ctx, tx, u.UsernameKey); err != nil {
			return err
		}
	}
	if err := s.recordUpdate(ctx, tx, a, u, p); err != nil {
		return err
	}
	return s.changed(ctx, tx, u.ID)
}

// keepAnAdmin refuses, as a conflict saying msg, a change that would leave no enabled
// admin but the user id. The caller holds the admin lock (db.LockAdmins), so the answer
// stays true until its transaction ends.
func keepAnAdmin(ctx context.Context, tx db.Queryer, id uuid.UUID, msg string) error {
	n, err := db.OtherActiveAdmins(ctx, tx, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return errs.E(errs.Conflict, "%s", msg)
	}
	return nil
}

// recordUpdate records what a patch set: user.update for its fields, password.reset for
// a password (never the password itself).
func (s *Core) recordUpdate(ctx context.Context, q db.Queryer, a Actor, u *db.User, p UserPatch) error {
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

func (s *Core) changed(ctx context.Context, q db.Queryer, id uuid.UUID) error {
	if s.Changed != nil {
		return s.Changed(ctx, q, id)
	}
	return nil
}

// planDelete decides whether a may delete u: nobody deletes the built-in ADMIN or
// themselves, and only an admin deletes an admin. removesAdmin: u is an enabled admin,
// so another must remain (apply counts them).
func planDelete(a Actor, u *db.User) (removesAdmin bool, err error) {
	switch {
	case u.Builtin:
		return false, errs.E(errs.Forbidden, "the built-in ADMIN cannot be deleted")
	case u.ID == a.UserID:
		return false, errs.E(errs.Forbidden, "you cannot delete yourself")
	}
	if err := guard(a, u, "delete"); err != nil {
		return false, err
	}
	return u.Admin && !u.Disabled, nil
}

// DeleteUser removes a user with their keys, sessions and access entries.
func (s *Core) DeleteUser(ctx context.Context, a Actor, id uuid.UUID) error {
	return s.DeleteUsers(ctx, a, []uuid.UUID{id})
}

// DeleteUsers removes several users, all or none, under planDelete's rules (checked as
// each is deleted, so deleting two admins at once still leaves one).
func (s *Core) DeleteUsers(ctx context.Context, a Actor, ids []uuid.UUID) error {
	// rows are locked in one order, so two batches never wait for each other in a cycle
	ids = slices.Clone(ids)
	slices.SortFunc(ids, func(x, y uuid.UUID) int { return bytes.Compare(x[:], y[:]) })
	ids = slices.Compact(ids)
	err := s.DB.Tx(ctx, func(tx db.Queryer) error {
		// any of them may be an admin: the lock comes before their rows
		if err := db.LockAdmins(ctx, tx); err != nil {
			return err
		}
		for _, id := range ids {
			if err := s.deleteUser(ctx, tx, a, id); err != nil {
				return err
			}
		}
		return nil
	})
	return errs.Wrap(err, "delete user")
}

func (s *Core) deleteUser(ctx context.Context, tx db.Queryer, a Actor, id uuid.UUID) error {
	u, err := db.UserForUpdate(ctx, tx, id)
	if errors.Is(err, db.ErrNotFound) {
		return noUser("no such user")
	} else if err != nil {
		return err
	}
	removesAdmin, err := planDelete(a, u)
	if err != nil {
		return err
	}
	if removesAdmin {
		if err := keepAnAdmin(ctx, tx, u.ID, "the last admin cannot be deleted"); err != nil {
			return err
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
