package data

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/kala-server/kala/impl/errs"
)

// Param is the value of one `?` placeholder of a statement (JDBC's PreparedStatement),
// bound as a typed parameter: never spliced into the SQL.
type Param struct {
	// Type is the PostgreSQL type the value is read as ("int4", "text", …); "" leaves
	// the type to PostgreSQL (a NULL of no stated type).
	Type  string
	Value *string // nil: NULL
}

// paramTypes are the types a Param may name: the fixed words spliced after "::".
var paramTypes = map[string]bool{"": true, "text": true, "int2": true, "int4": true, "int8": true,
	"float4": true, "float8": true, "numeric": true, "bool": true, "date": true, "time": true, "timestamp": true}

// nullParams is a NULL of no stated type for each `?` placeholder of stmt.
func nullParams(stmt string) ([]Param, error) {
	var out []Param
	_, err := scanCode(stmt, func(i int) bool {
		if stmt[i] == '?' {
			out = append(out, Param{})
		}
		return false
	})
	return out, err
}

// bindPlaceholders rewrites each `?` of stmt outside quotes and comments as a numbered
// parameter, from $first on, cast to its Param's type, and returns the values to send in
// that order. As in JDBC, every such `?` is a placeholder (PostgreSQL's jsonb operators
// `?`, `?|` and `?&` cannot be used in a statement with parameters). A count that differs
// from len(params) is the caller's mistake.
func bindPlaceholders(stmt string, params []Param, first int) (string, []any, error) {
	var at []int
	if _, err := scanCode(stmt, func(i int) bool {
		if stmt[i] == '?' {
			at = append(at, i)
		}
		return false
	}); err != nil {
		return "", nil, err
	}
	if len(at) != len(params) {
		return "", nil, errs.Field("params", fmt.Sprintf("has %d values for the %d ? placeholders of the statement", len(params), len(at)))
	}
	var b strings.Builder
	args := make([]any, len(params))
	done := 0
	for k, i := range at {
		p := params[k]
		if !paramTypes[p.Type] {
			return "", nil, errs.E(errs.Internal, "parameter type %q", p.Type)
		}
		b.WriteString(stmt[done:i])
		b.WriteString("($" + strconv.Itoa(first+k))
		if p.Type != "" {
			b.WriteString("::" + p.Type)
		}
		b.WriteString(")")
		done = i + 1
		if p.Value != nil {
			args[k] = *p.Value
		}
	}
	b.WriteString(stmt[done:])
	return b.String(), args, nil
}
