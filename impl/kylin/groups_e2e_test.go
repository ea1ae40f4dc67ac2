package kylin_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/kala-server/kala/impl/testkit"
)

// Kylin user groups (SPEC §2 "Groups", §6, §7): helpers prefixed kg.

func kgCreate(e *testkit.Env, auth testkit.ReqOpt, name string) *testkit.Resp {
	return e.Do("POST", "/kylin/api/user_group", map[string]any{"group_name": name}, auth)
}

func kgSetMembers(e *testkit.Env, auth testkit.ReqOpt, group string, users ...string) *testkit.Resp {
	if users == nil {
		users = []string{}
	}
	return e.Do("PUT", "/kylin/api/user_group/users", map[string]any{"group_name": group, "users": users}, auth)
}

func kgList(t *testing.T, e *testkit.Env, auth testkit.ReqOpt, q url.Values) testkit.KylinPage[string] {
	t.Helper()
	return testkit.KylinOK[testkit.KylinPage[string]](t, e.Do("GET", "/kylin/api/user_group/groups?"+q.Encode(), nil, auth))
}

// kgMembers lists a group's members' names (one page of up to 1,000).
func kgMembers(t *testing.T, e *testkit.Env, auth testkit.ReqOpt, group string) []string {
	t.Helper()
	p := testkit.KylinOK[testkit.KylinPage[testkit.KylinUser]](t, e.Do("GET", "/kylin/api/user_group/group_members/"+url.PathEscape(group)+"?page_size=1000", nil, auth))
	if p.TotalSize != len(p.Value) {
		t.Errorf("members of %s: total_size %d, %d listed", group, p.TotalSize, len(p.Value))
	}
	return kuNames(p.Value)
}

// kgAuthorities is a user's authorities as the Kylin user list shows them.
func kgAuthorities(t *testing.T, e *testkit.Env, name string) []string {
	t.Helper()
	var out []string
	for _, a := range kuGet(t, e, name).Authorities {
		out = append(out, a.Authority)
	}
	return out
}

func kgGrant(e *testkit.Env, auth testkit.ReqOpt, project, level string, groups ...string) *testkit.Resp {
	return e.Do("POST", "/kylin/api/access/project", map[string]any{"project": project, "type": "group", "permission": level, "names": groups}, auth)
}

