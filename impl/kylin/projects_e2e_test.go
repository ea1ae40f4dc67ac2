package kylin_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/kala-server/kala/impl/testkit"
)

// kpProject is Kylin's project object.
type kpProject struct {
	UUID          string  `json:"uuid"`
	Name          string  `json:"name"`
	Description   string  `json:"description"`
	Owner         *string `json:"owner"`
	Permission    string  `json:"permission"`
	CreateTimeUTC int64   `json:"create_time_utc"`
	LastModified  int64   `json:"last_modified"`
}

func kpCreate(t *testing.T, e *testkit.Env, auth testkit.ReqOpt, name string) kpProject {
	t.Helper()
	return testkit.KylinOK[kpProject](t, e.Do("POST", "/kylin/api/projects", map[string]any{"name": name, "description": "about " + name}, auth))
}

func kpList(t *testing.T, e *testkit.Env, auth testkit.ReqOpt, q url.Values) testkit.KylinPage[kpProject] {
	t.Helper()
	return testkit.KylinOK[testkit.KylinPage[kpProject]](t, e.Do("GET", "/kylin/api/projects?"+q.Encode(), nil, auth))
}

// kpLevels maps project name to the permission the list reports.
func kpLevels(p testkit.KylinPage[kpProject]) map[string]string {
	out := map[string]string{}
	for _, v := range p.Value {
		out[v.Name] = v.Permission
	}
	return out
}

func kpGrant(e *testkit.Env, auth testkit.ReqOpt, project, level string, names ...string) *testkit.Resp {
	return e.Do("POST", "/kylin/api/access/project", map[string]any{"project": project, "type": "user", "permission": level, "names": names}, auth)
}

func kpAccessList(t *testing.T, e *testkit.Env, auth testkit.ReqOpt, project string) map[string]string {
	t.Helper()
	p := testkit.KylinOK[testkit.KylinPage[testkit.KylinAccess]](t, e.Do("GET", "/kylin/api/access/project?project="+project, nil, auth))
	out := map[string]string{}
	for _, a := range p.Value {
		if a.Type != "user" {
			t.Errorf("entry type %q", a.Type)
		}
		out[a.Name] = a.Permission
	}
	if p.TotalSize != len(out) {
		t.Errorf("total_size %d, %d entries", p.TotalSize, len(out))
	}
	return out
}

func TestKylinProjectsCreate(t *testing.T) {
	e := testkit.New(t)
	dm := e.NewUser("kp_dm", false, e.Permission("Data Management"))
	auth := testkit.Basic(dm.Name, dm.Password)

	r := e.Do("POST", "/kylin/api/projects", map[string]any{"name": "Sales_2026", "description": "Orders and customers"}, auth)
	p := testkit.KylinOK[kpProject](t, r)
	if p.Name != "Sales_2026" || p.Description != "Orders and customers" || p.Owner == nil || *p.Owner != dm.Name ||
		p.Permission != "ADMINISTRATION" || p.CreateTimeUTC != e.Clock.Now().UnixMilli() || p.LastModified != p.CreateTimeUTC || p.UUID == "" {
		t.Errorf("created: %s", r.Body)
	}
	// no description is fine
	testkit.KylinOK[kpProject](t, e.Do("POST", "/kylin/api/projects", map[string]any{"name": "x" + strings.Repeat("9", 49)}, auth))

	for _, bad := range []string{"_x", "a-b", "a b", strings.Repeat("a", 51), "é", "proj.1", ""} {
		testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/projects", map[string]any{"name": bad}, auth), 400, "KE-010000003")
	}
	// duplicates in any case (Kylin's code)
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/projects", map[string]any{"name": "SALES_2026"}, auth), 409, "KE-010001004")
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/projects", map[string]any{"name": "sales_2026"}, auth), 409, "KE-010001004")
	// without Data Management
	u := e.NewUser("kp_plain", false)
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/projects", map[string]any{"name": "mine"}, testkit.Basic(u.Name, u.Password)), 403, "KE-010024001")

	var n int
	if err := e.DB.Get(&n, `SELECT count(*) FROM projects`); err != nil || n != 2 {
		t.Errorf("projects stored: %d (%v), want 2", n, err)
	}
	// the owner's name goes with the owner
	testkit.KylinOK[json.RawMessage](t, e.Do("DELETE", "/kylin/api/user/"+dm.Name, nil, testkit.Basic("ADMIN", testkit.AdminPassword)))
	l := kpList(t, e, testkit.Basic("ADMIN", testkit.AdminPassword), url.Values{"project": {"sales_2026"}, "exact": {"true"}})
	if l.TotalSize != 1 || l.Value[0].Owner != nil {
		t.Errorf("after deleting the owner: %+v", l.Value)
	}
}

