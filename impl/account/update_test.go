package account

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl/errs"
)

// The actors and users of the plan tables: permissions are two made-up ids.
const (
	permUM = "um"
	permDM = "dm"
)

var (
	actorAdmin   = Actor{UserID: uuid.MustParse("00000000-0000-7000-8000-00000000000a"), Admin: true}
	actorManager = Actor{UserID: uuid.MustParse("00000000-0000-7000-8000-00000000000b"), Permissions: []string{permUM}}
)

// planUser is a stored user as UserForUpdate reads it (ROLE_ADMIN derived from Admin).
func planUser(id uuid.UUID, admin, builtin, disabled bool, perms []string, auths ...string) *db.User {
	a := []string{AuthorityAllUsers}
	if admin {
		a = append(a, AuthorityAdmin)
	}
	if perms == nil {
		perms = []string{}
	}
	return &db.User{ID: id, Username: "u", Admin: admin, Builtin: builtin, Disabled: disabled,
		Permissions: perms, Authorities: append(a, auths...)}
}

var (
	otherID = uuid.MustParse("00000000-0000-7000-8000-0000000000c0")
	plain   = func() *db.User { return planUser(otherID, false, false, false, nil) }
	admin   = func() *db.User { return planUser(otherID, true, false, false, nil) }
	builtin = func() *db.User { return planUser(otherID, true, true, false, nil) }
)

func bptr(b bool) *bool                 { return &b }
func sptr(s string) *string             { return &s }
func lptr(s ...string) *[]string        { l := append([]string{}, s...); return &l }
func self(a Actor, u *db.User) *db.User { u.ID = a.UserID; return u }

// refusal is the error a plan must give: its code, and the field it names or words its
// message contains.
type refusal struct {
	code  errs.Code
	field string
	words string
}

func (r refusal) check(t *testing.T, err error) {
	t.Helper()
	var e *errs.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want a %s refusal", err, r.code)
	}
	if e.Code != r.code {
		t.Errorf("code %s (%s), want %s", e.Code, e.Message, r.code)
	}
	if r.field != "" && (len(e.Fields) != 1 || e.Fields[0].Field != r.field) {
		t.Errorf("fields %+v, want one naming %q", e.Fields, r.field)
	}
	if !strings.Contains(e.Message, r.words) {
		t.Errorf("message %q, want it to say %q", e.Message, r.words)
	}
}