func TestKylinGroupsCreateListDelete(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)

	for _, n := range []string{"analysts", "Data_Team", "ops team", "groups", "users"} {
		testkit.KylinOK[json.RawMessage](t, kgCreate(e, admin, n))
	}
	// built-in groups are listed beside the user groups, in name order in any case
	all := kgList(t, e, admin, url.Values{"page_size": {"100"}})
	want := "ALL_USERS,analysts,Data_Team,groups,ops team,ROLE_ADMIN,ROLE_ANALYST,ROLE_MODELER,users"
	if got := strings.Join(all.Value, ","); got != want || all.TotalSize != 9 || all.Limit != 100 {
		t.Errorf("groups: %s (total %d, limit %d), want %s", got, all.TotalSize, all.Limit, want)
	}
	for _, c := range []struct {
		q     url.Values
		want  string
		total int
	}{
		{url.Values{"group_name": {"TEAM"}}, "Data_Team,ops team", 2},
		{url.Values{"group_name": {"TEAM"}, "is_case_sensitive": {"true"}}, "", 0},
		{url.Values{"group_name": {"Team"}, "is_case_sensitive": {"true"}}, "Data_Team", 1},
		{url.Values{"group_name": {"role_"}}, "ROLE_ADMIN,ROLE_ANALYST,ROLE_MODELER", 3},
		{url.Values{"page_size": {"2"}, "page_offset": {"1"}}, "Data_Team,groups", 9},
		{url.Values{"page_size": {"4"}, "page_offset": {"2"}}, "users", 9},
	} {
		p := kgList(t, e, admin, c.q)
		if got := strings.Join(p.Value, ","); got != c.want || p.TotalSize != c.total {
			t.Errorf("%s: %s (total %d), want %s (total %d)", c.q.Encode(), got, p.TotalSize, c.want, c.total)
		}
	}
	if p := kgList(t, e, admin, nil); p.Limit != 10 || p.Offset != 0 || len(p.Value) != 9 {
		t.Errorf("defaults: %+v", p)
	}

	// unique in any case, the built-in names included (Kylin's DUPLICATE_USERGROUP_NAME)
	for _, n := range []string{"ANALYSTS", "data_team", "ROLE_ADMIN", "all_users", "Role_Analyst"} {
		testkit.KylinExpectErr(t, kgCreate(e, admin, n), 409, "KE-010004004")
	}
	// the username rule (Kylin's INVALID_USERGROUP_NAME); the schema refuses empty and long names
	for _, n := range []string{".hidden", " lead", "trail ", "a/b", `a\b`, "a:b", "a*b", "a?b", `a"b`, "a<b", "a|b", "tab\tin"} {
		testkit.KylinExpectErr(t, kgCreate(e, admin, n), 400, "KE-010004003")
	}
	testkit.KylinExpectErr(t, kgCreate(e, admin, ""), 400, "KE-010000003")
	testkit.KylinExpectErr(t, kgCreate(e, admin, strings.Repeat("g", 181)), 400, "KE-010000003")
	testkit.KylinOK[json.RawMessage](t, kgCreate(e, admin, strings.Repeat("g", 180)))
	if p := kgList(t, e, admin, url.Values{"page_size": {"100"}}); p.TotalSize != 10 {
		t.Errorf("refused creates left groups: %v", p.Value)
	}

	// delete in any case, by path or by body; groups named like the other operations'
	// paths are deleted by body (their paths belong to those operations)
	testkit.KylinOK[json.RawMessage](t, e.Do("DELETE", "/kylin/api/user_group/ANALYSTS", nil, admin))
	e.Do("DELETE", "/kylin/api/user_group/groups", nil, admin).Expect(t, 405)
	testkit.KylinOK[json.RawMessage](t, e.Do("DELETE", "/kylin/api/user_group", map[string]any{"group_name": "GROUPS"}, admin))
	testkit.KylinOK[json.RawMessage](t, e.Do("DELETE", "/kylin/api/user_group", map[string]any{"group_name": "users", "ignored": true}, admin))
	testkit.KylinOK[json.RawMessage](t, e.Do("DELETE", "/kylin/api/user_group/ops%20team", nil, admin))
	testkit.KylinExpectErr(t, e.Do("DELETE", "/kylin/api/user_group", map[string]any{"group_name": "users"}, admin), 404, "KE-010004001")
	testkit.KylinExpectErr(t, e.Do("DELETE", "/kylin/api/user_group/analysts", nil, admin), 404, "KE-010004001")
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/user_group/group_members/analysts", nil, admin), 404, "KE-010004001")
	testkit.KylinExpectErr(t, kgSetMembers(e, admin, "analysts"), 404, "KE-010004001")
	// built-in groups stay
	for _, n := range []string{"ROLE_ADMIN", "ALL_USERS", "role_analyst", "ROLE_MODELER"} {
		testkit.KylinExpectErr(t, e.Do("DELETE", "/kylin/api/user_group/"+n, nil, admin), 400, "KE-010004003")
	}
	p := kgList(t, e, admin, url.Values{"page_size": {"100"}})
	if got := strings.Join(p.Value, ","); got != "ALL_USERS,Data_Team,"+strings.Repeat("g", 180)+",ROLE_ADMIN,ROLE_ANALYST,ROLE_MODELER" {
		t.Errorf("after deletes: %s", got)
	}
	// the name is free again, spelled anew
	testkit.KylinOK[json.RawMessage](t, kgCreate(e, admin, "Analysts"))
}

