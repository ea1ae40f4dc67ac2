package data

import (
	"strings"
	"testing"
)

// statementCases are inputs to Statement with the statement it should return, or a piece
// of the error it should give (err non-empty).
var statementCases = []struct {
	name, in, out, err string
}{
	// accepted, as written (trimmed, trailing semicolons dropped)
	{name: "plain", in: "SELECT 1", out: "SELECT 1"},
	{name: "lower case", in: "select * from t", out: "select * from t"},
	{name: "surrounding space", in: "  \n\tSELECT 1 \n", out: "SELECT 1"},
	{name: "WITH", in: "WITH a AS (SELECT 1) SELECT * FROM a", out: "WITH a AS (SELECT 1) SELECT * FROM a"},
	{name: "VALUES", in: "VALUES (1), (2)", out: "VALUES (1), (2)"},
	{name: "TABLE", in: "TABLE t", out: "TABLE t"},
	{name: "parenthesised", in: "(SELECT 1) UNION (SELECT 2)", out: "(SELECT 1) UNION (SELECT 2)"},
	{name: "leading block comment", in: "/* hi */ SELECT 1", out: "/* hi */ SELECT 1"},
	{name: "leading line comment", in: "-- hi\nSELECT 1", out: "-- hi\nSELECT 1"},
	{name: "semicolon in a block comment", in: "/* ; */ SELECT 1", out: "/* ; */ SELECT 1"},
	{name: "semicolon in nested block comments", in: "SELECT 1 /* a /* b ; */ c ; */", out: "SELECT 1 /* a /* b ; */ c ; */"},
	{name: "star-slash inside nesting", in: "SELECT /* /* */ ; */ 1", out: "SELECT /* /* */ ; */ 1"},
	{name: "semicolon in a trailing line comment", in: "SELECT 1 -- ; DELETE FROM t", out: "SELECT 1 -- ; DELETE FROM t"},
	{name: "semicolon in a string", in: "SELECT ';'", out: "SELECT ';'"},
	{name: "doubled quote", in: "SELECT 'it''s; fine'", out: "SELECT 'it''s; fine'"},
	{name: "backslash in a standard string", in: `SELECT '\'`, out: `SELECT '\'`},
	{name: "E string escaped quote", in: `SELECT E'\';'`, out: `SELECT E'\';'`},
	{name: "e string lower case", in: `SELECT e'a\'b;c'`, out: `SELECT e'a\'b;c'`},
	{name: "E string doubled quote", in: `SELECT E'a'';'`, out: `SELECT E'a'';'`},
	{name: "E string escaped backslash", in: `SELECT E'\\', 1`, out: `SELECT E'\\', 1`},
	{name: "identifier ending in e is not an E string", in: `SELECT 'x' AS note, type'\'`, out: `SELECT 'x' AS note, type'\'`},
	{name: "quoted identifier", in: `SELECT "a;b" FROM t`, out: `SELECT "a;b" FROM t`},
	{name: "quoted identifier with doubled quote", in: `SELECT "a"";b" FROM t`, out: `SELECT "a"";b" FROM t`},
	{name: "dollar quote", in: "SELECT $$;$$", out: "SELECT $$;$$"},
	{name: "tagged dollar quote", in: "SELECT $tag$ $$ ; ' $tag$", out: "SELECT $tag$ $$ ; ' $tag$"},
	{name: "other tag inside", in: "SELECT $a$;$b$;$a$", out: "SELECT $a$;$b$;$a$"},
	{name: "parameter is not a tag", in: "SELECT $1", out: "SELECT $1"},
	{name: "quote in a comment", in: "SELECT 1 /* ' */", out: "SELECT 1 /* ' */"},
	{name: "comment marker in a string", in: "SELECT '--', '/*'", out: "SELECT '--', '/*'"},
	{name: "trailing semicolon", in: "SELECT 1;", out: "SELECT 1"},
	{name: "trailing semicolons and space", in: "SELECT 1 ; ;\n ; ", out: "SELECT 1"},
	{name: "semicolon then comment", in: "SELECT 1; -- done", out: "SELECT 1"},
	{name: "semicolon then block comment", in: "SELECT 1; /* done */", out: "SELECT 1"},

	// refused
	{name: "empty", in: "", err: "empty"},
	{name: "blank", in: " \n ", err: "empty"},
	{name: "only semicolons", in: " ; ;", err: "empty"},
	{name: "only a comment", in: "-- nothing", err: "only read queries"},
	{name: "two statements", in: "SELECT 1; SELECT 2", err: "only one statement"},
	{name: "statement after a string semicolon", in: "SELECT ';'; DELETE FROM t", err: "only one statement"},
	{name: "statement after a comment semicolon", in: "SELECT 1 /* ; */; DELETE FROM t", err: "only one statement"},
	{name: "statement after a line comment", in: "SELECT 1 -- x\n; DELETE FROM t", err: "only one statement"},
	{name: "statement after a dollar quote", in: "SELECT $$;$$; DELETE FROM t", err: "only one statement"},
	{name: "backslash does not escape a standard string", in: `SELECT '\'; DELETE FROM t; --'`, err: "only one statement"},
	{name: "escaped backslash ends an E string", in: `SELECT E'\\'; DELETE FROM t; --'`, err: "only one statement"},
	{name: "statement after semicolons", in: "SELECT 1;; DELETE FROM t", err: "only one statement"},
	{name: "statement after a trailing comment", in: "SELECT 1; /* x */ DELETE FROM t", err: "only one statement"},
	// conservative, not a hole: an empty statement after a comment counts as a second one
	{name: "semicolon after a trailing comment", in: "SELECT 1; /* done */ ;", err: "only one statement"},
	{name: "unterminated string", in: "SELECT 'a", err: "unterminated"},
	{name: "unterminated E string", in: `SELECT E'a\'`, err: "unterminated"},
	{name: "unterminated identifier", in: `SELECT "a`, err: "unterminated"},
	{name: "unterminated dollar quote", in: "SELECT $x$ ;", err: "unterminated"},
	{name: "unterminated comment", in: "SELECT 1 /* ;", err: "unterminated"},
	{name: "unterminated nested comment", in: "SELECT 1 /* /* */ ;", err: "unterminated"},
	{name: "unterminated comment after the statement", in: "SELECT 1; /*", err: "unterminated"},
	{name: "DELETE", in: "DELETE FROM t", err: "only read queries"},
	{name: "INSERT", in: "INSERT INTO t VALUES (1)", err: "only read queries"},
	{name: "UPDATE", in: "update t set a = 1", err: "only read queries"},
	{name: "MERGE", in: "MERGE INTO t USING u ON true WHEN MATCHED THEN DELETE", err: "only read queries"},
	{name: "CREATE", in: "CREATE TEMP TABLE x (a int)", err: "only read queries"},
	{name: "DROP", in: "DROP TABLE t", err: "only read queries"},
	{name: "TRUNCATE", in: "TRUNCATE t", err: "only read queries"},
	{name: "SET", in: "SET ROLE postgres", err: "only read queries"},
	{name: "RESET", in: "RESET ROLE", err: "only read queries"},
	{name: "COPY", in: "COPY (SELECT 1) TO PROGRAM 'id'", err: "only read queries"},
	{name: "EXPLAIN", in: "EXPLAIN ANALYZE DELETE FROM t", err: "only read queries"},
	{name: "SHOW", in: "SHOW search_path", err: "only read queries"},
	{name: "CALL", in: "CALL p()", err: "only read queries"},
	{name: "DO", in: "DO $$ BEGIN DELETE FROM t; END $$", err: "only read queries"},
	{name: "PREPARE", in: "PREPARE p AS SELECT 1", err: "only read queries"},
	{name: "EXECUTE", in: "EXECUTE p", err: "only read queries"},
	{name: "DECLARE", in: "DECLARE c CURSOR FOR SELECT 1", err: "only read queries"},
	{name: "LOCK", in: "LOCK TABLE t", err: "only read queries"},
	{name: "BEGIN", in: "BEGIN", err: "only read queries"},
	{name: "COMMIT", in: "COMMIT", err: "only read queries"},
	{name: "NOTIFY", in: "NOTIFY kala_events, '*'", err: "only read queries"},
	{name: "LISTEN", in: "LISTEN x", err: "only read queries"},
	{name: "VACUUM", in: "VACUUM", err: "only read queries"},
	{name: "GRANT", in: "GRANT SELECT ON t TO PUBLIC", err: "only read queries"},
	{name: "ALTER", in: "ALTER ROLE CURRENT_USER SET work_mem = '1MB'", err: "only read queries"},
	{name: "keyword prefix", in: "SELECTION", err: "only read queries"},
	{name: "write behind a comment", in: "/* SELECT */ DELETE FROM t", err: "only read queries"},
	{name: "write behind a line comment", in: "-- SELECT\nDELETE FROM t", err: "only read queries"},
}