// One row, two views: a Kylin project is a Kala datastore and the other way round.
func TestKylinProjectsAreDatastores(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	tok := testkit.Bearer(e.AdminToken())

	kp := kpCreate(t, e, admin, "from_kylin")
	var ds struct {
		Data []struct {
			ID          string  `json:"id"`
			Name        string  `json:"name"`
			Description string  `json:"description"`
			Owner       *string `json:"owner"`
			Access      string  `json:"access"`
		} `json:"data"`
	}
	e.Do("GET", "/api/datastores?name=from_kylin", nil, tok).Expect(t, 200).JSON(t, &ds)
	if len(ds.Data) != 1 || ds.Data[0].ID != kp.UUID || ds.Data[0].Name != "from_kylin" || ds.Data[0].Description != "about from_kylin" ||
		ds.Data[0].Owner == nil || *ds.Data[0].Owner != "ADMIN" || ds.Data[0].Access != "ADMIN" {
		t.Errorf("the Kylin project as a datastore: %+v", ds.Data)
	}

	var created struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	e.Do("POST", "/api/datastores", map[string]any{"name": "From_Kala", "description": "made on /api"}, tok).Expect(t, 201).JSON(t, &created)
	p := kpList(t, e, admin, url.Values{"project": {"from_kala"}, "exact": {"true"}})
	if p.TotalSize != 1 || p.Value[0].UUID != created.Data.ID || p.Value[0].Name != "From_Kala" || p.Value[0].Description != "made on /api" {
		t.Errorf("the datastore as a Kylin project: %+v", p)
	}
	// one namespace of names across both surfaces
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/projects", map[string]any{"name": "FROM_KALA"}, admin), 409, "KE-010001004")
	e.Do("POST", "/api/datastores", map[string]any{"name": "From_Kylin"}, tok).Expect(t, 409)

	// deleted on one surface, gone on the other
	testkit.KylinOK[json.RawMessage](t, e.Do("DELETE", "/kylin/api/projects/from_kala", nil, admin))
	e.Do("GET", "/api/datastores/"+created.Data.ID, nil, tok).Expect(t, 404)
	e.Do("DELETE", "/api/datastores/"+kp.UUID, nil, tok).Expect(t, 204)
	if p := kpList(t, e, admin, nil); p.TotalSize != 0 {
		t.Errorf("projects left: %+v", p.Value)
	}
}

func TestKylinProjectsListFilters(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	for _, n := range []string{"alpha", "Alphabet", "beta", "gamma_alpha"} {
		kpCreate(t, e, admin, n)
	}
	for i := range 12 {
		kpCreate(t, e, admin, fmt.Sprintf("pj_%02d", i))
	}
	names := func(p testkit.KylinPage[kpProject]) string {
		var out []string
		for _, v := range p.Value {
			out = append(out, v.Name)
		}
		return strings.Join(out, ",")
	}
	cases := []struct {
		q     url.Values
		want  string
		total int
	}{
		{url.Values{"project": {"alpha"}}, "alpha,Alphabet,gamma_alpha", 3},
		{url.Values{"project": {"ALPHA"}}, "alpha,Alphabet,gamma_alpha", 3},
		{url.Values{"project": {"alpha"}, "exact": {"true"}}, "alpha", 1},
		{url.Values{"project": {"ALPHABET"}, "exact": {"true"}}, "Alphabet", 1},
		{url.Values{"project": {"alph"}, "exact": {"true"}}, "", 0},
		{url.Values{"project": {"pj_"}, "page_size": {"5"}, "page_offset": {"2"}}, "pj_10,pj_11", 12},
		{url.Values{"project": {"pj_"}, "page_size": {"5"}, "page_offset": {"1"}}, "pj_05,pj_06,pj_07,pj_08,pj_09", 12},
		{url.Values{"project": {"pj_"}}, "pj_00,pj_01,pj_02,pj_03,pj_04,pj_05,pj_06,pj_07,pj_08,pj_09", 12},
	}
	for _, c := range cases {
		p := kpList(t, e, admin, c.q)
		if names(p) != c.want || p.TotalSize != c.total {
			t.Errorf("%s: %s (total %d), want %s (total %d)", c.q.Encode(), names(p), p.TotalSize, c.want, c.total)
		}
	}
	all := kpList(t, e, admin, url.Values{"page_size": {"100"}})
	if all.TotalSize != 16 || all.Limit != 100 || all.Offset != 0 {
		t.Errorf("all: total %d limit %d offset %d", all.TotalSize, all.Limit, all.Offset)
	}
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/projects?permission=OWNER", nil, admin), 400, "KE-010000003")
}