func TestKylinGroupsMembers(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	u1 := e.NewUser("kg_one", false)
	e.NewUser("kg_two", false)
	e.NewUser("kg_three", false)
	testkit.KylinOK[json.RawMessage](t, kgCreate(e, admin, "Analysts"))
	testkit.KylinOK[json.RawMessage](t, kgCreate(e, admin, "auditors"))

	testkit.KylinOK[json.RawMessage](t, kgSetMembers(e, admin, "analysts", "kg_one", "KG_TWO", "kg_one"))
	if got := kgMembers(t, e, admin, "ANALYSTS"); fmt.Sprint(got) != "[kg_one kg_two]" {
		t.Errorf("members: %v", got)
	}
	// a user's groups are its authorities, next to the built-in ones, on both faces
	if got := kgAuthorities(t, e, "kg_one"); fmt.Sprint(got) != "[ALL_USERS Analysts]" {
		t.Errorf("kg_one's authorities: %v", got)
	}
	tok := testkit.Bearer(e.AdminToken())
	var ku testkit.Envelope[struct {
		Authorities []string `json:"authorities"`
	}]
	e.Do("GET", "/api/users/"+u1.ID.String(), nil, tok).Expect(t, 200).JSON(t, &ku)
	if fmt.Sprint(ku.Data.Authorities) != "[ALL_USERS Analysts]" {
		t.Errorf("Kala user's authorities: %v", ku.Data.Authorities)
	}
	var me testkit.Envelope[struct {
		User struct {
			Authorities []string `json:"authorities"`
		} `json:"user"`
	}]
	e.Do("GET", "/api/auth/me", nil, testkit.Bearer(e.Login(u1.Name, u1.Password))).Expect(t, 200).JSON(t, &me)
	if fmt.Sprint(me.Data.User.Authorities) != "[ALL_USERS Analysts]" {
		t.Errorf("own authorities: %v", me.Data.User.Authorities)
	}
	who := testkit.KylinOK[testkit.KylinUser](t, e.Do("GET", "/kylin/api/user/authentication", nil, testkit.Basic(u1.Name, u1.Password)))
	if !who.Has("Analysts") {
		t.Errorf("who-am-I: %+v", who.Authorities)
	}

	// set, not add: those not listed leave
	testkit.KylinOK[json.RawMessage](t, kgSetMembers(e, admin, "analysts", "kg_two", "kg_three"))
	if got := kgMembers(t, e, admin, "analysts"); fmt.Sprint(got) != "[kg_three kg_two]" {
		t.Errorf("members after the second set: %v", got)
	}
	if got := kgAuthorities(t, e, "kg_one"); fmt.Sprint(got) != "[ALL_USERS]" {
		t.Errorf("kg_one left, authorities %v", got)
	}
	// several groups are listed in name order, each with its own members, on every list
	testkit.KylinOK[json.RawMessage](t, kgSetMembers(e, admin, "auditors", "kg_two"))
	if got := kgAuthorities(t, e, "kg_two"); fmt.Sprint(got) != "[ALL_USERS Analysts auditors]" {
		t.Errorf("kg_two's authorities in the user list: %v", got)
	}
	for _, m := range testkit.KylinOK[testkit.KylinPage[testkit.KylinUser]](t, e.Do("GET", "/kylin/api/user_group/group_members/analysts", nil, admin)).Value {
		want := "[ALL_USERS Analysts]"
		if m.Username == "kg_two" {
			want = "[ALL_USERS Analysts auditors]"
		}
		var got []string
		for _, a := range m.Authorities {
			got = append(got, a.Authority)
		}
		if fmt.Sprint(got) != want {
			t.Errorf("%s's authorities in the member list: %v, want %s", m.Username, got, want)
		}
	}
	testkit.KylinOK[json.RawMessage](t, kgSetMembers(e, admin, "auditors"))
	// the cached Basic login of kg_one sees the change at once
	who = testkit.KylinOK[testkit.KylinUser](t, e.Do("GET", "/kylin/api/user/authentication", nil, testkit.Basic(u1.Name, u1.Password)))
	if who.Has("Analysts") {
		t.Errorf("who-am-I after leaving: %+v", who.Authorities)
	}
	// the member list filters and pages
	p := testkit.KylinOK[testkit.KylinPage[testkit.KylinUser]](t, e.Do("GET", "/kylin/api/user_group/group_members/analysts?username=THREE", nil, admin))
	if p.TotalSize != 1 || p.Value[0].Username != "kg_three" {
		t.Errorf("username filter: %+v", p)
	}
	p = testkit.KylinOK[testkit.KylinPage[testkit.KylinUser]](t, e.Do("GET", "/kylin/api/user_group/group_members/analysts?page_size=1&page_offset=1", nil, admin))
	if p.TotalSize != 2 || len(p.Value) != 1 || p.Value[0].Username != "kg_two" || p.Offset != 1 || p.Limit != 1 {
		t.Errorf("paging: %+v", p)
	}

	// unknown users: all or nothing, named
	r := testkit.KylinExpectErr(t, kgSetMembers(e, admin, "analysts", "kg_one", "nobody", "ghost"), 400, "KE-010003001")
	if !strings.Contains(r.Msg, "nobody, ghost") {
		t.Errorf("the refusal does not name the unknown users: %s", r.Msg)
	}
	if got := kgMembers(t, e, admin, "analysts"); fmt.Sprint(got) != "[kg_three kg_two]" {
		t.Errorf("a refused set changed the members: %v", got)
	}
	// built-in groups' members follow the users' authorities
	testkit.KylinExpectErr(t, kgSetMembers(e, admin, "ROLE_ANALYST", "kg_one"), 400, "KE-010000003")
	testkit.KylinExpectErr(t, kgSetMembers(e, admin, "ROLE_ADMIN", "kg_one"), 400, "KE-010000003")
	if kuGet(t, e, "kg_one").Has("ROLE_ADMIN") {
		t.Fatal("kg_one became an admin")
	}
	testkit.KylinOK[json.RawMessage](t, e.Do("PUT", "/kylin/api/user", map[string]any{"username": "kg_one", "authorities": []string{"ALL_USERS", "ROLE_ANALYST", "auditors"}}, admin))
	if got := kgMembers(t, e, admin, "ROLE_ANALYST"); fmt.Sprint(got) != "[kg_one]" {
		t.Errorf("ROLE_ANALYST: %v", got)
	}
	if got := kgMembers(t, e, admin, "ROLE_ADMIN"); fmt.Sprint(got) != "[ADMIN]" {
		t.Errorf("ROLE_ADMIN: %v", got)
	}
	if got := kgMembers(t, e, admin, "all_users"); fmt.Sprint(got) != "[ADMIN kg_one kg_three kg_two]" {
		t.Errorf("ALL_USERS: %v", got)
	}
	// authorities name user groups too (in any case): PUT /user set kg_one's
	if got := kgMembers(t, e, admin, "auditors"); fmt.Sprint(got) != "[kg_one]" {
		t.Errorf("auditors after PUT /user: %v", got)
	}
	if got := kgAuthorities(t, e, "kg_one"); fmt.Sprint(got) != "[ALL_USERS ROLE_ANALYST auditors]" {
		t.Errorf("kg_one's authorities: %v", got)
	}
	testkit.KylinExpectErr(t, e.Do("PUT", "/kylin/api/user", map[string]any{"username": "kg_one", "authorities": []string{"ALL_USERS", "nosuch"}}, admin), 400, "KE-010004001")
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/user", map[string]any{"username": "kg_four", "password": "Welcome#2026", "authorities": []string{"nosuch"}}, admin), 400, "KE-010004001")
	testkit.KylinOK[testkit.KylinUser](t, e.Do("POST", "/kylin/api/user", map[string]any{"username": "kg_four", "password": "Welcome#2026", "authorities": []string{"ALL_USERS", "Auditors"}}, admin))
	if got := kgMembers(t, e, admin, "auditors"); fmt.Sprint(got) != "[kg_four kg_one]" {
		t.Errorf("auditors after POST /user: %v", got)
	}
	// the Kala face sets them the same way
	e.Do("PATCH", "/api/users/"+u1.ID.String(), map[string]any{"authorities": []string{"analysts"}}, tok).Expect(t, 200).JSON(t, &ku)
	if fmt.Sprint(ku.Data.Authorities) != "[ALL_USERS Analysts]" {
		t.Errorf("after PATCH: %v", ku.Data.Authorities)
	}

	// deleting a user ends its memberships; deleting a group ends the group's
	testkit.KylinOK[json.RawMessage](t, e.Do("DELETE", "/kylin/api/user/kg_two", nil, admin))
	if got := kgMembers(t, e, admin, "analysts"); fmt.Sprint(got) != "[kg_one kg_three]" {
		t.Errorf("after deleting kg_two: %v", got)
	}
	testkit.KylinOK[json.RawMessage](t, e.Do("DELETE", "/kylin/api/user_group/analysts", nil, admin))
	if got := kgAuthorities(t, e, "kg_one"); fmt.Sprint(got) != "[ALL_USERS]" {
		t.Errorf("after deleting the group: %v", got)
	}
	var n int
	if err := e.DB.Get(&n, `SELECT count(*) FROM group_members m JOIN users u ON u.id = m.user_id WHERE u.username_key IN ('kg_one', 'kg_three')`); err != nil || n != 0 {
		t.Errorf("memberships left: %d (%v)", n, err)
	}
	// an empty list empties a group
	testkit.KylinOK[json.RawMessage](t, kgSetMembers(e, admin, "auditors"))
	if got := kgMembers(t, e, admin, "auditors"); len(got) != 0 {
		t.Errorf("after emptying: %v", got)
	}
}

