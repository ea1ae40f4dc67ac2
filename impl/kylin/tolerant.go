package kylin

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// ReadScalars rewrites a request body's scalars the way Kylin's JSON mapper (Jackson, with
// Kylin's deserializers) reads them, guided by the operation's schema, so that the
// contract's validation and the generated types see what Kylin would have seen:
//   - a string where the schema has a boolean: "true", "True", "TRUE" and the same
//     spellings of false, surrounding spaces ignored (Jackson's and Kylin's
//     BooleanJsonDeserializer's spellings together);
//   - a string where it has an integer: an optional sign and decimal digits, surrounding
//     spaces ignored ("500", " -1 ", "+5"); where it has a number, a JSON number.
//
// Anything else is left for validation to refuse (Jackson would also read a number as a
// string; Kala does not: a number where a name or a password belongs is a mistake). It reports whether it changed anything;
// data that is not JSON is returned as is, for validation to report.
func ReadScalars(schema *openapi3.Schema, data []byte) ([]byte, bool) {
	if schema == nil || len(data) == 0 {
		return data, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // numbers are written back digit for digit
	var v any
	if err := dec.Decode(&v); err != nil {
		return data, false
	}
	v, changed := readScalar(schema, v)
	if !changed {
		return data, false
	}
	out, err := json.Marshal(v)
	if err != nil {
		return data, false
	}
	return out, true
}

// readScalar returns v as schema s reads it, and whether that differs from v.
func readScalar(s *openapi3.Schema, v any) (any, bool) {
	if s == nil {
		return v, false
	}
	switch x := v.(type) {
	case map[string]any:
		changed := false
		for k, val := range x {
			var sub *openapi3.Schema
			if p := s.Properties[k]; p != nil {
				sub = p.Value
			} else if ap := s.AdditionalProperties.Schema; ap != nil {
				sub = ap.Value
			}
			if nv, ok := readScalar(sub, val); ok {
				x[k] = nv
				changed = true
			}
		}
		return x, changed
	case []any:
		if s.Items == nil {
			return x, false
		}
		changed := false
		for i, val := range x {
			if nv, ok := readScalar(s.Items.Value, val); ok {
				x[i] = nv
				changed = true
			}
		}
		return x, changed
	case string:
		t := strings.TrimSpace(x)
		switch {
		case s.Type.Is(openapi3.TypeBoolean):
			switch t {
			case "true", "True", "TRUE":
				return true, true
			case "false", "False", "FALSE":
				return false, true
			}
		case s.Type.Is(openapi3.TypeInteger):
			if n, err := strconv.ParseInt(t, 10, 64); err == nil {
				return json.Number(strconv.FormatInt(n, 10)), true
			}
		case s.Type.Is(openapi3.TypeNumber):
			// JSON's own number syntax only: no "NaN", "Inf" or hex floats
			if n := json.Number(strings.TrimPrefix(t, "+")); t != "" && json.Valid([]byte(n)) && isNumber(string(n)) {
				return n, true
			}
		}
	}
	return v, false
}

// isNumber reports whether s, valid JSON, is a number rather than another JSON value.
func isNumber(s string) bool {
	return s != "" && (s[0] == '-' || s[0] >= '0' && s[0] <= '9')
}