// Every branch of planUpdate: who may change what, the admin flag and the groups as one
// value, the built-in ADMIN, oneself, grants, and what apply is left to do.
func TestPlanUpdate(t *testing.T) {
	// unchanged is the change that keeps u as it is
	unchanged := func(u *db.User) userChange {
		b, g := authorities(u.Admin, u.Authorities)
		if g != nil {
			panic("plan users have no user groups")
		}
		return userChange{admin: u.Admin, disabled: u.Disabled, permissions: u.Permissions, authorities: b}
	}
	with := func(u *db.User, edit func(c *userChange)) userChange {
		c := unchanged(u)
		edit(&c)
		return c
	}
	for _, tc := range []struct {
		name  string
		actor Actor
		user  *db.User
		patch UserPatch
		want  userChange
		err   *refusal
	}{
		{name: "an empty patch changes nothing", actor: actorAdmin, user: plain(), want: unchanged(plain())},

		// the rules of a patch whoever it changes
		{name: "locked true is not a thing to set", actor: actorAdmin, user: plain(), patch: UserPatch{Locked: bptr(true)},
			err: &refusal{code: errs.Invalid, field: "locked"}},
		{name: "locked false unlocks", actor: actorAdmin, user: plain(), patch: UserPatch{Locked: bptr(false)},
			want: with(plain(), func(c *userChange) { c.unlock = true })},
		{name: "a reset of one's own password", actor: actorAdmin, user: self(actorAdmin, admin()), patch: UserPatch{Password: sptr("Fresh#Pass1")},
			err: &refusal{code: errs.Invalid, field: "password", words: "old one"}},
		{name: "a reset to a weak password", actor: actorAdmin, user: plain(), patch: UserPatch{Password: sptr("weakweak")},
			err: &refusal{code: errs.Invalid, field: "password"}},
		{name: "a reset of another's password", actor: actorManager, user: plain(), patch: UserPatch{Password: sptr("Fresh#Pass1")},
			want: with(plain(), func(c *userChange) { c.reset = true })},

		// only an admin changes an admin
		{name: "a manager changes an admin", actor: actorManager, user: admin(), patch: UserPatch{Permissions: lptr()},
			err: &refusal{code: errs.Forbidden, words: "only an admin can change an admin"}},
		{name: "a manager resets an admin's password", actor: actorManager, user: admin(), patch: UserPatch{Password: sptr("Fresh#Pass1")},
			err: &refusal{code: errs.Forbidden, words: "only an admin can change an admin"}},

		// admin and ROLE_ADMIN are one value
		{name: "admin false beside ROLE_ADMIN", actor: actorAdmin, user: admin(), patch: UserPatch{Admin: bptr(false), Authorities: lptr(AuthorityAdmin)},
			err: &refusal{code: errs.Invalid, field: "authorities"}},
		{name: "admin true without ROLE_ADMIN", actor: actorAdmin, user: admin(), patch: UserPatch{Admin: bptr(true), Authorities: lptr(AuthorityAllUsers)},
			err: &refusal{code: errs.Invalid, field: "authorities"}},
		{name: "groups without ROLE_ADMIN demote", actor: actorAdmin, user: admin(), patch: UserPatch{Authorities: lptr("ROLE_ANALYST")},
			want: userChange{authorities: []string{AuthorityAllUsers, "ROLE_ANALYST"}, permissions: []string{}, setGroups: true, removesAdmin: true}},
		{name: "admin false demotes and keeps the other groups", actor: actorAdmin, user: planUser(otherID, true, false, false, nil, "ROLE_MODELER"),
			patch: UserPatch{Admin: bptr(false)},
			want:  userChange{authorities: []string{AuthorityAllUsers, "ROLE_MODELER"}, permissions: []string{}, removesAdmin: true}},
		{name: "groups with ROLE_ADMIN (any case) promote", actor: actorAdmin, user: plain(), patch: UserPatch{Authorities: lptr("role_admin")},
			want: userChange{admin: true, authorities: []string{AuthorityAllUsers, AuthorityAdmin}, permissions: []string{}, setGroups: true}},
		{name: "admin true promotes", actor: actorAdmin, user: plain(), patch: UserPatch{Admin: bptr(true)},
			want: with(plain(), func(c *userChange) { c.admin, c.authorities = true, []string{AuthorityAllUsers, AuthorityAdmin} })},
		{name: "admin true with ROLE_ADMIN promotes", actor: actorAdmin, user: plain(), patch: UserPatch{Admin: bptr(true), Authorities: lptr(AuthorityAdmin, "ROLE_MODELER")},
			want: userChange{admin: true, authorities: []string{AuthorityAllUsers, AuthorityAdmin, "ROLE_MODELER"}, permissions: []string{}, setGroups: true}},
		{name: "a manager makes an admin", actor: actorManager, user: plain(), patch: UserPatch{Admin: bptr(true)},
			err: &refusal{code: errs.Forbidden, words: "only an admin can make an admin"}},
		{name: "a manager makes themselves admin by groups", actor: actorManager, user: self(actorManager, plain()), patch: UserPatch{Authorities: lptr(AuthorityAdmin)},
			err: &refusal{code: errs.Forbidden, words: "only an admin can make an admin"}},

		// the built-in ADMIN
		{name: "the built-in ADMIN disabled", actor: actorAdmin, user: builtin(), patch: UserPatch{Disabled: bptr(true)},
			err: &refusal{code: errs.Forbidden, words: "built-in ADMIN"}},
		{name: "the built-in ADMIN demoted", actor: actorAdmin, user: builtin(), patch: UserPatch{Admin: bptr(false)},
			err: &refusal{code: errs.Forbidden, words: "built-in ADMIN"}},
		{name: "the built-in ADMIN demoted by groups", actor: actorAdmin, user: builtin(), patch: UserPatch{Authorities: lptr("ROLE_MODELER")},
			err: &refusal{code: errs.Forbidden, words: "built-in ADMIN"}},
		{name: "the built-in ADMIN demoted by itself", actor: actorAdmin, user: self(actorAdmin, builtin()), patch: UserPatch{Authorities: lptr(AuthorityAllUsers)},
			err: &refusal{code: errs.Forbidden, words: "built-in ADMIN"}},
		{name: "the built-in ADMIN kept admin by groups", actor: actorAdmin, user: builtin(), patch: UserPatch{Authorities: lptr(AuthorityAllUsers, AuthorityAdmin)},
			want: with(builtin(), func(c *userChange) { c.setGroups = true })},
		{name: "the built-in ADMIN kept admin by the flag", actor: actorAdmin, user: builtin(), patch: UserPatch{Admin: bptr(true)},
			want: unchanged(builtin())},
		{name: "the built-in ADMIN kept enabled", actor: actorAdmin, user: builtin(), patch: UserPatch{Disabled: bptr(false)},
			want: unchanged(builtin())},

		// oneself
		{name: "disabling oneself", actor: actorAdmin, user: self(actorAdmin, admin()), patch: UserPatch{Disabled: bptr(true)},
			err: &refusal{code: errs.Forbidden, words: "yourself"}},
		{name: "demoting oneself", actor: actorAdmin, user: self(actorAdmin, admin()), patch: UserPatch{Admin: bptr(false)},
			err: &refusal{code: errs.Forbidden, words: "yourself"}},
		{name: "demoting oneself by groups", actor: actorAdmin, user: self(actorAdmin, admin()), patch: UserPatch{Authorities: lptr("ROLE_ANALYST")},
			err: &refusal{code: errs.Forbidden, words: "yourself"}},
		{name: "a manager disabling themselves", actor: actorManager, user: self(actorManager, plain()), patch: UserPatch{Disabled: bptr(true)},
			err: &refusal{code: errs.Forbidden, words: "yourself"}},
		{name: "one's own built-in groups (own user groups are apply's)", actor: actorManager, user: self(actorManager, plain()),
			patch: UserPatch{Authorities: lptr("ROLE_ANALYST")},
			want:  userChange{authorities: []string{AuthorityAllUsers, "ROLE_ANALYST"}, permissions: []string{}, setGroups: true}},

		// disabling, and the last admin left to apply
		{name: "disabling an enabled admin", actor: actorAdmin, user: admin(), patch: UserPatch{Disabled: bptr(true)},
			want: with(admin(), func(c *userChange) { c.disabled, c.disabling, c.removesAdmin = true, true, true })},
		{name: "disabling a disabled admin again", actor: actorAdmin, user: planUser(otherID, true, false, true, nil), patch: UserPatch{Disabled: bptr(true)},
			want: unchanged(planUser(otherID, true, false, true, nil))},
		{name: "demoting a disabled admin", actor: actorAdmin, user: planUser(otherID, true, false, true, nil), patch: UserPatch{Admin: bptr(false)},
			want: userChange{disabled: true, authorities: []string{AuthorityAllUsers}, permissions: []string{}, removesAdmin: true}},
		{name: "disabling a plain user", actor: actorManager, user: plain(), patch: UserPatch{Disabled: bptr(true)},
			want: with(plain(), func(c *userChange) { c.disabled, c.disabling = true, true })},
		{name: "enabling a disabled user", actor: actorManager, user: planUser(otherID, false, false, true, nil), patch: UserPatch{Disabled: bptr(false)},
			want: unchanged(plain())},

		// grants
		{name: "a manager grants what they hold", actor: actorManager, user: plain(), patch: UserPatch{Permissions: lptr(permUM)},
			want: with(plain(), func(c *userChange) { c.permissions = []string{permUM} })},
		{name: "a manager grants what they lack", actor: actorManager, user: plain(), patch: UserPatch{Permissions: lptr(permUM, permDM)},
			err: &refusal{code: errs.Forbidden, words: "permissions[1]"}},
		{name: "a manager keeps what the user had", actor: actorManager, user: planUser(otherID, false, false, false, []string{permDM}),
			patch: UserPatch{Permissions: lptr(permDM, permUM)},
			want:  with(plain(), func(c *userChange) { c.permissions = []string{permDM, permUM} })},
		{name: "a manager takes away", actor: actorManager, user: planUser(otherID, false, false, false, []string{permDM}), patch: UserPatch{Permissions: lptr()},
			want: unchanged(plain())},
		{name: "an admin grants anything", actor: actorAdmin, user: plain(), patch: UserPatch{Permissions: lptr(permDM, permUM)},
			want: with(plain(), func(c *userChange) { c.permissions = []string{permDM, permUM} })},

		// groups: built-in ones apart, user groups by name (found by apply), once in any case
		{name: "built-in groups in any case and user groups", actor: actorManager, user: plain(),
			patch: UserPatch{Authorities: lptr("rOLE_modeler", "Analysts", "ANALYSTS", "auditors", "all_users")},
			want: userChange{authorities: []string{AuthorityAllUsers, "ROLE_MODELER"}, permissions: []string{},
				groups: []string{"Analysts", "auditors"}, setGroups: true}},
		{name: "no groups named: the stored ones stay, user groups untouched", actor: actorManager,
			user: planUser(otherID, false, false, false, nil, "ROLE_ANALYST"), patch: UserPatch{Disabled: bptr(false)},
			want: unchanged(planUser(otherID, false, false, false, nil, "ROLE_ANALYST"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := planUpdate(tc.actor, tc.user, tc.patch)
			if tc.err != nil {
				tc.err.check(t, err)
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !reflect.DeepEqual(norm(got), norm(tc.want)) {
				t.Errorf("change\n%+v\nwant\n%+v", norm(got), norm(tc.want))
			}
			// the admin lock is taken from the patch alone, before the user is read: a
			// change that removes an admin must have taken it
			if got.removesAdmin && !mayRemoveAdmin(tc.patch) {
				t.Errorf("removes an admin, but mayRemoveAdmin(%+v) is false: no lock would be held", tc.patch)
			}
		})
	}
}

// norm makes nil and empty lists equal, as they are on the wire and in the database.
func norm(c userChange) userChange {
	for _, l := range []*[]string{&c.permissions, &c.authorities, &c.groups} {
		if *l == nil {
			*l = []string{}
		}
	}
	return c
}

// Which patches take the admin lock: those that disable or demote, and no others (every
// other user change runs without waiting for it).
func TestMayRemoveAdmin(t *testing.T) {
	for _, tc := range []struct {
		patch UserPatch
		want  bool
	}{
		{UserPatch{}, false},
		{UserPatch{Disabled: bptr(true)}, true},
		{UserPatch{Disabled: bptr(false)}, false},
		{UserPatch{Admin: bptr(false)}, true},
		{UserPatch{Admin: bptr(true)}, false},
		{UserPatch{Authorities: lptr("ROLE_ANALYST")}, true},
		{UserPatch{Authorities: lptr("Role_Admin")}, false},
		{UserPatch{Admin: bptr(true), Authorities: lptr("ROLE_ANALYST")}, false}, // refused by the plan
		{UserPatch{Permissions: lptr(permUM), Locked: bptr(false), Password: sptr("Fresh#Pass1")}, false},
	} {
		if got := mayRemoveAdmin(tc.patch); got != tc.want {
			t.Errorf("mayRemoveAdmin(%s) = %v, want %v", patchString(tc.patch), got, tc.want)
		}
	}
}

func patchString(p UserPatch) string {
	var parts []string
	if p.Admin != nil {
		parts = append(parts, fmt.Sprintf("admin:%v", *p.Admin))
	}
	if p.Disabled != nil {
		parts = append(parts, fmt.Sprintf("disabled:%v", *p.Disabled))
	}
	if p.Authorities != nil {
		parts = append(parts, fmt.Sprintf("authorities:%v", *p.Authorities))
	}
	if p.Permissions != nil {
		parts = append(parts, fmt.Sprintf("permissions:%v", *p.Permissions))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// Every branch of planDelete.
func TestPlanDelete(t *testing.T) {
	for _, tc := range []struct {
		name         string
		actor        Actor
		user         *db.User
		removesAdmin bool
		err          *refusal
	}{
		{name: "the built-in ADMIN", actor: actorAdmin, user: builtin(), err: &refusal{code: errs.Forbidden, words: "built-in ADMIN"}},
		{name: "oneself", actor: actorAdmin, user: self(actorAdmin, admin()), err: &refusal{code: errs.Forbidden, words: "yourself"}},
		{name: "a manager, oneself", actor: actorManager, user: self(actorManager, plain()), err: &refusal{code: errs.Forbidden, words: "yourself"}},
		{name: "a manager, an admin", actor: actorManager, user: admin(), err: &refusal{code: errs.Forbidden, words: "only an admin can delete an admin"}},
		{name: "a manager, a plain user", actor: actorManager, user: plain()},
		{name: "an admin, an enabled admin", actor: actorAdmin, user: admin(), removesAdmin: true},
		{name: "an admin, a disabled admin", actor: actorAdmin, user: planUser(otherID, true, false, true, nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			removes, err := planDelete(tc.actor, tc.user)
			if tc.err != nil {
				tc.err.check(t, err)
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if removes != tc.removesAdmin {
				t.Errorf("removesAdmin %v, want %v", removes, tc.removesAdmin)
			}
		})
	}
}

// The groups a user shows: ALL_USERS always, ROLE_ADMIN exactly for an admin (whatever
// the row's authorities say), the other built-in ones, then the user groups.
func TestAuthorities(t *testing.T) {
	for _, tc := range []struct {
		u    db.User
		want string
	}{
		{db.User{}, "[ALL_USERS]"},
		{db.User{Admin: true, Authorities: []string{"ALL_USERS"}}, "[ALL_USERS ROLE_ADMIN]"},
		{db.User{Authorities: []string{"ALL_USERS", "ROLE_ADMIN", "ROLE_ANALYST"}}, "[ALL_USERS ROLE_ANALYST]"},
		{db.User{Admin: true, Authorities: []string{"ROLE_MODELER", "ROLE_ADMIN", "ALL_USERS"}, Groups: []string{"a", "B"}},
			"[ALL_USERS ROLE_ADMIN ROLE_MODELER a B]"},
	} {
		if got := fmt.Sprint(Authorities(&tc.u)); got != tc.want {
			t.Errorf("Authorities(%+v) = %s, want %s", tc.u, got, tc.want)
		}
	}
}
