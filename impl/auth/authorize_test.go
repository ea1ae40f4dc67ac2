package auth_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl/auth"
	"github.com/kala-server/kala/impl/contract"
	"github.com/kala-server/kala/impl/errs"
)

// Who may call an operation (SPEC §3): a key only within its services; the operation's
// x-permissions, held by the user or by the key (its permissions ∩ its owner's); for
// operations on one project the data core decides the permissions (so here only the
// service counts).
func TestAuthorize(t *testing.T) {
	c, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	um, dm := c.UserManagement, c.DataManagement
	users, datastores := c.ServiceByName("users").ID, c.ServiceByName("datastores").ID
	create, me, del := c.Operations["createUser"], c.Operations["getMe"], c.Operations["deleteDatastore"]
	user := func(perms ...string) *db.User { return &db.User{ID: uuid.New(), Permissions: perms} }
	asUser := func(u *db.User) *auth.Principal { return auth.NewUserPrincipal(c, u, auth.SchemeBearer) }
	asKey := func(owner *db.User, perms, services []string) *auth.Principal {
		return auth.NewKeyPrincipal(c, &db.APIKey{ID: uuid.New(), UserID: owner.ID, Permissions: perms, Services: services}, owner, auth.SchemeAPIKeyHeader)
	}
	admin := &db.User{ID: uuid.New(), Admin: true}
	for _, tc := range []struct {
		name string
		p    *auth.Principal
		op   *contract.Operation
		want string // "" allowed; else a word of the 403's message
	}{
		{"user without User Management", asUser(user()), create, "User Management"},
		{"user with it", asUser(user(um)), create, ""},
		{"admin", asUser(admin), create, ""},
		{"key carrying it, owner has it", asKey(user(um), []string{um}, nil), create, ""},
		{"key carrying it, owner lost it", asKey(user(), []string{um}, nil), create, "User Management"},
		{"admin's key without it", asKey(admin, nil, nil), create, "User Management"},
		{"key outside its services", asKey(user(um), []string{um}, []string{datastores}), create, "service"},
		{"key in its services", asKey(user(um), []string{um}, []string{users}), create, ""},
		{"who-am-I needs nothing", asUser(user()), me, ""},
		{"project operation: the data core decides", asUser(user()), del, ""},
		{"project operation, key outside its services", asKey(user(dm), []string{dm}, []string{users}), del, "service"},
	} {
		err := auth.Authorize(c, tc.p, tc.op)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.want != "" && (errs.CodeOf(err) != errs.Forbidden || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want a 403 naming %q", tc.name, err, tc.want)
		}
	}
}

// RequireAll names every permission missing, and only those.
func TestRequireAllNamesWhatIsMissing(t *testing.T) {
	c, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	um, dm := c.UserManagement, c.DataManagement
	p := auth.NewUserPrincipal(c, &db.User{ID: uuid.New(), Permissions: []string{um}}, auth.SchemeBearer)
	if err := auth.RequireAll(c, p, nil); err != nil {
		t.Errorf("nothing required: %v", err)
	}
	if err := auth.RequireAll(c, p, []string{um}); err != nil {
		t.Errorf("held: %v", err)
	}
	err = auth.RequireAll(c, p, []string{um, dm})
	if msg := errs.As(err).Message; msg != "this needs the Data Management permission" {
		t.Errorf("one missing: %q", msg)
	}
	none := auth.NewUserPrincipal(c, &db.User{ID: uuid.New()}, auth.SchemeBearer)
	if msg := errs.As(auth.RequireAll(c, none, []string{um, dm})).Message; msg != "this needs the User Management and Data Management permissions" {
		t.Errorf("two missing: %q", msg)
	}
}