// The project list reports the caller's level in Kylin's names, and filters by it.
func TestKylinProjectsPermissionNames(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	u := e.NewUser("kp_viewer", false)
	auth := testkit.Basic(u.Name, u.Password)
	levels := map[string]string{"p_query": "QUERY", "p_operation": "OPERATION", "p_management": "MANAGEMENT", "p_admin": "ADMIN"}
	for name, level := range levels {
		kpCreate(t, e, admin, name)
		testkit.KylinOK[json.RawMessage](t, kpGrant(e, admin, name, level, u.Name))
	}
	kpCreate(t, e, admin, "p_hidden")

	want := map[string]string{"p_query": "READ", "p_operation": "OPERATION", "p_management": "MANAGEMENT", "p_admin": "ADMINISTRATION"}
	p := kpList(t, e, auth, nil)
	if got := kpLevels(p); fmt.Sprint(got) != fmt.Sprint(want) || p.TotalSize != 4 {
		t.Errorf("levels %v (total %d), want %v", got, p.TotalSize, want)
	}
	for filter, names := range map[string]string{
		"READ":           "map[p_admin:ADMINISTRATION p_management:MANAGEMENT p_operation:OPERATION p_query:READ]",
		"OPERATION":      "map[p_admin:ADMINISTRATION p_management:MANAGEMENT p_operation:OPERATION]",
		"MANAGEMENT":     "map[p_admin:ADMINISTRATION p_management:MANAGEMENT]",
		"ADMINISTRATION": "map[p_admin:ADMINISTRATION]",
	} {
		p := kpList(t, e, auth, url.Values{"permission": {filter}})
		if got := fmt.Sprint(kpLevels(p)); got != names || p.TotalSize != len(kpLevels(p)) {
			t.Errorf("permission=%s: %s (total %d), want %s", filter, got, p.TotalSize, names)
		}
	}
	// the hidden project does not exist for this user
	if p := kpList(t, e, auth, url.Values{"project": {"p_hidden"}}); p.TotalSize != 0 {
		t.Errorf("a project off the user's list is listed: %+v", p.Value)
	}
	// Data Management sees everything, as ADMINISTRATION
	dm := e.NewUser("kp_dm", false, e.Permission("Data Management"))
	p = kpList(t, e, testkit.Basic(dm.Name, dm.Password), url.Values{"permission": {"MANAGEMENT"}})
	if p.TotalSize != 5 {
		t.Errorf("Data Management sees %d projects", p.TotalSize)
	}
	for _, v := range p.Value {
		if v.Permission != "ADMINISTRATION" {
			t.Errorf("Data Management's level on %s: %s", v.Name, v.Permission)
		}
	}
}

