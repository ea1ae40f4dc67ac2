package data

import (
	"strings"

	"github.com/lib/pq"
)

// In SQL a project is a schema: `SELECT … FROM <project>.<table>` reads the project's
// table, the name in any case, quoted or not (names are unique in any case), as Kylin's
// clients write it (kylinpy's SQLAlchemy dialect writes `"MyProj".t.region`).
//
// The project's PostgreSQL schema itself keeps an opaque name (kala_p_<id>), and
// qualifyProject puts it where the statement names the project as a schema. A schema
// named after the project would do the same with no rewriting, but PostgreSQL shows every
// schema's name to every role (pg_namespace; `oid::regnamespace` for any oid), so every
// query user could list every project's name, when a project the caller may not see must
// be as absent as one that does not exist (SPEC §7). This way another project's name
// means nothing to PostgreSQL, and `SELECT * FROM b.t` fails the same whether a project b
// exists or not.
//
// Only names change: the statement has already passed Statement, and the result is the
// same statement with some identifiers replaced by the quoted name of the caller's own
// schema, which the session's role may read anyway. A name taken for a schema where the
// statement meant something else fails with PostgreSQL's own error; it cannot reach
// anything the project's role cannot.

// qualifyProject returns stmt with the project's name, where it stands as a schema,
// replaced by schema. A name stands as a schema where PostgreSQL's grammar reads one:
// project.table where a table goes (after FROM, JOIN, a comma in a FROM list, TABLE, ONLY,
// and as a type after :: or AS), project.table.column and project.table.* anywhere, and
// with the project also as the catalog (project.project.table, as table_CAT and
// table_SCHEM read together). project.x elsewhere is a table or alias and its column, and
// stays. Names inside strings and comments stay.
func qualifyProject(stmt, project, schema string) string {
	if !strings.Contains(strings.ToLower(stmt), strings.ToLower(project)) {
		return stmt
	}
	toks, err := lexSQL(stmt)
	if err != nil {
		return stmt // Statement accepted it, so this does not happen; PostgreSQL will say
	}
	named := func(t token) bool {
		return (t.kind == tokName || t.kind == tokQuoted) && strings.EqualFold(t.word, project)
	}
	var spans [][2]int // byte ranges of stmt to replace, in order

	// One level per parenthesis: whether it holds a query, is inside a FROM clause, and
	// whether a table comes next.
	type level struct{ query, from, table bool }
	levels := []level{{query: true}}
	prev := "" // the previous token's word
	for k := 0; k < len(toks); k++ {
		t := toks[k]
		l := &levels[len(levels)-1]
		dotted := k+1 < len(toks) && toks[k+1].word == "."
		switch {
		case t.kind == tokPunct && t.word == "(":
			next := level{}
			if l.table { // a parenthesised join, or a subquery (its SELECT resets this)
				next = level{from: true, table: true}
			}
			l.table = false
			levels = append(levels, next)
		case t.kind == tokPunct && t.word == ")":
			if len(levels) > 1 {
				levels = levels[:len(levels)-1]
			}
		case t.kind == tokPunct && t.word == ",":
			l.table = l.from
		case t.kind == tokName && !dotted && clauseWord(t.word):
			switch t.word {
			case "select", "values", "with", "delete": // DELETE FROM reads as a query's FROM here
				*l = level{query: true}
			case "table":
				*l = level{query: true, table: true}
			case "from":
				// not EXTRACT(… FROM …), SUBSTRING, TRIM nor IS DISTINCT FROM
				if l.query && prev != "distinct" {
					l.from, l.table = true, true
				}
			case "join":
				l.table = l.from
			case "only", "lateral":
			case "as":
				l.table = true // CAST(x AS type); an alias is one name, never dotted
			case "into", "update": // INSERT INTO, SELECT INTO, UPDATE: refused, but by the right message
				l.table = true
			case "on", "using":
				l.table = false
			default: // the FROM clause ends
				l.from, l.table = false, false
			}
		case t.kind == tokName || t.kind == tokQuoted:
			// a dotted name: its parts, and whether it ends in .*
			typed := k >= 2 && toks[k-1].word == ":" && toks[k-2].word == ":" // after ::
			parts := []int{k}
			star := false
			for k+2 < len(toks) && toks[k+1].word == "." {
				n := toks[k+2]
				if n.kind == tokPunct && n.word == "*" {
					star = true
					k += 2
					break
				}
				if n.kind != tokName && n.kind != tokQuoted {
					break
				}
				parts = append(parts, k+2)
				k += 2
			}
			n := len(parts)
			if star {
				n++
			}
			schemaAt := [2]int{toks[parts[0]].start, toks[parts[0]].end}
			both := len(parts) >= 2 && named(toks[parts[0]]) && named(toks[parts[1]])
			catalogAt := schemaAt // the project as catalog and schema: both become the schema
			if both {
				catalogAt[1] = toks[parts[1]].end
			}
			switch {
			case (l.table || typed) && !star: // schema.table, or catalog.schema.table
				if n == 2 && named(toks[parts[0]]) {
					spans = append(spans, schemaAt)
				} else if n == 3 && both {
					spans = append(spans, catalogAt)
				}
			case n >= 4 && both: // catalog.schema.table.column, or .*
				spans = append(spans, catalogAt)
			case n >= 3 && named(toks[parts[0]]): // schema.table.column, or .*
				spans = append(spans, schemaAt)
			}
			l.table = false
			prev = toks[k].word
			continue
		default:
			l.table = false
		}
		prev = t.word
	}
	if len(spans) == 0 {
		return stmt
	}
	quoted := pq.QuoteIdentifier(schema)
	var b strings.Builder
	done := 0
	for _, s := range spans {
		b.WriteString(stmt[done:s[0]])
		b.WriteString(quoted)
		done = s[1]
	}
	b.WriteString(stmt[done:])
	return b.String()
}