// Managing groups needs User Management; nobody moves themselves, and only an admin moves
// an admin.
func TestKylinGroupsPermissions(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	testkit.KylinOK[json.RawMessage](t, kgCreate(e, admin, "team"))
	plain := e.NewUser("kg_plain", false, e.Permission("Data Management"))
	pa := testkit.Basic(plain.Name, plain.Password)
	for _, r := range []*testkit.Resp{
		e.Do("GET", "/kylin/api/user_group/groups", nil, pa),
		kgCreate(e, pa, "mine"),
		e.Do("DELETE", "/kylin/api/user_group/team", nil, pa),
		kgSetMembers(e, pa, "team", plain.Name),
		e.Do("GET", "/kylin/api/user_group/group_members/team", nil, pa),
	} {
		testkit.KylinExpectErr(t, r, 403, "KE-010024001")
	}
	// a key of a User Management holder that may not call the users service
	um := e.NewUser("kg_um", false, e.Permission("User Management"))
	ua := testkit.Basic(um.Name, um.Password)
	key := e.NewKey(e.Login(um.Name, um.Password), map[string]any{"validTo": testkit.ValidTo(e),
		"permissions": []string{e.Permission("User Management")}, "services": []string{e.Service("query")}})
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/user_group/groups", nil, testkit.APIKey(key)), 403, "KE-010024001")

	// User Management suffices
	testkit.KylinOK[json.RawMessage](t, kgCreate(e, ua, "um_made"))
	testkit.KylinOK[json.RawMessage](t, kgSetMembers(e, ua, "um_made", plain.Name))
	// but not for moving oneself in or out (a group can carry project access)
	testkit.KylinExpectErr(t, kgSetMembers(e, ua, "um_made", plain.Name, um.Name), 403, "KE-010024001")
	testkit.KylinExpectErr(t, e.Do("PUT", "/kylin/api/user", map[string]any{"username": um.Name, "authorities": []string{"ALL_USERS", "um_made"}}, ua), 403, "KE-010024001")
	// nor for moving an admin
	boss := e.NewUser("kg_boss", true)
	testkit.KylinExpectErr(t, kgSetMembers(e, ua, "um_made", plain.Name, boss.Name), 403, "KE-010024001")
	if got := kgMembers(t, e, admin, "um_made"); fmt.Sprint(got) != "[kg_plain]" {
		t.Errorf("refused moves changed the members: %v", got)
	}
	// an admin may move another admin, but not themselves
	testkit.KylinOK[json.RawMessage](t, kgSetMembers(e, admin, "um_made", plain.Name, boss.Name))
	testkit.KylinExpectErr(t, kgSetMembers(e, admin, "um_made", "ADMIN"), 403, "KE-010024001")
	// staying put is no move: the User Management holder may set a list that keeps the admin
	testkit.KylinOK[json.RawMessage](t, kgSetMembers(e, ua, "um_made", boss.Name))
	if got := kgMembers(t, e, admin, "um_made"); fmt.Sprint(got) != "[kg_boss]" {
		t.Errorf("members: %v", got)
	}
	testkit.KylinOK[json.RawMessage](t, e.Do("DELETE", "/kylin/api/user_group/um_made", nil, ua))
}

