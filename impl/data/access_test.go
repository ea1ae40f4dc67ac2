package data

import (
	"testing"

	"github.com/google/uuid"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl/auth"
	"github.com/kala-server/kala/impl/contract"
	"github.com/kala-server/kala/impl/errs"
)

// An API key's level on a project (SPEC §3: a key's rights are its permissions ∩ its
// owner's, within its services; §7: the access list is its owner's): Data Management only
// if the key carries it; otherwise its owner's access-list level, and that only when the
// key may call a service that works on projects.
func TestLevelOfKeys(t *testing.T) {
	c, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	s := &Core{Contract: c, DataManagement: c.DataManagement}
	svc := func(name string) string { return c.ServiceByName(name).ID }
	plain := &db.User{ID: uuid.New(), Permissions: []string{}}
	manager := &db.User{ID: uuid.New(), Permissions: []string{c.DataManagement}}
	admin := &db.User{ID: uuid.New(), Admin: true}
	key := func(owner *db.User, perms []string, services []string) *auth.Principal {
		return auth.NewKeyPrincipal(c, &db.APIKey{ID: uuid.New(), UserID: owner.ID, Permissions: perms, Services: services}, owner, auth.SchemeAPIKeyHeader)
	}
	listed := &db.Project{Level: int(Query)}
	unlisted := &db.Project{Level: int(None)}
	for _, tc := range []struct {
		name string
		p    *auth.Principal
		row  *db.Project
		want Level
	}{
		{"the user", auth.NewUserPrincipal(c, plain, auth.SchemeBearer), listed, Query},
		{"key, all services, no permissions", key(plain, nil, nil), listed, Query},
		{"key, datastores service", key(plain, nil, []string{svc("datastores")}), listed, Query},
		{"key, query service", key(plain, nil, []string{svc("query")}), listed, Query},
		{"key, users service only", key(plain, nil, []string{svc("users")}), listed, None},
		{"key, no service", key(plain, nil, []string{}), listed, None},
		{"key, all services, not listed", key(plain, nil, nil), unlisted, None},
		{"manager's key with Data Management", key(manager, []string{c.DataManagement}, nil), unlisted, Admin},
		{"manager's key without it", key(manager, nil, nil), unlisted, None},
		{"manager's key without it, listed", key(manager, nil, nil), listed, Query},
		{"manager's key with it, users service only", key(manager, []string{c.DataManagement}, []string{svc("users")}), unlisted, None},
		{"admin's key without Data Management", key(admin, nil, nil), unlisted, None},
		{"admin's key with it", key(admin, []string{c.DataManagement}, nil), unlisted, Admin},
	} {
		if got := s.levelOf(tc.p, tc.row); got != tc.want {
			t.Errorf("%s: level %q, want %q", tc.name, got, tc.want)
		}
	}
}

// The project check of one operation (SPEC §7): a project the caller cannot see is not
// found whatever the operation needs (404 before 403); one it sees answers by the
// operation's permissions, else by its x-project-access level; an operation that names
// no level needs its permissions.
func TestDecide(t *testing.T) {
	c, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	s := &Core{Contract: c, DataManagement: c.DataManagement}
	get, del, grant := c.Operations["getDatastore"], c.Operations["deleteDatastore"], c.Operations["kylinGrantProjectAccess"]
	user := func(perms ...string) *auth.Principal {
		return auth.NewUserPrincipal(c, &db.User{ID: uuid.New(), Permissions: perms}, auth.SchemeBearer)
	}
	at := func(l Level) *db.Project { return &db.Project{Name: "sales", Level: int(l)} }
	for _, tc := range []struct {
		name string
		p    *auth.Principal
		op   *contract.Operation
		row  *db.Project
		want string // "": allowed with level; else the error's code
		lvl  Level
	}{
		{"unlisted, read", user(), get, at(None), "not-found", 0},
		{"unlisted, delete", user(), del, at(None), "not-found", 0},
		{"unlisted, grant", user(), grant, at(None), "not-found", 0},
		{"query level reads", user(), get, at(Query), "", Query},
		{"query level may not delete", user(), del, at(Query), "forbidden", 0},
		{"admin level may not delete (needs Data Management)", user(), del, at(Admin), "forbidden", 0},
		{"query level may not grant", user(), grant, at(Query), "forbidden", 0},
		{"management level may not grant", user(), grant, at(Management), "forbidden", 0},
		{"admin level grants", user(), grant, at(Admin), "", Admin},
		{"Data Management deletes an unlisted project", user(c.DataManagement), del, at(None), "", Admin},
		{"Data Management reads", user(c.DataManagement), get, at(None), "", Admin},
	} {
		proj, err := s.Decide(tc.p, tc.op, tc.row)
		if tc.want == "" {
			if err != nil || proj.Access != tc.lvl {
				t.Errorf("%s: got %v, %v; want level %s", tc.name, proj, err, tc.lvl)
			}
			continue
		}
		if got := string(errs.CodeOf(err)); got != tc.want {
			t.Errorf("%s: got %v, want %s", tc.name, err, tc.want)
		}
	}
	if _, err := s.Decide(user(), nil, at(Query)); errs.CodeOf(err) != errs.Internal {
		t.Errorf("no operation: got %v, want an internal error", err)
	}
}
