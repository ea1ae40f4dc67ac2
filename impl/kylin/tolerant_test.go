package kylin

import (
	"encoding/json"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// tolerantSchema is a body schema with each scalar type, a nested object, an array of
// objects and a map.
func tolerantSchema(t testing.TB) *openapi3.Schema {
	t.Helper()
	var s openapi3.Schema
	err := json.Unmarshal([]byte(`{"type":"object","properties":{
		"b":{"type":"boolean"}, "i":{"type":"integer"}, "n":{"type":"number"}, "s":{"type":"string"},
		"o":{"type":"object","properties":{"b":{"type":"boolean"}}},
		"a":{"type":"array","items":{"type":"object","properties":{"i":{"type":"integer"}}}},
		"m":{"type":"object","additionalProperties":{"type":"integer"}}}}`), &s)
	if err != nil {
		t.Fatal(err)
	}
	return &s
}

func TestReadScalars(t *testing.T) {
	s := tolerantSchema(t)
	cases := []struct{ in, want string }{
		// read as Kylin reads them
		{`{"b":"true"}`, `{"b":true}`},
		{`{"b":"FALSE"}`, `{"b":false}`},
		{`{"b":" True "}`, `{"b":true}`},
		{`{"i":"500"}`, `{"i":500}`},
		{`{"i":" -7 "}`, `{"i":-7}`},
		{`{"i":"+5"}`, `{"i":5}`},
		{`{"n":"2.5e3"}`, `{"n":2.5e3}`},
		{`{"o":{"b":"false"}}`, `{"o":{"b":false}}`},
		{`{"a":[{"i":"1"},{"i":2}]}`, `{"a":[{"i":1},{"i":2}]}`},
		{`{"m":{"x":"3"}}`, `{"m":{"x":3}}`},
		{`{"i":"1","s":"1","other":"1"}`, `{"i":1,"s":"1","other":"1"}`},
		// left for validation to refuse
		{`{"b":"yes"}`, ``},
		{`{"b":"tRUE"}`, ``},
		{`{"b":""}`, ``},
		{`{"i":"2.5"}`, ``},
		{`{"i":"ten"}`, ``},
		{`{"i":"99999999999999999999"}`, ``},
		{`{"n":"NaN"}`, ``},
		{`{"n":"0x10"}`, ``},
		{`{"n":"[1]"}`, ``},
		{`{"s":5}`, ``},
		{`{"b":1}`, ``},
		{`not json`, ``},
		{`{"i":12345678901234567890123}`, ``}, // untouched: no float rounding
	}
	for _, c := range cases {
		out, changed := ReadScalars(s, []byte(c.in))
		if c.want == "" {
			if changed || string(out) != c.in {
				t.Errorf("%s: changed to %s", c.in, out)
			}
			continue
		}
		var got, want any
		if err := json.Unmarshal(out, &got); err != nil || !changed {
			t.Errorf("%s: %s (changed %v, %v)", c.in, out, changed, err)
			continue
		}
		_ = json.Unmarshal([]byte(c.want), &want)
		if g, w := mustMarshal(got), mustMarshal(want); g != w {
			t.Errorf("%s: got %s, want %s", c.in, g, w)
		}
	}
}

func mustMarshal(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Whatever the body, ReadScalars does not panic, and what it rewrites is JSON.
func FuzzReadScalars(f *testing.F) {
	s := tolerantSchema(f)
	for _, seed := range []string{`{"b":"true","i":"5","a":[{"i":"-1"}],"m":{"k":"2"}}`, `{"n":"1e400"}`, `[]`, `"x"`, `{`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, changed := ReadScalars(s, data)
		if changed && !json.Valid(out) {
			t.Fatalf("%q became %q, not JSON", data, out)
		}
		if !changed && string(out) != string(data) {
			t.Fatalf("unchanged but different: %q -> %q", data, out)
		}
	})
}