// A group's entry on an access list gives its members its level; a member's level is the
// highest of its own entry and its groups' (SPEC §7), for everything access decides, on
// both faces.
func TestKylinGroupsProjectAccess(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	tok := testkit.Bearer(e.AdminToken())
	p := kpCreate(t, e, admin, "grp_sales")
	e.Do("POST", "/api/datastores/"+p.UUID+"/tables", map[string]any{"name": "t", "columns": []map[string]any{{"name": "i", "type": "integer"}}}, tok).Expect(t, 201)
	e.Do("POST", "/api/datastores/"+p.UUID+"/tables/t/rows", []map[string]any{{"i": 7}}, tok).Expect(t, 201)
	kpCreate(t, e, admin, "grp_other")
	m := e.NewUser("kg_member", false)
	outsider := e.NewUser("kg_outsider", false)
	ma := testkit.Basic(m.Name, m.Password)
	mt := testkit.Bearer(e.Login(m.Name, m.Password))
	testkit.KylinOK[json.RawMessage](t, kgCreate(e, admin, "Readers"))
	testkit.KylinOK[json.RawMessage](t, kgCreate(e, admin, "writers"))
	testkit.KylinOK[json.RawMessage](t, kgSetMembers(e, admin, "readers", m.Name))

	// before any grant the project does not exist for the member
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/query", map[string]any{"sql": "SELECT i FROM t", "project": "grp_sales"}, ma), 404, "KE-010001201")
	testkit.KylinOK[json.RawMessage](t, kgGrant(e, admin, "grp_sales", "QUERY", "READERS"))

	// the group's level decides: listed, queried, read on both faces; managed not
	if got := kpLevels(kpList(t, e, ma, nil)); fmt.Sprint(got) != "map[grp_sales:READ]" {
		t.Errorf("the member's projects: %v", got)
	}
	var q queryResult
	e.Do("POST", "/kylin/api/query", map[string]any{"sql": "SELECT i FROM t", "project": "grp_sales"}, ma).Expect(t, 200).JSON(t, &q)
	if q.Data.IsException || len(q.Data.Results) != 1 || *q.Data.Results[0][0] != "7" {
		t.Errorf("the member's query: %+v", q.Data)
	}
	e.Do("GET", "/kylin/api/query/tables_and_columns?project=grp_sales", nil, ma).Expect(t, 200)
	var ds testkit.Envelope[testkit.Datastore]
	e.Do("GET", "/api/datastores/"+p.UUID, nil, mt).Expect(t, 200).JSON(t, &ds)
	if ds.Data.Access != "QUERY" {
		t.Errorf("the member's access on the Kala face: %s", ds.Data.Access)
	}
	e.Do("GET", "/api/datastores/"+p.UUID+"/tables/t/rows", nil, mt).Expect(t, 200)
	e.Do("POST", "/api/datastores/"+p.UUID+"/tables/t/rows", []map[string]any{{"i": 8}}, mt).Expect(t, 403)
	// the outsider sees nothing
	e.Do("GET", "/api/datastores/"+p.UUID, nil, testkit.Bearer(e.Login(outsider.Name, outsider.Password))).Expect(t, 404)
	if l := kpList(t, e, testkit.Basic(outsider.Name, outsider.Password), nil); l.TotalSize != 0 {
		t.Errorf("the outsider lists %v", l.Value)
	}

	// the highest of the own entry and the groups' wins, either way round
	testkit.KylinOK[json.RawMessage](t, kgSetMembers(e, admin, "writers", m.Name))
	testkit.KylinOK[json.RawMessage](t, kgGrant(e, admin, "grp_sales", "MANAGEMENT", "writers"))
	testkit.KylinOK[json.RawMessage](t, kpGrant(e, admin, "grp_sales", "OPERATION", m.Name))
	if got := kpLevels(kpList(t, e, ma, nil)); got["grp_sales"] != "MANAGEMENT" {
		t.Errorf("own OPERATION, groups QUERY and MANAGEMENT: %v", got)
	}
	e.Do("POST", "/api/datastores/"+p.UUID+"/tables/t/rows", []map[string]any{{"i": 8}}, mt).Expect(t, 201)
	if l := kpList(t, e, ma, url.Values{"permission": {"MANAGEMENT"}}); l.TotalSize != 1 {
		t.Errorf("permission=MANAGEMENT: %+v", l)
	}
	testkit.KylinOK[json.RawMessage](t, e.Do("PUT", "/kylin/api/access/project", map[string]any{"project": "grp_sales", "type": "user", "permission": "ADMIN", "name": m.Name}, admin))
	if got := kpLevels(kpList(t, e, ma, nil)); got["grp_sales"] != "ADMINISTRATION" {
		t.Errorf("own ADMIN over groups': %v", got)
	}
	testkit.KylinOK[json.RawMessage](t, e.Do("DELETE", "/kylin/api/access/project?project=grp_sales&type=user&name="+m.Name, nil, admin))
	testkit.KylinOK[json.RawMessage](t, e.Do("PUT", "/kylin/api/access/project", map[string]any{"project": "grp_sales", "type": "group", "permission": "OPERATION", "name": "Writers"}, admin))
	if got := kpLevels(kpList(t, e, ma, nil)); got["grp_sales"] != "OPERATION" {
		t.Errorf("groups QUERY and OPERATION: %v", got)
	}

	// the access list shows group entries beside user entries
	testkit.KylinOK[json.RawMessage](t, kpGrant(e, admin, "grp_sales", "QUERY", outsider.Name))
	list := testkit.KylinOK[testkit.KylinPage[testkit.KylinAccess]](t, e.Do("GET", "/kylin/api/access/project?project=grp_sales", nil, admin))
	var got []string
	for _, a := range list.Value {
		got = append(got, a.Type+":"+a.Name+":"+a.Permission)
	}
	if fmt.Sprint(got) != "[user:kg_outsider:QUERY group:Readers:QUERY group:writers:OPERATION]" || list.TotalSize != 3 {
		t.Errorf("access list: %v (total %d)", got, list.TotalSize)
	}
	if l := testkit.KylinOK[testkit.KylinPage[testkit.KylinAccess]](t, e.Do("GET", "/kylin/api/access/project?project=grp_sales&name=READ", nil, admin)); l.TotalSize != 1 || l.Value[0].Type != "group" {
		t.Errorf("name filter: %+v", l)
	}

	// refusals: unknown or built-in-admin groups, twice, not listed
	testkit.KylinExpectErr(t, kgGrant(e, admin, "grp_sales", "QUERY", "nosuch"), 400, "KE-010004001")
	testkit.KylinExpectErr(t, kgGrant(e, admin, "grp_sales", "QUERY", "ROLE_ADMIN"), 400, "KE-010000003")
	testkit.KylinExpectErr(t, kgGrant(e, admin, "grp_sales", "ADMIN", "readers"), 409, "KE-010000409")
	testkit.KylinExpectErr(t, e.Do("PUT", "/kylin/api/access/project", map[string]any{"project": "grp_other", "type": "group", "permission": "QUERY", "name": "readers"}, admin), 404, "KE-010000404")
	testkit.KylinExpectErr(t, e.Do("DELETE", "/kylin/api/access/project?project=grp_other&type=group&name=readers", nil, admin), 404, "KE-010000404")
	testkit.KylinExpectErr(t, e.Do("DELETE", "/kylin/api/access/project?project=grp_other&type=group&name=nosuch", nil, admin), 404, "KE-010004001")

	// out of the group, out of the project
	testkit.KylinOK[json.RawMessage](t, kgSetMembers(e, admin, "writers"))
	testkit.KylinOK[json.RawMessage](t, kgSetMembers(e, admin, "readers"))
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/query", map[string]any{"sql": "SELECT i FROM t", "project": "grp_sales"}, ma), 404, "KE-010001201")
	e.Do("GET", "/api/datastores/"+p.UUID, nil, mt).Expect(t, 404)
	if l := kpList(t, e, ma, nil); l.TotalSize != 0 {
		t.Errorf("still listed: %v", l.Value)
	}

	// built-in groups may be granted: ALL_USERS reaches everyone
	testkit.KylinOK[json.RawMessage](t, kgGrant(e, admin, "grp_other", "QUERY", "ALL_USERS"))
	if got := kpLevels(kpList(t, e, ma, nil)); fmt.Sprint(got) != "map[grp_other:READ]" {
		t.Errorf("through ALL_USERS: %v", got)
	}
	testkit.KylinOK[json.RawMessage](t, e.Do("DELETE", "/kylin/api/access/project?project=grp_other&type=group&name=all_users", nil, admin))

	// deleting a group takes its entries off every access list
	testkit.KylinOK[json.RawMessage](t, kgSetMembers(e, admin, "readers", m.Name))
	testkit.KylinOK[json.RawMessage](t, e.Do("DELETE", "/kylin/api/user_group/readers", nil, admin))
	list = testkit.KylinOK[testkit.KylinPage[testkit.KylinAccess]](t, e.Do("GET", "/kylin/api/access/project?project=grp_sales", nil, admin))
	if slices.ContainsFunc(list.Value, func(a testkit.KylinAccess) bool { return a.Name == "Readers" }) || list.TotalSize != 2 {
		t.Errorf("after deleting the group: %+v", list.Value)
	}
	// a new group of that name inherits nothing
	testkit.KylinOK[json.RawMessage](t, kgCreate(e, admin, "readers"))
	testkit.KylinOK[json.RawMessage](t, kgSetMembers(e, admin, "readers", m.Name))
	if l := kpList(t, e, ma, nil); l.TotalSize != 0 {
		t.Errorf("a new group inherited access: %v", l.Value)
	}
}

