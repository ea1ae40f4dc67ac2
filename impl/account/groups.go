package account

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl/audit"
	"github.com/kala-server/kala/impl/errs"
)

// BuiltinGroups are the groups every installation has. Their members follow each user's
// authorities (ALL_USERS: everyone; ROLE_ADMIN: the admins), so they are not created,
// deleted or given members as user groups are.
var BuiltinGroups = []string{AuthorityAllUsers, AuthorityAdmin, "ROLE_MODELER", "ROLE_ANALYST"}

// builtinGroup returns the built-in group name names, in any case.
func builtinGroup(name string) (string, bool) {
	for _, b := range BuiltinGroups {
		if UsernameKey(b) == UsernameKey(name) {
			return b, true
		}
	}
	return "", false
}

// CheckGroupName applies the username rule to a group name.
func CheckGroupName(field, name string) error {
	if err := CheckUsername(field, name); err != nil {
		return errs.As(err).WithReason(errs.ReasonGroupName)
	}
	return nil
}

func noGroup(name string) *errs.Error {
	return errs.E(errs.NotFound, "no user group named %s", name).WithReason(errs.ReasonNoGroup)
}

// GroupByName loads a group, built-in or not, by name in any case.
func (s *Core) GroupByName(ctx context.Context, name string) (*db.Group, error) {
	g, err := db.GroupByKey(ctx, s.DB, UsernameKey(name))
	if errors.Is(err, db.ErrNotFound) {
		return nil, noGroup(name)
	}
	return g, errs.Wrap(err, "load group")
}

// Groups returns a page of group names (built-in ones included) containing filter in any
// case, or with caseSensitive as spelled, and how many match.
func (s *Core) Groups(ctx context.Context, filter string, caseSensitive bool, offset, limit int) ([]string, int, error) {
	if !caseSensitive {
		filter = UsernameKey(filter)
	}
	names, total, err := db.ListGroups(ctx, s.DB, filter, caseSensitive, offset, limit)
	return names, total, errs.Wrap(err, "list groups")
}

// GroupMembers returns a page of a group's members whose name contains filter in any
// case, and how many match.
func (s *Core) GroupMembers(ctx context.Context, name, filter string, offset, limit int) ([]db.User, int, error) {
	g, err := s.GroupByName(ctx, name)
	if err != nil {
		return nil, 0, err
	}
	us, total, err := db.ListGroupMembers(ctx, s.DB, g.ID, UsernameKey(filter), offset, limit)
	return us, total, errs.Wrap(err, "list group members")
}

// CreateGroup makes a user group. Names are unique in any case, the built-in groups'
// included: of concurrent creates of one name exactly one succeeds.
func (s *Core) CreateGroup(ctx context.Context, a Actor, name string) (*db.Group, error) {
	if err := CheckGroupName("group_name", name); err != nil {
		return nil, err
	}
	g := &db.Group{ID: uuid.Must(uuid.NewV7()), Name: name, NameKey: UsernameKey(name), CreatedAt: s.Now()}
	err := s.DB.Tx(ctx, func(tx db.Queryer) error {
		if err := db.InsertGroup(ctx, tx, g); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{At: g.CreatedAt, Name: audit.GroupCreate, Actor: a.Audit,
			Target: g.ID.String(), Detail: map[string]any{"group": g.Name}})
	})
	if errors.Is(err, db.ErrDuplicate) {
		return nil, errs.E(errs.Conflict, "a group named %s already exists", name).WithReason(errs.ReasonDuplicateGroup)
	}
	return g, errs.Wrap(err, "create group")
}

// DeleteGroup removes a user group with its memberships and its access entries. The
// built-in groups stay.
func (s *Core) DeleteGroup(ctx context.Context, a Actor, name string) error {
	err := s.DB.Tx(ctx, func(tx db.Queryer) error {
		g, err := lockGroup(ctx, tx, name, db.LockToDelete)
		if err != nil {
			return err
		}
		if g.Builtin {
			return errs.Field("group_name", g.Name+" is a built-in group and cannot be deleted").WithReason(errs.ReasonGroupName)
		}
		members, err := db.DeleteGroup(ctx, tx, g.ID)
		if err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, audit.Event{At: s.Now(), Name: audit.GroupDelete, Actor: a.Audit,
			Target: g.ID.String(), Detail: map[string]any{"group": g.Name, "members": len(members)}}); err != nil {
			return err
		}
		// the members' authorities changed: what any instance keeps of them must go
		return s.changedAll(ctx, tx, members)
	})
	return errs.Wrap(err, "delete group")
}

// lockGroup loads a group by name in any case, locked until the transaction ends.
func lockGroup(ctx context.Context, tx db.Queryer, name string, lock db.GroupLock) (*db.Group, error) {
	g, err := db.LockGroup(ctx, tx, UsernameKey(name), lock)
	if errors.Is(err, db.ErrNotFound) {
		return nil, noGroup(name)
	}
	return g, err
}

func (s *Core) changedAll(ctx context.Context, q db.Queryer, ids []uuid.UUID) error {
	for _, id := range ids {
		if err := s.changed(ctx, q, id); err != nil {
			return err
		}
	}
	return nil
}

