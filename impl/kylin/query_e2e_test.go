package kylin_test

import (
	"testing"

	"github.com/kala-server/kala/impl/testkit"
)

type queryResult struct {
	Code string `json:"code"`
	Data struct {
		ColumnMetas []struct {
			Name           string `json:"name"`
			ColumnType     int    `json:"columnType"`
			ColumnTypeName string `json:"columnTypeName"`
		} `json:"columnMetas"`
		Results          [][]*string `json:"results"`
		IsException      bool        `json:"isException"`
		ExceptionMessage *string     `json:"exceptionMessage"`
		ResultRowCount   int         `json:"resultRowCount"`
		Partial          bool        `json:"partial"`
	} `json:"data"`
}

func TestKylinQuerySmoke(t *testing.T) {
	e := testkit.New(t)
	basic := testkit.Basic("ADMIN", testkit.AdminPassword)
	e.Do("POST", "/kylin/api/projects", map[string]any{"name": "p1"}, basic).Expect(t, 200)
	tok := testkit.Bearer(e.AdminToken())
	var ds testkit.Envelope[[]testkit.Datastore]
	e.Do("GET", "/api/datastores?name=p1", nil, tok).Expect(t, 200).JSON(t, &ds)
	base := "/api/datastores/" + ds.Data[0].ID
	e.Do("POST", base+"/tables", map[string]any{"name": "t", "columns": []map[string]any{
		{"name": "i", "type": "integer"}, {"name": "s", "type": "text"}}}, tok).Expect(t, 201)
	e.Do("POST", base+"/tables/t/rows", []map[string]any{{"i": 1, "s": "a"}, {"i": 2}, {"i": 3, "s": "c"}}, tok).Expect(t, 201)

	var q queryResult
	e.Do("POST", "/kylin/api/query", map[string]any{"sql": "SELECT i, s FROM t ORDER BY i;", "project": "P1", "limit": 2}, basic).Expect(t, 200).JSON(t, &q)
	if q.Data.IsException || q.Data.ResultRowCount != 2 || !q.Data.Partial || *q.Data.Results[0][0] != "1" || q.Data.Results[1][1] != nil {
		t.Fatalf("unexpected: %+v", q.Data)
	}
	if q.Data.ColumnMetas[0].ColumnType != 4 || q.Data.ColumnMetas[1].ColumnTypeName != "VARCHAR" {
		t.Errorf("metas: %+v", q.Data.ColumnMetas)
	}
	for _, sql := range []string{"DELETE FROM t", "SELECT 1; DELETE FROM t", "SELECT * FROM pg_authid", "SELECT set_config('role', 'postgres', false)"} {
		e.Do("POST", "/kylin/api/query", map[string]any{"sql": sql, "project": "p1"}, basic).Expect(t, 200).JSON(t, &q)
		if !q.Data.IsException {
			t.Errorf("%q should fail: %+v", sql, q.Data)
		}
	}
	e.Do("POST", "/kylin/api/query", map[string]any{"sql": "SELECT count(*) FROM t", "project": "p1"}, basic).Expect(t, 200).JSON(t, &q)
	if q.Data.IsException || *q.Data.Results[0][0] != "3" {
		t.Fatalf("rows changed or query failed: %+v", q.Data)
	}
	e.Do("POST", "/kylin/api/query", map[string]any{"project": "p1"}, basic).Expect(t, 400)
	e.Do("POST", "/kylin/api/query", map[string]any{"sql": "SELECT 1", "project": "nope"}, basic).Expect(t, 404)
	e.Do("GET", "/kylin/api/query/tables_and_columns?project=p1", nil, basic).Expect(t, 200)
}
