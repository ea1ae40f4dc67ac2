package kala_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl/testkit"
)

func bolaSetAccess(t *testing.T, e *testkit.Env, ds string, user uuid.UUID, level int) {
	t.Helper()
	if err := db.SetAccess(context.Background(), e.DB, uuid.MustParse(ds), user, level, e.Clock.Now()); err != nil {
		t.Fatal(err)
	}
}

// A user on one project's access list reaches that project, at their level, and nothing
// of any other: another project answers exactly like one that does not exist.
func TestBOLA(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Bearer(e.AdminToken())
	p1 := testkit.DatastoreWithRows(t, e, admin, "bola_one")
	p2 := testkit.DatastoreWithRows(t, e, admin, "bola_two")
	// A holds User Management: a permission, just not the one for data
	a := e.NewUser("alice", false, e.Permission("User Management"))
	bolaSetAccess(t, e, p1, a.ID, 1) // QUERY
	tokA := testkit.Bearer(e.Login(a.Name, a.Password))
	missing := uuid.Must(uuid.NewV7()).String()

	type req struct {
		method, path string
		body         any
	}
	onProject := func(id string) []req {
		base := "/api/datastores/" + id
		return []req{
			{"GET", base, nil},
			{"PATCH", base, map[string]any{"description": "owned"}},
			{"DELETE", base, nil},
			{"GET", base + "/tables", nil},
			{"POST", base + "/tables", map[string]any{"name": "planted", "columns": []map[string]any{{"name": "x", "type": "text"}}}},
			{"GET", base + "/tables/t", nil},
			{"DELETE", base + "/tables/t", nil},
			{"GET", base + "/tables/t/rows", nil},
			{"POST", base + "/tables/t/rows", []map[string]any{{"id": 3, "note": "planted"}}},
		}
	}

	t.Run("another project is not found", func(t *testing.T) {
		se := testkit.Sub(e, t)
		ghosts := onProject(missing)
		for i, r := range onProject(p2) {
			got := se.Do(r.method, r.path, r.body, tokA)
			if got.Status != 404 {
				t.Errorf("%s %s: status %d, want 404; body: %s", r.method, r.path, got.Status, got.Body)
				continue
			}
			// the same answer as for a datastore that does not exist
			ghost := se.Do(ghosts[i].method, ghosts[i].path, ghosts[i].body, tokA)
			if ghost.Status != 404 {
				t.Errorf("%s %s (no such datastore): status %d, want 404", ghosts[i].method, ghosts[i].path, ghost.Status)
				continue
			}
			gp, pp := testkit.ProblemOf(t, ghost), testkit.ProblemOf(t, got)
			if gp.Type != pp.Type || gp.Detail != pp.Detail {
				t.Errorf("%s %s: the 404 differs from a missing datastore's (%+v vs %+v)", r.method, r.path, pp, gp)
			}
		}
		// nothing of P2 changed
		var ds testkit.Envelope[struct {
			Description string `json:"description"`
		}]
		se.Do("GET", "/api/datastores/"+p2, nil, admin).Expect(t, 200).JSON(t, &ds)
		if ds.Data.Description != "original" {
			t.Errorf("P2's description is now %q", ds.Data.Description)
		}
		if n := testkit.RowCount(t, se, admin, p2, "t"); n != 2 {
			t.Errorf("P2's table has %d rows, want 2", n)
		}
		se.Do("GET", "/api/datastores/"+p2+"/tables/planted", nil, admin).Expect(t, 404)
	})

	t.Run("the list shows only the project on the access list", func(t *testing.T) {
		se := testkit.Sub(e, t)
		var list testkit.Envelope[[]testkit.Datastore]
		se.Do("GET", "/api/datastores", nil, tokA).Expect(t, 200).JSON(t, &list)
		if len(list.Data) != 1 || list.Page.Total != 1 || list.Data[0].ID != p1 || list.Data[0].Access != "QUERY" {
			t.Fatalf("A's list: %s", testkit.MustJSON(list))
		}
		se.Do("GET", "/api/datastores?name=two", nil, tokA).Expect(t, 200).JSON(t, &list)
		if len(list.Data) != 0 || list.Page.Total != 0 {
			t.Fatalf("A's list filtered for P2's name: %s", testkit.MustJSON(list))
		}
		var all testkit.Envelope[[]testkit.Datastore]
		se.Do("GET", "/api/datastores", nil, admin).Expect(t, 200).JSON(t, &all)
		if all.Page.Total != 2 {
			t.Fatalf("ADMIN's list: %s", testkit.MustJSON(all))
		}
	})

	base := "/api/datastores/" + p1
	t.Run("QUERY reads but does not write", func(t *testing.T) {
		se := testkit.Sub(e, t)
		for _, level := range []int{1, 2} { // OPERATION allows what QUERY allows
			bolaSetAccess(t, se, p1, a.ID, level)
			var ds testkit.Envelope[testkit.Datastore]
			se.Do("GET", base, nil, tokA).Expect(t, 200).JSON(t, &ds)
			if want := map[int]string{1: "QUERY", 2: "OPERATION"}[level]; ds.Data.Access != want {
				t.Errorf("level %d: access %q, want %q", level, ds.Data.Access, want)
			}
			se.Do("GET", base+"/tables", nil, tokA).Expect(t, 200)
			se.Do("GET", base+"/tables/t", nil, tokA).Expect(t, 200)
			var rows testkit.Envelope[[]map[string]any]
			se.Do("GET", base+"/tables/t/rows", nil, tokA).Expect(t, 200).JSON(t, &rows)
			if rows.Page.Total != 2 || rows.Data[0]["note"] != "secret" {
				t.Errorf("level %d: rows %s", level, testkit.MustJSON(rows))
			}
			se.Do("POST", base+"/tables", map[string]any{"name": "q", "columns": []map[string]any{{"name": "x", "type": "text"}}}, tokA).Expect(t, 403)
			se.Do("POST", base+"/tables/t/rows", []map[string]any{{"id": 9}}, tokA).Expect(t, 403)
			se.Do("DELETE", base+"/tables/t", nil, tokA).Expect(t, 403)
			se.Do("PATCH", base, map[string]any{"description": "q"}, tokA).Expect(t, 403)
			se.Do("DELETE", base, nil, tokA).Expect(t, 403)
		}
		if n := testkit.RowCount(t, se, admin, p1, "t"); n != 2 {
			t.Errorf("refused inserts changed the table: %d rows", n)
		}
		se.Do("GET", base+"/tables/q", nil, admin).Expect(t, 404)
	})

	t.Run("MANAGEMENT writes tables and rows but does not edit the project", func(t *testing.T) {
		se := testkit.Sub(e, t)
		bolaSetAccess(t, se, p1, a.ID, 3)
		se.Do("POST", base+"/tables", map[string]any{"name": "m", "columns": []map[string]any{{"name": "x", "type": "text"}}}, tokA).Expect(t, 201)
		se.Do("POST", base+"/tables/m/rows", []map[string]any{{"x": "a"}, {"x": "b"}}, tokA).Expect(t, 201)
		if n := testkit.RowCount(t, se, admin, p1, "m"); n != 2 {
			t.Errorf("table m has %d rows, want 2", n)
		}
		se.Do("DELETE", base+"/tables/m", nil, tokA).Expect(t, 204)
		se.Do("PATCH", base, map[string]any{"description": "m"}, tokA).Expect(t, 403)
		se.Do("DELETE", base, nil, tokA).Expect(t, 403)
	})

	t.Run("ADMIN edits the project but cannot delete it", func(t *testing.T) {
		se := testkit.Sub(e, t)
		bolaSetAccess(t, se, p1, a.ID, 4)
		var ds testkit.Envelope[struct {
			Description string `json:"description"`
			Access      string `json:"access"`
		}]
		se.Do("PATCH", base, map[string]any{"description": "edited by alice"}, tokA).Expect(t, 200).JSON(t, &ds)
		if ds.Data.Description != "edited by alice" || ds.Data.Access != "ADMIN" {
			t.Errorf("PATCH answer: %s", testkit.MustJSON(ds))
		}
		se.Do("DELETE", base, nil, tokA).Expect(t, 403)
		se.Do("GET", base, nil, admin).Expect(t, 200)
		// still nothing of P2
		se.Do("GET", "/api/datastores/"+p2, nil, tokA).Expect(t, 404)
		se.Do("PATCH", "/api/datastores/"+p2, map[string]any{"description": "x"}, tokA).Expect(t, 404)
	})

	t.Run("keys act with their owner's access, within their services", func(t *testing.T) {
		se := testkit.Sub(e, t)
		bolaSetAccess(t, se, p1, a.ID, 1)
		rawA := e.Login(a.Name, a.Password)
		usersOnly := se.NewKey(rawA, map[string]any{"validTo": testkit.ValidTo(se),
			"permissions": []string{se.Permission("User Management")}, "services": []string{se.Service("users")}})
		for _, path := range []string{"/api/datastores", base, base + "/tables", base + "/tables/t/rows", "/api/datastores/" + p2} {
			r := se.Do("GET", path, nil, testkit.APIKey(usersOnly))
			if r.Status != 403 {
				t.Errorf("GET %s with a users-only key: status %d, want 403; body %s", path, r.Status, r.Body)
			}
		}
		se.Do("POST", base+"/tables/t/rows", []map[string]any{{"id": 5}}, testkit.APIKey(usersOnly)).Expect(t, 403)
		// the same key works on its own service: the 403s above are the service limit
		se.Do("GET", "/api/users", nil, testkit.APIKey(usersOnly)).Expect(t, 200)
		se.Do("GET", "/api/auth/me", nil, testkit.APIKey(usersOnly)).Expect(t, 200)

		anyService := se.NewKey(rawA, map[string]any{"validTo": testkit.ValidTo(se)})
		se.Do("GET", base+"/tables/t/rows", nil, testkit.APIKey(anyService)).Expect(t, 200)
		se.Do("POST", base+"/tables/t/rows", []map[string]any{{"id": 5}}, testkit.APIKey(anyService)).Expect(t, 403)
		se.Do("GET", "/api/datastores/"+p2, nil, testkit.APIKey(anyService)).Expect(t, 404)
		var list testkit.Envelope[[]testkit.Datastore]
		se.Do("GET", "/api/datastores", nil, testkit.APIKey(anyService)).Expect(t, 200).JSON(t, &list)
		if list.Page.Total != 1 || list.Data[0].ID != p1 {
			t.Errorf("the key's list: %s", testkit.MustJSON(list))
		}
	})

	t.Run("missing and malformed ids", func(t *testing.T) {
		se := testkit.Sub(e, t)
		for _, who := range []testkit.ReqOpt{tokA, admin} {
			se.Do("GET", "/api/datastores/"+missing, nil, who).Expect(t, 404)
			se.Do("GET", "/api/datastores/"+missing+"/tables/t/rows", nil, who).Expect(t, 404)
			se.Do("PATCH", "/api/datastores/"+missing, map[string]any{"description": "x"}, who).Expect(t, 404)
			testkit.ExpectField(t, se.Do("GET", "/api/datastores/not-a-uuid", nil, who), "id")
			testkit.ExpectField(t, se.Do("GET", "/api/datastores/1234/tables", nil, who), "id")
			testkit.ExpectField(t, se.Do("POST", "/api/datastores/xyz/tables/t/rows", []map[string]any{{"id": 1}}, who), "id")
		}
		se.Do("DELETE", "/api/datastores/"+missing, nil, admin).Expect(t, 404)
	})
}