// A project ADMIN manages group entries on its access list (no User Management needed),
// as it does user entries.
func TestKylinGroupsAccessByProjectAdmin(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	kpCreate(t, e, admin, "grp_team")
	owner := e.NewUser("kg_owner", false)
	oa := testkit.Basic(owner.Name, owner.Password)
	testkit.KylinOK[json.RawMessage](t, kgCreate(e, admin, "leads"))
	testkit.KylinOK[json.RawMessage](t, kgSetMembers(e, admin, "leads", owner.Name))
	testkit.KylinOK[json.RawMessage](t, kgGrant(e, admin, "grp_team", "ADMIN", "leads"))
	testkit.KylinOK[json.RawMessage](t, kgCreate(e, admin, "staff"))
	// the group's ADMIN lets the member manage the list
	testkit.KylinOK[json.RawMessage](t, kgGrant(e, oa, "grp_team", "QUERY", "staff"))
	testkit.KylinOK[json.RawMessage](t, e.Do("PUT", "/kylin/api/access/project", map[string]any{"project": "grp_team", "type": "group", "permission": "MANAGEMENT", "name": "staff"}, oa))
	testkit.KylinOK[json.RawMessage](t, e.Do("DELETE", "/kylin/api/access/project?project=grp_team&type=group&name=staff", nil, oa))
	// but not the groups themselves
	testkit.KylinExpectErr(t, kgSetMembers(e, oa, "staff", owner.Name), 403, "KE-010024001")
}

