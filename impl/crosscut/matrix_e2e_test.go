package crosscut_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/kala-server/kala"
	"github.com/kala-server/kala/impl/contract"
	"github.com/kala-server/kala/impl/testkit"
)

// ---------------------------------------------------------------------------------------
// The contract's rules: every operation carries them, and the loader refuses a document
// where one is missing or names an unknown service.

func TestMatrixEveryOperationDeclaresItsRules(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(kala.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			n++
			for _, ext := range []string{"x-service", "x-permissions"} {
				if _, ok := op.Extensions[ext]; !ok {
					t.Errorf("%s %s (%s) has no %s", method, path, op.OperationID, ext)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("the document has no operations")
	}
	c, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Operations) != n {
		t.Errorf("the contract has %d operations, the document %d", len(c.Operations), n)
	}
	for id, op := range c.Operations {
		if op.Permissions == nil {
			t.Errorf("%s: nil permissions", id)
		}
		if op.Path == "" || op.Method == "" {
			t.Errorf("%s: no method or path", id)
		}
	}
}

// mxLoadDoc is a fresh copy of the embedded document, for tests that change it.
func mxLoadDoc(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(kala.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestContractRefusesIncompleteRules(t *testing.T) {
	load := func() *openapi3.T { return mxLoadDoc(t) }
	if _, err := contract.FromDoc(load()); err != nil {
		t.Fatalf("the unchanged document is refused: %v", err)
	}
	type target struct{ path, method, id string }
	var targets []target
	for path, item := range load().Paths.Map() {
		for method, op := range item.Operations() {
			targets = append(targets, target{path, method, op.OperationID})
		}
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].id < targets[j].id })
	mutate := func(tg target, f func(ext map[string]any)) error {
		doc := load()
		f(doc.Paths.Value(tg.path).GetOperation(tg.method).Extensions)
		_, err := contract.FromDoc(doc)
		return err
	}
	for _, tg := range targets {
		t.Run(tg.id, func(t *testing.T) {
			err := mutate(tg, func(ext map[string]any) { delete(ext, "x-permissions") })
			if err == nil || !strings.Contains(err.Error(), "x-permissions") {
				t.Errorf("without x-permissions: error %v, want one naming x-permissions", err)
			}
			err = mutate(tg, func(ext map[string]any) { delete(ext, "x-service") })
			if err == nil || !strings.Contains(err.Error(), "x-service") {
				t.Errorf("without x-service: error %v, want one naming x-service", err)
			}
			err = mutate(tg, func(ext map[string]any) { ext["x-service"] = "reports" })
			if err == nil || !strings.Contains(err.Error(), "reports") {
				t.Errorf("with an unknown x-service: error %v, want one naming it", err)
			}
		})
	}
	// and an unknown permission, or an unknown access level, on one operation
	tg := targets[0]
	if err := mutate(tg, func(ext map[string]any) {
		ext["x-permissions"] = []any{"01968c91-0000-7000-8000-000000000000"}
	}); err == nil {
		t.Error("an unknown permission in x-permissions is accepted")
	}
	if err := mutate(tg, func(ext map[string]any) { ext["x-project-access"] = "OWNER" }); err == nil {
		t.Error("an unknown x-project-access level is accepted")
	}
}

// ---------------------------------------------------------------------------------------
// The authorization matrix: every /api operation × every kind of caller, the expected
// status computed from the operation's own rules in openapi.yaml.

// mxPrincipal is one kind of caller.
type mxPrincipal struct {
	name     string
	opts     []testkit.ReqOpt
	none     bool     // no credential at all
	scheme   string   // the security scheme its credential uses
	key      bool     // an API key
	admin    bool     // a ROLE_ADMIN user acting as themselves
	perms    []string // effective permissions
	services []string // services it may call; nil = all
	user     testkit.User
	tok      string // a token of the user, or of the key's owner
}

// mxFixtures are made once per matrix run, by the bootstrap ADMIN.
type mxFixtures struct {
	adminTok string
	ds       string // a datastore with a table t(id integer)
	seq      atomic.Int64
}

// mxCall is one request to build: the operation, its caller, the fixtures.
type mxCall struct {
	t  *testing.T
	e  *testkit.Env
	op *contract.Operation
	p  *mxPrincipal
	fx *mxFixtures
}

func (c *mxCall) unique(prefix string) string {
	return fmt.Sprintf("%s_%d", prefix, c.fx.seq.Add(1))
}

func (c *mxCall) admin() testkit.ReqOpt { return testkit.Bearer(c.fx.adminTok) }

// target is a fresh, ordinary user to act on.
func (c *mxCall) target() testkit.User { return c.e.NewUser(c.unique("mx_target"), false) }

// freshDatastore is a new datastore to destroy.
func (c *mxCall) freshDatastore() string {
	return testkit.ID(c.t, c.e.Do("POST", "/api/datastores", map[string]any{"name": c.unique("mx_ds")}, c.admin()).Expect(c.t, 201))
}

// freshTable is a new table of the shared datastore.
func (c *mxCall) freshTable() string {
	name := c.unique("mx_t")
	c.e.Do("POST", "/api/datastores/"+c.fx.ds+"/tables", map[string]any{"name": name,
		"columns": []map[string]any{{"name": "id", "type": "integer"}}}, c.admin()).Expect(c.t, 201)
	return name
}

// ownKey is the id of a new API key of the caller (the key's owner for a key; ADMIN for
// a caller without credentials): only a key's owner can revoke it.
func (c *mxCall) ownKey() string {
	tok := c.p.tok
	if tok == "" {
		tok = c.fx.adminTok
	}
	return testkit.KeyID(c.t, c.e, tok, c.e.NewKey(tok, map[string]any{"validTo": testkit.ValidTo(c.e)}))
}

// self is the caller's own user (the key's owner for a key; a fresh user without credentials).
func (c *mxCall) self() testkit.User {
	if c.p.user.Name == "" {
		return c.target()
	}
	return c.p.user
}

// mxBuilder gives the path parameters and the body of a valid request for one caller.
type mxBuilder func(c *mxCall) (params map[string]string, body any)

func mxNoArgs(*mxCall) (map[string]string, any) { return nil, nil }

// mxBuilders holds one valid request per /api operation. A new operation needs an entry
// here: the matrix fails for an operation without one.
var mxBuilders = map[string]mxBuilder{
	"createAccessToken": func(c *mxCall) (map[string]string, any) {
		u := c.e.NewUser(c.unique("mx_login"), false)
		return nil, map[string]any{"username": u.Name, "password": u.Password}
	},
	"createApiKey": func(c *mxCall) (map[string]string, any) {
		return nil, map[string]any{"validTo": testkit.ValidTo(c.e), "name": c.unique("mx_key")}
	},
	"listApiKeys": mxNoArgs,
	"deleteApiKey": func(c *mxCall) (map[string]string, any) {
		return map[string]string{"id": c.ownKey()}, nil
	},
	"getMe":           mxNoArgs,
	"listPermissions": mxNoArgs,
	"listServices":    mxNoArgs,
	"listUsers":       mxNoArgs,
	"listAuditEvents": mxNoArgs,
	"createUser": func(c *mxCall) (map[string]string, any) {
		return nil, map[string]any{"username": c.unique("mx_new"), "password": "Welcome#2026"}
	},
	"getUser": func(c *mxCall) (map[string]string, any) {
		return map[string]string{"id": c.target().ID.String()}, nil
	},
	"updateUser": func(c *mxCall) (map[string]string, any) {
		return map[string]string{"id": c.target().ID.String()}, map[string]any{"disabled": true}
	},
	"deleteUser": func(c *mxCall) (map[string]string, any) {
		return map[string]string{"id": c.target().ID.String()}, nil
	},
	"changeUserPassword": func(c *mxCall) (map[string]string, any) {
		u := c.self()
		return map[string]string{"id": u.ID.String()},
			map[string]any{"oldPassword": u.Password, "newPassword": "N3w-Secret#" + c.unique("pw")}
	},
	"listDatastores": mxNoArgs,
	"createDatastore": func(c *mxCall) (map[string]string, any) {
		return nil, map[string]any{"name": c.unique("mx_new_ds"), "description": "matrix"}
	},
	"getDatastore": func(c *mxCall) (map[string]string, any) {
		return map[string]string{"id": c.fx.ds}, nil
	},
	"updateDatastore": func(c *mxCall) (map[string]string, any) {
		return map[string]string{"id": c.fx.ds}, map[string]any{"description": c.unique("changed")}
	},
	"deleteDatastore": func(c *mxCall) (map[string]string, any) {
		return map[string]string{"id": c.freshDatastore()}, nil
	},
	"listTables": func(c *mxCall) (map[string]string, any) {
		return map[string]string{"id": c.fx.ds}, nil
	},
	"createTable": func(c *mxCall) (map[string]string, any) {
		return map[string]string{"id": c.fx.ds}, map[string]any{"name": c.unique("mx_new_t"),
			"columns": []map[string]any{{"name": "id", "type": "bigint", "nullable": false}}}
	},
	"getTable": func(c *mxCall) (map[string]string, any) {
		return map[string]string{"id": c.fx.ds, "table": "t"}, nil
	},
	"deleteTable": func(c *mxCall) (map[string]string, any) {
		return map[string]string{"id": c.fx.ds, "table": c.freshTable()}, nil
	},
	"listRows": func(c *mxCall) (map[string]string, any) {
		return map[string]string{"id": c.fx.ds, "table": "t"}, nil
	},
	"insertRows": func(c *mxCall) (map[string]string, any) {
		return map[string]string{"id": c.fx.ds, "table": "t"}, []map[string]any{{"id": 1}, {"id": 2}}
	},
}

// mxSuccess is the operation's one 2xx status in openapi.yaml.
func mxSuccess(t *testing.T, doc *openapi3.T, op *contract.Operation) int {
	t.Helper()
	o := doc.Paths.Value(op.Path).GetOperation(op.Method)
	var ok []int
	for code := range o.Responses.Map() {
		var n int
		if _, err := fmt.Sscanf(code, "%d", &n); err == nil && n >= 200 && n < 300 {
			ok = append(ok, n)
		}
	}
	if len(ok) != 1 {
		t.Fatalf("%s declares %d success statuses %v, want exactly one", op.ID, len(ok), ok)
	}
	return ok[0]
}

// mxOnOneProject: the operation acts on one datastore named in its path. A caller who may
// not see that datastore is told it does not exist (SPEC §7: "A project the caller may not
// see → 404, not 403"); the matrix's callers are on no access list, so they cannot see it.
func mxOnOneProject(op *contract.Operation) bool {
	return op.ProjectAccess != "" || strings.HasPrefix(op.Path, "/api/datastores/{id}")
}

// mxExpect is the status the operation's rules give this caller.
func mxExpect(op *contract.Operation, p *mxPrincipal, success int) int {
	switch {
	case len(op.Schemes) == 0: // security []: the credentials are in the body
		return success
	case p.none:
		return http.StatusUnauthorized
	case !slices.Contains(op.Schemes, p.scheme): // e.g. a key on a bearer-only operation
		return http.StatusUnauthorized
	case op.Service != nil && p.services != nil && !slices.Contains(p.services, op.Service.ID):
		return http.StatusForbidden
	}
	if !p.admin {
		for _, perm := range op.Permissions {
			if !slices.Contains(p.perms, perm) {
				if mxOnOneProject(op) {
					return http.StatusNotFound
				}
				return http.StatusForbidden
			}
		}
	}
	return success
}

// mxPrincipals makes the callers for one operation, fresh for each operation (some
// operations, like a password change, end the caller's token).
func mxPrincipals(t *testing.T, e *testkit.Env, op *contract.Operation, fx *mxFixtures) []*mxPrincipal {
	c := e.Server.Contract
	all := c.AllPermissionIDs()
	need := op.Permissions
	others := []string{}
	for _, p := range all {
		if !slices.Contains(need, p) {
			others = append(others, p)
		}
	}
	n := fx.seq.Add(1)
	name := func(role string) string { return fmt.Sprintf("mx_%s_%s_%d", role, op.ID, n) }
	withTok := func(u testkit.User) string { return e.Login(u.Name, u.Password) }

	without := e.NewUser(name("without"), false, others...)
	with := e.NewUser(name("with"), false, need...)
	admin := e.NewUser(name("admin"), true)
	owner := e.NewUser(name("owner"), false, all...)
	lost := e.NewUser(name("lost"), false, need...)
	withoutTok, withTok2, adminTok, ownerTok, lostTok := withTok(without), withTok(with), withTok(admin), withTok(owner), withTok(lost)

	validTo := testkit.ValidTo(e)
	keyWith := e.NewKey(ownerTok, map[string]any{"validTo": validTo, "permissions": need})
	keyWithout := e.NewKey(ownerTok, map[string]any{"validTo": validTo, "permissions": others})
	keyLost := e.NewKey(lostTok, map[string]any{"validTo": validTo, "permissions": need})
	if _, err := e.DB.ExecContext(context.Background(), `UPDATE users SET permissions = '{}' WHERE id = $1`, lost.ID); err != nil {
		t.Fatal(err)
	}

	ps := []*mxPrincipal{
		{name: "no credential", none: true},
		{name: "user without the permissions", opts: []testkit.ReqOpt{testkit.Bearer(withoutTok)}, scheme: "bearerAuth",
			perms: others, user: without, tok: withoutTok},
		{name: "user with the permissions", opts: []testkit.ReqOpt{testkit.Bearer(withTok2)}, scheme: "bearerAuth",
			perms: need, user: with, tok: withTok2},
		{name: "admin", opts: []testkit.ReqOpt{testkit.Bearer(adminTok)}, scheme: "bearerAuth",
			admin: true, perms: all, user: admin, tok: adminTok},
		{name: "key with the permissions", opts: []testkit.ReqOpt{testkit.APIKey(keyWith)}, scheme: "apiKeyHeader",
			key: true, perms: need, user: owner, tok: ownerTok},
		{name: "key with the permissions in the query", opts: []testkit.ReqOpt{testkit.QueryKey(keyWith)}, scheme: "apiKeyQuery",
			key: true, perms: need, user: owner, tok: ownerTok},
		{name: "key without the permissions", opts: []testkit.ReqOpt{testkit.APIKey(keyWithout)}, scheme: "apiKeyHeader",
			key: true, perms: others, user: owner, tok: ownerTok},
		{name: "key whose owner lost the permissions", opts: []testkit.ReqOpt{testkit.APIKey(keyLost)}, scheme: "apiKeyHeader",
			key: true, perms: []string{}, user: lost, tok: lostTok},
	}
	if op.Service != nil {
		var otherServices []string
		for _, s := range c.AllServiceIDs() {
			if s != op.Service.ID {
				otherServices = append(otherServices, s)
			}
		}
		keyElsewhere := e.NewKey(ownerTok, map[string]any{"validTo": validTo, "permissions": need, "services": otherServices})
		ps = append(ps, &mxPrincipal{name: "key with the permissions for other services",
			opts: []testkit.ReqOpt{testkit.APIKey(keyElsewhere)}, scheme: "apiKeyHeader",
			key: true, perms: need, services: otherServices, user: owner, tok: ownerTok})
	}
	return ps
}

// mxPath fills the operation's path template.
func mxPath(t *testing.T, op *contract.Operation, params map[string]string) string {
	t.Helper()
	path := op.Path
	for k, v := range params {
		if !strings.Contains(path, "{"+k+"}") {
			t.Fatalf("%s has no path parameter %s", op.ID, k)
		}
		path = strings.ReplaceAll(path, "{"+k+"}", v)
	}
	if strings.Contains(path, "{") {
		t.Fatalf("%s: path parameters left unfilled in %s", op.ID, path)
	}
	return path
}

func TestMatrix(t *testing.T) {
	e := testkit.New(t)
	c := e.Server.Contract
	fx := &mxFixtures{adminTok: e.AdminToken()}
	admin := testkit.Bearer(fx.adminTok)
	fx.ds = testkit.ID(t, e.Do("POST", "/api/datastores", map[string]any{"name": "mx_shared"}, admin).Expect(t, 201))
	e.Do("POST", "/api/datastores/"+fx.ds+"/tables", map[string]any{"name": "t",
		"columns": []map[string]any{{"name": "id", "type": "integer"}}}, admin).Expect(t, 201)

	var ids []string
	for id, op := range c.Operations {
		if strings.HasPrefix(op.Path, "/api/") {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	if len(ids) < 20 {
		t.Fatalf("only %d /api operations in the contract: %v", len(ids), ids)
	}
	for id := range mxBuilders {
		if op, ok := c.Operations[id]; !ok || !strings.HasPrefix(op.Path, "/api/") {
			t.Errorf("matrix fixture for %s, which is not an /api operation of the contract", id)
		}
	}
	for _, id := range ids {
		op := c.Operations[id]
		t.Run(id, func(t *testing.T) {
			build, ok := mxBuilders[id]
			if !ok {
				t.Fatalf("no matrix fixture for operation %s", id)
			}
			se := testkit.Sub(e, t)
			success := mxSuccess(t, c.Doc, op)
			for _, p := range mxPrincipals(t, se, op, fx) {
				t.Run(p.name, func(t *testing.T) {
					pe := testkit.Sub(e, t)
					call := &mxCall{t: t, e: pe, op: op, p: p, fx: fx}
					params, body := build(call)
					path := mxPath(t, op, params)
					want := mxExpect(op, p, success)
					r := pe.Do(op.Method, path, body, p.opts...)
					if r.Status != want {
						t.Fatalf("%s %s as %s: status %d, want %d; body: %s", op.Method, path, p.name, r.Status, want, r.Body)
					}
					if want >= 400 {
						pr := testkit.ProblemOf(t, r)
						if pr.Status != want {
							t.Errorf("problem status %d in a %d answer", pr.Status, want)
						}
						if want == 401 && r.Header.Get("WWW-Authenticate") == "" {
							t.Errorf("a 401 without WWW-Authenticate")
						}
					}
				})
			}
		})
	}
}

// The one operation without security: the credentials in the body decide, whatever else
// the request carries.
func TestMatrixAccessTokenNeedsTheRightPassword(t *testing.T) {
	e := testkit.New(t)
	key := e.NewKey(e.AdminToken(), map[string]any{"validTo": testkit.ValidTo(e)})
	for name, opts := range map[string][]testkit.ReqOpt{
		"none":  nil,
		"token": {testkit.Bearer(e.AdminToken())},
		"key":   {testkit.APIKey(key)},
	} {
		u := e.NewUser("mx_login_"+strings.ReplaceAll(name, " ", "_"), false)
		r := e.Do("POST", "/api/auth/access-token", map[string]any{"username": u.Name, "password": u.Password + "x"}, opts...)
		if r.Status != 401 {
			t.Errorf("wrong password with %s: status %d, want 401", name, r.Status)
		}
		r = e.Do("POST", "/api/auth/access-token", map[string]any{"username": strings.ToUpper(u.Name), "password": u.Password}, opts...)
		if r.Status != 200 {
			t.Errorf("right password (name in another case) with %s: status %d, want 200", name, r.Status)
		}
	}
}

// The loader refuses rules that could not be enforced: a project level with no
// permissions beside it (having all of none would skip the level check), and permissions
// on an operation a caller may reach without any credential (no principal, no check).
func TestContractRefusesUnenforceableRules(t *testing.T) {
	load := func() *openapi3.T { return mxLoadDoc(t) }
	var onProject, open, guarded *openapi3.Operation
	find := func(doc *openapi3.T) {
		onProject, open, guarded = nil, nil, nil
		for _, path := range doc.Paths.InMatchingOrder() {
			for _, op := range doc.Paths.Value(path).Operations() {
				_, hasLevel := op.Extensions["x-project-access"]
				switch {
				case hasLevel && (onProject == nil || op.OperationID < onProject.OperationID):
					onProject = op
				case op.Security != nil && len(*op.Security) == 0 && (open == nil || op.OperationID < open.OperationID):
					open = op
				case !hasLevel && op.Security != nil && len(*op.Security) > 0 && (guarded == nil || op.OperationID < guarded.OperationID):
					guarded = op
				}
			}
		}
		if onProject == nil || open == nil || guarded == nil {
			t.Fatal("the document lacks an operation with x-project-access, one with security: [] or one with security")
		}
	}
	c, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	someID := func(*openapi3.T) []any { return []any{c.Permissions[0].ID} }
	for _, tc := range []struct {
		name   string
		mutate func(doc *openapi3.T)
		want   string
	}{
		{"x-project-access with empty x-permissions", func(doc *openapi3.T) {
			onProject.Extensions["x-permissions"] = []any{}
		}, "x-project-access"},
		{"x-permissions on security: []", func(doc *openapi3.T) {
			open.Extensions["x-permissions"] = someID(doc)
		}, "x-permissions"},
		{"x-permissions on an operation that also admits no credential", func(doc *openapi3.T) {
			*guarded.Security = append(*guarded.Security, openapi3.SecurityRequirement{})
			guarded.Extensions["x-permissions"] = someID(doc)
		}, "x-permissions"},
		{"x-permissions on an operation without security", func(doc *openapi3.T) {
			guarded.Security = nil
			guarded.Extensions["x-permissions"] = someID(doc)
		}, "x-permissions"},
	} {
		doc := load()
		find(doc)
		tc.mutate(doc)
		_, err := contract.FromDoc(doc)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one naming %s", tc.name, err, tc.want)
		}
	}
}