// clauseWord reports the keywords qualifyProject follows the clauses of a query by.
func clauseWord(w string) bool {
	switch w {
	case "select", "values", "with", "delete", "table", "from", "join", "only", "lateral", "as", "into", "update", "on", "using",
		"where", "group", "having", "window", "order", "limit", "offset", "fetch", "for", "union", "intersect", "except", "returning":
		return true
	}
	return false
}

// Token kinds.
const (
	tokName   = iota // an unquoted identifier or keyword; word is in lower case
	tokQuoted        // a quoted identifier; word is its name
	tokNumber
	tokString // a string constant of any kind
	tokPunct  // one byte of anything else; word is that byte
)

type token struct {
	kind       int
	start, end int
	word       string
}

// lexSQL splits a statement into tokens, with the quoting and comments of Statement's
// scanner (comments and white space are dropped).
func lexSQL(s string) ([]token, error) {
	var toks []token
	next := 0 // bytes before next belong to a token already read
	_, err := scan(s, func(i int) bool {
		if i < next {
			return false
		}
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i + 1
			for j < len(s) && (isIdent(s[j]) || s[j] == '.' || (s[j] == '+' || s[j] == '-') && (s[j-1] == 'e' || s[j-1] == 'E')) {
				j++
			}
			toks = append(toks, token{kind: tokNumber, start: i, end: j, word: s[i:j]})
			next = j
		case isIdent(c) && c != '$':
			j := i + 1
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			toks = append(toks, token{kind: tokName, start: i, end: j, word: strings.ToLower(s[i:j])})
			next = j
		default:
			toks = append(toks, token{kind: tokPunct, start: i, end: i + 1, word: s[i : i+1]})
		}
		return false
	}, func(kind byte, start, end int) {
		switch kind {
		case '"':
			toks = append(toks, token{kind: tokQuoted, start: start, end: end, word: strings.ReplaceAll(s[start+1:end-1], `""`, `"`)})
		case '\'', '$':
			toks = append(toks, token{kind: tokString, start: start, end: end})
		}
	})
	return toks, err
}