// A membership change reaches what every instance keeps of the user (LISTEN/NOTIFY).
func TestKylinGroupsAcrossInstances(t *testing.T) {
	e := testkit.New(t)
	peer := e.Peer()
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	u := e.NewUser("kg_cached", false)
	ua := testkit.Basic(u.Name, u.Password)
	testkit.KylinOK[json.RawMessage](t, kgCreate(e, admin, "roaming"))
	// the peer keeps the Basic login and the user
	for range 2 {
		if who := testkit.KylinOK[testkit.KylinUser](t, peer.Do("GET", "/kylin/api/user/authentication", nil, ua)); who.Has("roaming") {
			t.Fatal("a member before joining")
		}
	}
	testkit.KylinOK[json.RawMessage](t, kgSetMembers(e, admin, "roaming", u.Name))
	testkit.Eventually(t, "the peer to see the new group", func() bool {
		return testkit.KylinOK[testkit.KylinUser](t, peer.Do("GET", "/kylin/api/user/authentication", nil, ua)).Has("roaming")
	})
	testkit.KylinOK[json.RawMessage](t, e.Do("DELETE", "/kylin/api/user_group/roaming", nil, admin))
	testkit.Eventually(t, "the peer to see the group gone", func() bool {
		return !testkit.KylinOK[testkit.KylinUser](t, peer.Do("GET", "/kylin/api/user/authentication", nil, ua)).Has("roaming")
	})
}