// POST / GET / PUT / DELETE on an access list, and the rules around it.
func TestKylinProjectsAccessListRoundTrip(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	kpCreate(t, e, admin, "shared")
	u1 := e.NewUser("kp_one", false)
	u2 := e.NewUser("kp_two", false)
	u3 := e.NewUser("kp_three", false)
	boss := e.NewUser("kp_boss", true)

	testkit.KylinOK[json.RawMessage](t, kpGrant(e, admin, "SHARED", "QUERY", u1.Name, "KP_TWO"))
	if got := kpAccessList(t, e, admin, "shared"); fmt.Sprint(got) != "map[kp_one:QUERY kp_two:QUERY]" {
		t.Errorf("after grant: %v", got)
	}
	testkit.KylinOK[json.RawMessage](t, e.Do("PUT", "/kylin/api/access/project", map[string]any{"project": "shared", "type": "user", "permission": "MANAGEMENT", "name": u1.Name}, admin))
	if got := kpAccessList(t, e, admin, "shared"); fmt.Sprint(got) != "map[kp_one:MANAGEMENT kp_two:QUERY]" {
		t.Errorf("after update: %v", got)
	}
	// the name filter and paging of the list
	p := testkit.KylinOK[testkit.KylinPage[testkit.KylinAccess]](t, e.Do("GET", "/kylin/api/access/project?project=shared&name=TWO", nil, admin))
	if p.TotalSize != 1 || p.Value[0].Name != "kp_two" {
		t.Errorf("name filter: %+v", p)
	}
	p = testkit.KylinOK[testkit.KylinPage[testkit.KylinAccess]](t, e.Do("GET", "/kylin/api/access/project?project=shared&page_size=1&page_offset=1", nil, admin))
	if p.TotalSize != 2 || len(p.Value) != 1 || p.Value[0].Name != "kp_two" || p.Offset != 1 || p.Limit != 1 {
		t.Errorf("paging: %+v", p)
	}
	// the level shows in the user's project list at once
	if got := kpLevels(kpList(t, e, testkit.Basic(u1.Name, u1.Password), nil)); got["shared"] != "MANAGEMENT" {
		t.Errorf("u1's list: %v", got)
	}

	testkit.KylinOK[json.RawMessage](t, e.Do("DELETE", "/kylin/api/access/project?project=shared&type=user&name=kp_two", nil, admin))
	if got := kpAccessList(t, e, admin, "shared"); fmt.Sprint(got) != "map[kp_one:MANAGEMENT]" {
		t.Errorf("after revoke: %v", got)
	}
	if p := kpList(t, e, testkit.Basic(u2.Name, u2.Password), nil); p.TotalSize != 0 {
		t.Errorf("a revoked user still lists the project: %+v", p.Value)
	}
	testkit.KylinExpectErr(t, e.Do("DELETE", "/kylin/api/access/project?project=shared&type=user&name=kp_two", nil, admin), 404, "KE-010000404")
	testkit.KylinExpectErr(t, e.Do("DELETE", "/kylin/api/access/project?project=shared&type=user&name=nobody", nil, admin), 404, "KE-010003001")

	// a global admin already has every right: refused, and all or nothing
	testkit.KylinExpectErr(t, kpGrant(e, admin, "shared", "QUERY", u3.Name, boss.Name), 400, "KE-010000003")
	testkit.KylinExpectErr(t, kpGrant(e, admin, "shared", "QUERY", "ADMIN"), 400, "KE-010000003")
	// unknown users are refused, all or nothing
	testkit.KylinExpectErr(t, kpGrant(e, admin, "shared", "QUERY", u3.Name, "nobody"), 400, "KE-010003001")
	if got := kpAccessList(t, e, admin, "shared"); fmt.Sprint(got) != "map[kp_one:MANAGEMENT]" {
		t.Errorf("a refused grant changed the list: %v", got)
	}
	// twice is a conflict (change levels with PUT)
	testkit.KylinExpectErr(t, kpGrant(e, admin, "shared", "ADMIN", u1.Name), 409, "KE-010000409")
	// PUT for a user not on the list
	testkit.KylinExpectErr(t, e.Do("PUT", "/kylin/api/access/project", map[string]any{"project": "shared", "type": "user", "permission": "QUERY", "name": u3.Name}, admin), 404, "KE-010000404")
	testkit.KylinExpectErr(t, e.Do("PUT", "/kylin/api/access/project", map[string]any{"project": "shared", "type": "user", "permission": "QUERY", "name": boss.Name}, admin), 400, "KE-010000003")
	// bad bodies
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/access/project", map[string]any{"project": "shared", "type": "group", "permission": "QUERY", "names": []string{u3.Name}}, admin), 400, "KE-010004001")
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/access/project", map[string]any{"project": "shared", "type": "role", "permission": "QUERY", "names": []string{u3.Name}}, admin), 400, "KE-010000003")
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/access/project", map[string]any{"project": "shared", "type": "user", "permission": "READ", "names": []string{u3.Name}}, admin), 400, "KE-010000003")
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/access/project", map[string]any{"project": "shared", "type": "user", "permission": "QUERY", "names": []string{}}, admin), 400, "KE-010000003")
	// an unknown project
	testkit.KylinExpectErr(t, kpGrant(e, admin, "nosuch", "QUERY", u3.Name), 404, "KE-010001201")
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/access/project?project=nosuch", nil, admin), 404, "KE-010001201")
	if got := kpAccessList(t, e, admin, "shared"); fmt.Sprint(got) != "map[kp_one:MANAGEMENT]" {
		t.Errorf("the list changed: %v", got)
	}
}