// SetGroupMembers makes the named users a user group's members, all or nothing: users
// listed join, members not listed leave (Kylin's addOrDelUsers). Nobody moves
// themselves in or out, and only an admin moves an admin.
func (s *Core) SetGroupMembers(ctx context.Context, a Actor, name string, usernames []string) error {
	keys := make([]string, 0, len(usernames))
	for _, n := range usernames {
		if k := UsernameKey(n); !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	err := s.DB.Tx(ctx, func(tx db.Queryer) error {
		g, err := lockGroup(ctx, tx, name, db.LockToChange)
		if err != nil {
			return err
		}
		if g.Builtin {
			return errs.Field("group_name", "the members of the built-in group "+g.Name+
				" follow each user's authorities: change those instead")
		}
		// the users stay until the change commits
		users, err := db.UsersForShare(ctx, tx, keys)
		if err != nil {
			return err
		}
		if len(users) < len(keys) {
			return errs.Field("users", "no user named "+strings.Join(missingNames(usernames, users), ", ")).WithReason(errs.ReasonNoUser)
		}
		want := make([]uuid.UUID, len(users))
		for i, u := range users {
			want[i] = u.ID
		}
		had, err := db.GroupMemberIDs(ctx, tx, g.ID)
		if err != nil {
			return err
		}
		return s.moveMembers(ctx, tx, a, g, had, want)
	})
	return errs.Wrap(err, "set group members")
}

// missingNames are the names of usernames that no user in found has (in any case).
func missingNames(usernames []string, found []db.User) []string {
	var out []string
	for _, n := range usernames {
		if !slices.ContainsFunc(found, func(u db.User) bool { return u.UsernameKey == UsernameKey(n) }) &&
			!slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// moveMembers changes g's members from had to want, under the rules of moving users.
func (s *Core) moveMembers(ctx context.Context, tx db.Queryer, a Actor, g *db.Group, had, want []uuid.UUID) error {
	in, out := diffIDs(had, want)
	if len(in) == 0 && len(out) == 0 {
		return nil
	}
	moved, err := db.UsersByIDs(ctx, tx, append(slices.Clone(in), out...))
	if err != nil {
		return err
	}
	names := map[uuid.UUID]string{}
	for _, u := range moved {
		if err := s.mayMove(a, &u, g); err != nil {
			return err
		}
		names[u.ID] = u.Username
	}
	joined, left := []string{}, []string{}
	for _, id := range in {
		if err := db.AddGroupMember(ctx, tx, g.ID, id); err != nil {
			return err
		}
		joined = append(joined, names[id])
	}
	for _, id := range out {
		if err := db.RemoveGroupMember(ctx, tx, g.ID, id); err != nil {
			return err
		}
		if n, ok := names[id]; ok { // gone with its user meanwhile otherwise
			left = append(left, n)
		}
	}
	if err := audit.Record(ctx, tx, audit.Event{At: s.Now(), Name: audit.GroupMembers, Actor: a.Audit,
		Target: g.ID.String(), Detail: map[string]any{"group": g.Name, "joined": joined, "left": left}}); err != nil {
		return err
	}
	return s.changedAll(ctx, tx, append(in, out...))
}

// mayMove applies the rules of putting u in or out of g: a group can carry project access,
// so nobody changes their own groups, and only an admin changes an admin's.
func (s *Core) mayMove(a Actor, u *db.User, g *db.Group) error {
	if u.ID == a.UserID {
		return errs.E(errs.Forbidden, "you cannot put yourself in or out of group %s", g.Name)
	}
	return guard(a, u, "change the groups of")
}

// diffIDs returns the ids of want not in had (joining) and of had not in want (leaving),
// each sorted, so that rows are always locked in one order.
func diffIDs(had, want []uuid.UUID) (in, out []uuid.UUID) {
	for _, id := range want {
		if !slices.Contains(had, id) && !slices.Contains(in, id) {
			in = append(in, id)
		}
	}
	for _, id := range had {
		if !slices.Contains(want, id) {
			out = append(out, id)
		}
	}
	cmp := func(x, y uuid.UUID) int { return bytes.Compare(x[:], y[:]) }
	slices.SortFunc(in, cmp)
	slices.SortFunc(out, cmp)
	return in, out
}

// resolveGroups loads the user groups named (in any case); a name that is none is a bad
// request naming field.
func resolveGroups(ctx context.Context, q db.Queryer, field string, names []string) ([]db.Group, error) {
	if len(names) == 0 {
		return nil, nil
	}
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = UsernameKey(n)
	}
	gs, err := db.GroupsByKeys(ctx, q, keys)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if !slices.ContainsFunc(gs, func(g db.Group) bool { return g.NameKey == UsernameKey(n) }) {
			return nil, errs.Field(field, "no user group named "+n).WithReason(errs.ReasonNoGroup)
		}
	}
	return gs, nil
}

// setUserGroups makes gs the user groups of u (a new user has none), under the rules of
// moving users, and sets u.Groups to their names.
func (s *Core) setUserGroups(ctx context.Context, tx db.Queryer, a Actor, u *db.User, gs []db.Group, isNew bool) error {
	var had []uuid.UUID
	if !isNew {
		var err error
		if had, err = db.UserGroupIDs(ctx, tx, u.ID); err != nil {
			return err
		}
	}
	want := make([]uuid.UUID, len(gs))
	names := make([]string, len(gs))
	for i, g := range gs {
		want[i], names[i] = g.ID, g.Name
	}
	in, out := diffIDs(had, want)
	if len(in)+len(out) > 0 && !isNew && u.ID == a.UserID {
		return errs.E(errs.Forbidden, "you cannot change your own user groups")
	}
	for _, id := range in {
		if err := db.AddGroupMember(ctx, tx, id, u.ID); errors.Is(err, db.ErrNotFound) {
			return errs.Field("authorities", "a user group named there was deleted meanwhile").WithReason(errs.ReasonNoGroup)
		} else if err != nil {
			return err
		}
	}
	for _, id := range out {
		if err := db.RemoveGroupMember(ctx, tx, id, u.ID); err != nil {
			return err
		}
	}
	u.Groups = names
	return nil
}
