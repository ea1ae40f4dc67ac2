package kala_test

import (
	"strings"
	"testing"

	"github.com/kala-server/kala/impl/testkit"
)

// A datastore's whole life over the API: create, add a table, insert typed rows, read
// them back value by value, refuse a bad batch whole, drop it all.
func TestDatastoreLifecycle(t *testing.T) {
	e := testkit.New(t)
	tok := testkit.Bearer(e.AdminToken())
	var ds testkit.Envelope[testkit.Datastore]
	e.Do("POST", "/api/datastores", map[string]any{"name": "Sales_2026", "description": "orders"}, tok).Expect(t, 201).JSON(t, &ds)
	e.Do("POST", "/api/datastores", map[string]any{"name": "sales_2026"}, tok).Expect(t, 409)
	e.Do("POST", "/api/datastores", map[string]any{"name": "_hidden"}, tok).Expect(t, 400)
	base := "/api/datastores/" + ds.Data.ID
	e.Do("POST", base+"/tables", map[string]any{"name": "Orders", "columns": []map[string]any{
		{"name": "id", "type": "bigint", "nullable": false}, {"name": "n", "type": "integer"},
		{"name": "amount", "type": "numeric"}, {"name": "ratio", "type": "double"}, {"name": "ok", "type": "boolean"},
		{"name": "day", "type": "date"}, {"name": "at", "type": "timestamp"}, {"name": "note", "type": "text"},
	}}, tok).Expect(t, 201)
	rows := []map[string]any{
		{"id": "9007199254740993", "n": 7, "amount": "12345678901234567890.125", "ratio": 0.5, "ok": true,
			"day": "2026-11-23", "at": "2026-11-23T10:00:00+01:00", "note": "hé"},
		{"id": 2},
	}
	e.Do("POST", base+"/tables/orders/rows", rows, tok).Expect(t, 201)
	var got testkit.Envelope[[]map[string]any]
	e.Do("GET", base+"/tables/orders/rows", nil, tok).Expect(t, 200).JSON(t, &got)
	if got.Page.Total != 2 || len(got.Data) != 2 {
		t.Fatalf("rows: %+v", got)
	}
	want := map[string]any{"id": "9007199254740993", "n": float64(7), "amount": "12345678901234567890.125",
		"ratio": 0.5, "ok": true, "day": "2026-11-23", "at": "2026-11-23T09:00:00", "note": "hé"}
	for k, v := range want {
		if got.Data[0][k] != v {
			t.Errorf("%s = %#v, want %#v", k, got.Data[0][k], v)
		}
	}
	if got.Data[1]["note"] != nil {
		t.Errorf("missing column should read null, got %#v", got.Data[1]["note"])
	}
	bad := make([]map[string]any, 10)
	for i := range bad {
		bad[i] = map[string]any{"id": i}
	}
	bad[7]["n"] = "seven"
	r := e.Do("POST", base+"/tables/orders/rows", bad, tok).Expect(t, 400)
	var p struct {
		Errors []struct{ Field, Message string } `json:"errors"`
	}
	r.JSON(t, &p)
	if len(p.Errors) != 1 || p.Errors[0].Field != "rows[7].n" {
		t.Fatalf("the 400 should name rows[7].n: %s", r.Body)
	}
	e.Do("GET", base+"/tables/orders/rows", nil, tok).Expect(t, 200).JSON(t, &got)
	if got.Page.Total != 2 {
		t.Fatalf("a refused batch changed the table: total %d", got.Page.Total)
	}
	e.Do("DELETE", base+"/tables/orders", nil, tok).Expect(t, 204)
	e.Do("GET", base+"/tables/orders", nil, tok).Expect(t, 404)
	e.Do("DELETE", base, nil, tok).Expect(t, 204)
	e.Do("GET", base, nil, tok).Expect(t, 404)
	var n int
	if err := e.DB.Get(&n, `SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'kala_p_%' AND nspname = 'kala_p_' || replace($1, '-', '')`, ds.Data.ID); err != nil || n != 0 {
		t.Fatalf("schema left behind: %d %v", n, err)
	}
}

