package data

import (
	"strings"
	"testing"

	"github.com/kala-server/kala/impl/errs"
)

func TestBindPlaceholders(t *testing.T) {
	five, x := "5", "x"
	i4 := Param{Type: "int4", Value: &five}
	txt := Param{Type: "text", Value: &x}
	null := Param{}
	cases := []struct {
		stmt   string
		params []Param
		want   string
	}{
		{`SELECT * FROM t WHERE i = ?`, []Param{i4}, `SELECT * FROM t WHERE i = ($3::int4)`},
		{`SELECT ?, ?`, []Param{txt, null}, `SELECT ($3::text), ($4)`},
		{`SELECT ?||'?', "a?" FROM t -- ?` + "\nWHERE s = ?", []Param{txt, txt}, `SELECT ($3::text)||'?', "a?" FROM t -- ?` + "\nWHERE s = ($4::text)"},
		{`SELECT $$?$$, $q$ ? $q$, E'\'?', /* ? /* ? */ */ ?`, []Param{i4}, `SELECT $$?$$, $q$ ? $q$, E'\'?', /* ? /* ? */ */ ($3::int4)`},
		{`SELECT a$?`, []Param{i4}, `SELECT a$($3::int4)`},
	}
	for _, c := range cases {
		got, args, err := bindPlaceholders(c.stmt, c.params, 3)
		if err != nil || got != c.want || len(args) != len(c.params) {
			t.Errorf("%s:\n got %s (%d args, %v)\nwant %s", c.stmt, got, len(args), err, c.want)
		}
	}
	got, args, _ := bindPlaceholders(`SELECT ?, ?`, []Param{txt, null}, 3)
	if args[0] != "x" || args[1] != nil {
		t.Errorf("args %#v for %s", args, got)
	}
	for _, c := range []struct {
		stmt   string
		params []Param
	}{
		{`SELECT ?, ?`, []Param{i4}},
		{`SELECT 1`, []Param{i4}},
		{`SELECT '?'`, []Param{i4}},
	} {
		_, _, err := bindPlaceholders(c.stmt, c.params, 3)
		if errs.CodeOf(err) != errs.Invalid || !strings.Contains(err.Error(), "placeholders") {
			t.Errorf("%s with %d params: %v", c.stmt, len(c.params), err)
		}
	}
	if _, _, err := bindPlaceholders(`SELECT ?`, []Param{{Type: "int4; DROP TABLE t"}}, 3); errs.CodeOf(err) != errs.Internal {
		t.Errorf("a type outside the list was spliced: %v", err)
	}
}

// Whatever the statement, binding does not panic, and every `?` it leaves is inside
// quotes or comments: the statement scanned again has no placeholder.
func FuzzBindPlaceholders(f *testing.F) {
	for _, seed := range []string{`SELECT ?`, `SELECT '?' || ?`, `SELECT $a$?$a$, ?`, `/* ? */ ?`, `?`, `E'\'?'?`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, stmt string) {
		n := 0
		if _, err := scanCode(stmt, func(i int) bool {
			if stmt[i] == '?' {
				n++
			}
			return false
		}); err != nil {
			return
		}
		params := make([]Param, n)
		for i := range params {
			params[i].Type = "text"
		}
		out, args, err := bindPlaceholders(stmt, params, 3)
		if err != nil || len(args) != n {
			t.Fatalf("%q: %v", stmt, err)
		}
		if _, _, err := bindPlaceholders(out, nil, 3); err != nil {
			t.Fatalf("%q became %q, which still has placeholders: %v", stmt, out, err)
		}
	})
}