// Group names are unique under any concurrency, and changes of members, of users'
// authorities and deletes of users racing each other never fail for it (no deadlock, no
// 500): each is answered as if it ran alone.
func TestKylinGroupsConcurrent(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	const n = 30
	statuses, bodies := testkit.AtOnce(t, n, func(i int) (int, []byte, error) {
		return testkit.TryDo(e, "POST", "/kylin/api/user_group", map[string]any{"group_name": testkit.MixedCase("crew", i)}, admin)
	})
	won := 0
	for i, s := range statuses {
		switch {
		case s == 200:
			won++
		case s != 409 || !strings.Contains(string(bodies[i]), "KE-010004004"):
			t.Errorf("create %d: %d %s", i, s, bodies[i])
		}
	}
	if won != 1 {
		t.Fatalf("%d creates of one name won", won)
	}

	var names []string
	for i := range 8 {
		names = append(names, e.NewUser(fmt.Sprintf("kg_cc%d", i), false).Name)
	}
	statuses, bodies = testkit.AtOnce(t, 24, func(i int) (int, []byte, error) {
		switch i % 3 {
		case 0: // set the members to a window of the users
			return testkit.TryDo(e, "PUT", "/kylin/api/user_group/users", map[string]any{"group_name": "crew", "users": names[i%8 : i%8+1+i%3]}, admin)
		case 1: // a user joins through its authorities
			return testkit.TryDo(e, "PUT", "/kylin/api/user", map[string]any{"username": names[i%8], "authorities": []string{"ALL_USERS", "CREW"}}, admin)
		default: // a user goes
			return testkit.TryDo(e, "DELETE", "/kylin/api/user/"+names[i%8], nil, admin)
		}
	})
	for i, s := range statuses {
		// a user deleted first is unknown to what comes after: 404 for itself, 400 in a list
		ok := s == 200 || (s == 404 && strings.Contains(string(bodies[i]), "KE-010003001")) ||
			(s == 400 && strings.Contains(string(bodies[i]), "KE-010003001"))
		if !ok {
			t.Errorf("request %d: %d %s", i, s, bodies[i])
		}
	}
	// what is left is consistent: the members are users that exist, and list as members
	var stored []string
	if err := e.DB.Select(&stored, `SELECT u.username FROM group_members m JOIN users u ON u.id = m.user_id ORDER BY u.username_key`); err != nil {
		t.Fatal(err)
	}
	if got := kgMembers(t, e, admin, "crew"); fmt.Sprint(got) != fmt.Sprint(stored) {
		t.Errorf("members %v, stored %v", got, stored)
	}
}