func TestUsersLifecycle(t *testing.T) {
	e := testkit.New(t)
	tok := testkit.Bearer(e.AdminToken())
	type user struct {
		ID       string `json:"id"`
		Username string `json:"username"`
		Disabled bool   `json:"disabled"`
	}
	var u testkit.Envelope[user]
	e.Do("POST", "/api/users", map[string]any{"username": "Grace", "password": "Hopper#1906"}, tok).Expect(t, 201).JSON(t, &u)
	e.Do("POST", "/api/users", map[string]any{"username": "GRACE", "password": "Hopper#1906"}, tok).Expect(t, 409)
	r := e.Do("POST", "/api/users", map[string]any{"username": "ada", "password": "short"}, tok).Expect(t, 400)
	if !strings.Contains(string(r.Body), "8 characters") {
		t.Errorf("the password rule is not named: %s", r.Body)
	}
	e.Do("POST", "/api/users", map[string]any{"username": "ada", "password": "Lovelace#1815", "extra": 1}, tok).Expect(t, 400)
	gtok := e.Login("grace", "Hopper#1906")
	e.Do("GET", "/api/auth/me", nil, testkit.Bearer(gtok)).Expect(t, 200)
	e.Do("GET", "/api/users", nil, testkit.Bearer(gtok)).Expect(t, 403)
	e.Do("PATCH", "/api/users/"+u.Data.ID, map[string]any{"disabled": true}, tok).Expect(t, 200)
	e.Do("GET", "/api/auth/me", nil, testkit.Bearer(gtok)).Expect(t, 401)
	var list testkit.Envelope[[]user]
	e.Do("GET", "/api/users?name=RAC", nil, tok).Expect(t, 200).JSON(t, &list)
	if len(list.Data) != 1 || !list.Data[0].Disabled {
		t.Fatalf("filtered list: %s", testkit.MustJSON(list))
	}
	var me testkit.Envelope[struct{ User user }]
	e.Do("GET", "/api/auth/me", nil, tok).Expect(t, 200).JSON(t, &me)
	e.Do("DELETE", "/api/users/"+me.Data.User.ID, nil, tok).Expect(t, 403)
	e.Do("PATCH", "/api/users/"+me.Data.User.ID, map[string]any{"admin": false}, tok).Expect(t, 403)
	e.Do("DELETE", "/api/users/"+u.Data.ID, nil, tok).Expect(t, 204)
	e.Do("GET", "/api/users/"+u.Data.ID, nil, tok).Expect(t, 404)
}

// A table that exists, in any case, is a 409 that says so, also when twenty requests
// race to create it: exactly one wins, the others are told of the conflict (never a 500).
func TestDuplicateTableIsAConflict(t *testing.T) {
	e := testkit.New(t)
	tok := testkit.Bearer(e.AdminToken())
	var ds testkit.Envelope[testkit.Datastore]
	e.Do("POST", "/api/datastores", map[string]any{"name": "dups"}, tok).Expect(t, 201).JSON(t, &ds)
	tables := "/api/datastores/" + ds.Data.ID + "/tables"
	def := func(name string) map[string]any {
		return map[string]any{"name": name, "columns": []map[string]any{{"name": "id", "type": "bigint"}}}
	}
	e.Do("POST", tables, def("orders"), tok).Expect(t, 201)
	r := e.Do("POST", tables, def("ORDERS"), tok).Expect(t, 409)
	if !strings.Contains(string(r.Body), "already has a table orders") && !strings.Contains(string(r.Body), "already has a table ORDERS") {
		t.Errorf("409 body: %s", r.Body)
	}
	statuses, bodies := testkit.AtOnce(t, 20, func(int) (int, []byte, error) {
		return testkit.TryDo(e, "POST", tables, def("raced"), tok)
	})
	won := 0
	for i, st := range statuses {
		switch st {
		case 201:
			won++
		case 409:
		default:
			t.Errorf("request %d: %d %s", i, st, bodies[i])
		}
	}
	if won != 1 {
		t.Errorf("%d requests created the table, want 1", won)
	}
}
