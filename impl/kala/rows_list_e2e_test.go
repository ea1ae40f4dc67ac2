package kala_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kala-server/kala/impl/testkit"
)

type rlPage struct {
	Data []struct {
		I int `json:"i"`
	} `json:"data"`
	Page struct {
		Total int     `json:"total"`
		Next  *string `json:"next"`
	} `json:"page"`
}

// Rows come back in insertion order whichever way the pages are read (offset, or
// `after` from page.next); the total is the table's exact row count through inserts, a
// refused insert, and a drop and re-create.
func TestRowsListPagesAndTotals(t *testing.T) {
	e := testkit.New(t)
	tok := testkit.Bearer(e.AdminToken())
	p := testkit.NewProject(t, e, tok, "rl_p", "")
	base := "/api/datastores/" + p.ID + "/tables"
	mk := func() {
		e.Do("POST", base, map[string]any{"name": "r", "columns": []map[string]any{{"name": "i", "type": "integer"}}}, tok).Expect(t, 201)
	}
	mk()
	var want []int
	for _, batch := range [][]int{{5, 3, 9}, {1, 8, 2, 7, 6, 4, 0}, {19, 11, 15, 13, 17, 10, 12, 14, 16, 18, 20, 21, 22, 23, 24}} {
		rows := []map[string]any{}
		for _, i := range batch {
			rows = append(rows, map[string]any{"i": i})
		}
		e.Do("POST", base+"/r/rows", rows, tok).Expect(t, 201)
		want = append(want, batch...)
	}
	e.Do("POST", base+"/r/rows", []map[string]any{{"i": 1}, {"i": "not a number"}}, tok).Expect(t, 400)
	list := func(q string) rlPage {
		t.Helper()
		var pg rlPage
		e.Do("GET", base+"/r/rows?"+q, nil, tok).Expect(t, 200).JSON(t, &pg)
		if pg.Page.Total != len(want) {
			t.Fatalf("%s: total %d, want %d", q, pg.Page.Total, len(want))
		}
		return pg
	}
	ints := func(pg rlPage) (out []int) {
		for _, r := range pg.Data {
			out = append(out, r.I)
		}
		return out
	}
	var byOffset, byKey []int
	for off := 0; off < len(want); off += 7 {
		byOffset = append(byOffset, ints(list(fmt.Sprintf("limit=7&offset=%d", off)))...)
	}
	for q := "limit=7"; ; {
		pg := list(q)
		byKey = append(byKey, ints(pg)...)
		if pg.Page.Next == nil {
			break
		}
		if len(byKey) > len(want) {
			t.Fatal("the continuation does not end")
		}
		q = "limit=7&after=" + *pg.Page.Next
	}
	if !slices.Equal(byOffset, want) || !slices.Equal(byKey, want) {
		t.Fatalf("insertion order %v\nby offset %v\nby after %v", want, byOffset, byKey)
	}
	if pg := list("limit=5&after=" + "0-2&offset=1"); len(pg.Data) != 5 || pg.Data[0].I != want[3] {
		t.Fatalf("after with an offset: %v", ints(pg))
	}
	e.Do("GET", base+"/r/rows?after=(0,1)", nil, tok).Expect(t, 400)

	e.Do("DELETE", base+"/r", nil, tok).Expect(t, 204)
	mk()
	want = nil
	if pg := list("limit=5"); len(pg.Data) != 0 || pg.Page.Next != nil {
		t.Fatalf("re-created table: %+v", pg)
	}
}

// BenchmarkRowsList1M lists a table of 1,000,000 rows (seeded by SQL, counted as the
// API counts them): the first page, the last page by offset, and a deep page by `after`.
// Reports the p50 of each in ms.
func BenchmarkRowsList1M(b *testing.B) {
	e := testkit.New(b)
	tok := testkit.Bearer(e.AdminToken())
	p := testkit.NewProject(b, e, tok, "rl_big", "")
	base := "/api/datastores/" + p.ID + "/tables"
	e.Do("POST", base, map[string]any{"name": "big", "columns": []map[string]any{{"name": "i", "type": "bigint"},
		{"name": "s", "type": "text"}}}, tok).Expect(b, 201)
	const n = 1_000_000
	for _, q := range []string{
		`INSERT INTO ` + p.Schema + `.big SELECT i, 'row ' || i FROM generate_series(1, 1000000) i`,
		`UPDATE table_rows SET n = 1000000 WHERE schema_name = '` + p.Schema + `' AND table_name = 'big'`,
		`ANALYZE ` + p.Schema + `.big`,
	} {
		if _, err := e.DB.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	var mid struct {
		Page struct {
			Next *string `json:"next"`
		} `json:"page"`
	}
	e.Do("GET", base+"/big/rows?limit=50&offset=500000", nil, tok).Expect(b, 200).JSON(b, &mid)
	calls := map[string]string{
		"first":        base + "/big/rows?limit=50",
		"last-offset":  fmt.Sprintf("%s/big/rows?limit=50&offset=%d", base, n-50),
		"middle-after": base + "/big/rows?limit=50&after=" + *mid.Page.Next,
	}
	times := map[string][]float64{}
	b.ResetTimer()
	for range b.N {
		for range 10 {
			for name, path := range calls {
				start := time.Now()
				e.Do("GET", path, nil, tok).Expect(b, 200)
				times[name] = append(times[name], float64(time.Since(start).Microseconds())/1000)
			}
		}
	}
	b.StopTimer()
	for name, ts := range times {
		slices.Sort(ts)
		b.ReportMetric(ts[len(ts)/2], name+"-p50-ms")
	}
}