// Who may manage an access list: Data Management, or ADMIN on the project.
func TestKylinProjectsAccessListByLevel(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	kpCreate(t, e, admin, "team")
	owner := e.NewUser("kp_owner", false)
	querier := e.NewUser("kp_querier", false)
	manager := e.NewUser("kp_manager", false)
	stranger := e.NewUser("kp_stranger", false)
	newcomer := e.NewUser("kp_newcomer", false)
	testkit.KylinOK[json.RawMessage](t, kpGrant(e, admin, "team", "ADMIN", owner.Name))
	testkit.KylinOK[json.RawMessage](t, kpGrant(e, admin, "team", "QUERY", querier.Name))
	testkit.KylinOK[json.RawMessage](t, kpGrant(e, admin, "team", "MANAGEMENT", manager.Name))

	// a project ADMIN (no Data Management) manages the list
	oa := testkit.Basic(owner.Name, owner.Password)
	testkit.KylinOK[json.RawMessage](t, kpGrant(e, oa, "team", "QUERY", newcomer.Name))
	testkit.KylinOK[json.RawMessage](t, e.Do("PUT", "/kylin/api/access/project", map[string]any{"project": "team", "type": "user", "permission": "OPERATION", "name": newcomer.Name}, oa))
	if got := kpAccessList(t, e, oa, "team"); got[newcomer.Name] != "OPERATION" || len(got) != 4 {
		t.Errorf("the owner's view: %v", got)
	}
	testkit.KylinOK[json.RawMessage](t, e.Do("DELETE", "/kylin/api/access/project?project=team&type=user&name="+newcomer.Name, nil, oa))
	// but cannot delete the project (Data Management only)
	testkit.KylinExpectErr(t, e.Do("DELETE", "/kylin/api/projects/team", nil, oa), 403, "KE-010024001")

	// QUERY and MANAGEMENT may not touch the list
	for _, u := range []testkit.User{querier, manager} {
		a := testkit.Basic(u.Name, u.Password)
		testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/access/project?project=team", nil, a), 403, "KE-010024001")
		testkit.KylinExpectErr(t, kpGrant(e, a, "team", "ADMIN", stranger.Name), 403, "KE-010024001")
		testkit.KylinExpectErr(t, e.Do("PUT", "/kylin/api/access/project", map[string]any{"project": "team", "type": "user", "permission": "ADMIN", "name": u.Name}, a), 403, "KE-010024001")
		testkit.KylinExpectErr(t, e.Do("DELETE", "/kylin/api/access/project?project=team&type=user&name="+owner.Name, nil, a), 403, "KE-010024001")
	}
	// without access the project does not exist: 404 like a missing one
	sa := testkit.Basic(stranger.Name, stranger.Password)
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/access/project?project=team", nil, sa), 404, "KE-010001201")
	testkit.KylinExpectErr(t, kpGrant(e, sa, "team", "ADMIN", stranger.Name), 404, "KE-010001201")
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/access/project?project=nosuch", nil, sa), 404, "KE-010001201")

	want := map[string]string{owner.Name: "ADMIN", querier.Name: "QUERY", manager.Name: "MANAGEMENT"}
	if got := kpAccessList(t, e, admin, "team"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the list: %v, want %v", got, want)
	}
}

func TestKylinProjectsDelete(t *testing.T) {
	e := testkit.New(t)
	dm := e.NewUser("kp_dm", false, e.Permission("Data Management"))
	auth := testkit.Basic(dm.Name, dm.Password)
	p := kpCreate(t, e, auth, "doomed")
	listed := e.NewUser("kp_listed", false)
	testkit.KylinOK[json.RawMessage](t, kpGrant(e, auth, "doomed", "ADMIN", listed.Name))
	schema := "kala_p_" + strings.ReplaceAll(p.UUID, "-", "")
	var n int
	if err := e.DB.Get(&n, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, schema); err != nil || n != 1 {
		t.Fatalf("schema %s: %d (%v)", schema, n, err)
	}
	// a user without Data Management cannot
	testkit.KylinExpectErr(t, e.Do("DELETE", "/kylin/api/projects/doomed", nil, testkit.Basic(listed.Name, listed.Password)), 403, "KE-010024001")

	testkit.KylinOK[json.RawMessage](t, e.Do("DELETE", "/kylin/api/projects/DOOMED", nil, auth))
	testkit.KylinExpectErr(t, e.Do("DELETE", "/kylin/api/projects/doomed", nil, auth), 404, "KE-010001201")
	if err := e.DB.Get(&n, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, schema); err != nil || n != 0 {
		t.Errorf("the schema survived: %d (%v)", n, err)
	}
	if err := e.DB.Get(&n, `SELECT count(*) FROM project_access`); err != nil || n != 0 {
		t.Errorf("access entries survived: %d (%v)", n, err)
	}
	if l := kpList(t, e, testkit.Basic(listed.Name, listed.Password), nil); l.TotalSize != 0 {
		t.Errorf("still listed: %+v", l.Value)
	}
	// the name is free again
	kpCreate(t, e, auth, "Doomed")
	testkit.KylinExpectErr(t, e.Do("DELETE", "/kylin/api/projects/bad-name", nil, auth), 400, "KE-010000003")
}