func TestStatement(t *testing.T) {
	for _, c := range statementCases {
		t.Run(c.name, func(t *testing.T) {
			out, err := Statement(c.in)
			switch {
			case c.err != "" && err == nil:
				t.Fatalf("Statement(%q) = %q, want an error mentioning %q", c.in, out, c.err)
			case c.err != "" && !strings.Contains(err.Error(), c.err):
				t.Fatalf("Statement(%q): error %q, want one mentioning %q", c.in, err, c.err)
			case c.err == "" && err != nil:
				t.Fatalf("Statement(%q): %v", c.in, err)
			case c.err == "" && out != c.out:
				t.Fatalf("Statement(%q) = %q, want %q", c.in, out, c.out)
			}
		})
	}
}

// HOLE: PostgreSQL lets `$` continue an identifier (`a$$x$` is one identifier), but
// isIdent has no `$`, so the check takes the second `$` for the start of a dollar quote
// and hides whatever follows up to the matching tag. Through the query endpoint this runs
// several statements (lib/pq sends argument-less queries with the simple protocol); see
// TestSandboxDollarIdentifierSmuggling in impl/kylin/sandbox_e2e_test.go. The same
// missing `$` makes `a$E'…'` look like an E” string to the check while PostgreSQL reads
// the identifier a$E followed by a standard string.
func TestStatementDollarInIdentifier(t *testing.T) {
	for _, in := range []string{
		`SELECT 1 AS a$$x$) q; DELETE FROM t; SELECT * FROM (SELECT 1 --$x$`,
		`SELECT 1 AS a$$x$; SELECT 2; --$x$`,
		`SELECT a$E'\'; SELECT 2; --'`,
	} {
		if out, err := Statement(in); err == nil {
			t.Errorf("Statement(%q) accepted %q, which PostgreSQL runs as several statements", in, out)
		}
	}
}

func FuzzStatement(f *testing.F) {
	for _, c := range statementCases {
		f.Add(c.in)
	}
	f.Add(`SELECT 1 AS a$$x$; SELECT 2; --$x$`)
	f.Add("SELECT $a$ $b$ ; $b$ $a$; /* /* */ */ --\n")
	f.Fuzz(func(t *testing.T, in string) {
		out, err := Statement(in)
		if err != nil {
			if out != "" {
				t.Fatalf("Statement(%q) returned %q with error %v", in, out, err)
			}
			return
		}
		if strings.TrimSpace(out) != out || out == "" {
			t.Fatalf("Statement(%q) = %q: not trimmed or empty", in, out)
		}
		if !strings.HasPrefix(strings.TrimSpace(in), out) {
			t.Fatalf("Statement(%q) = %q: not the start of the input", in, out)
		}
		end, err := statementEnd(out)
		if err != nil || end != len(out) {
			t.Fatalf("Statement(%q) = %q: statementEnd finds a top-level semicolon at %d (%v)", in, out, end, err)
		}
		switch w := firstWord(out); w {
		case "SELECT", "WITH", "VALUES", "TABLE", "(":
		default:
			t.Fatalf("Statement(%q) = %q: starts with %q", in, out, w)
		}
	})
}
