package strictjson_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kala-server/kala/impl/strictjson"
)

func manyKeys(n int, extra string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"k` + strings.Repeat("x", i) + `":1`)
	}
	return b.String() + extra + "}"
}

func nested(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

var accepted = []string{
	`{}`, `[]`, `1`, `-0.5e-3`, `"s"`, `null`, `true`, " \t\r\n{\"a\":1} \t\r\n",
	`{"a":{"a":1}}`,             // one key at two levels
	`[{"a":1},{"a":2},{"a":3}]`, // one key in sibling objects
	`{"a":1,"b":{"c":1},"c":2}`,
	`{"x":` + manyKeys(40, "") + `,"y":` + manyKeys(40, "") + `}`, // big siblings: the map is per object
	`[` + manyKeys(20, "") + `,{"kx":1,"k":2}]`,
	`1e400`, `123456789012345678901234567890`, // valid JSON, even if no float64 holds it
	`{"\ud83d\ude00":"\uD83D\uDE00"}`, `"\ufffd"`, "\"\xef\xbf\xbd\"",
	`"\\ud800"`,   // an escaped backslash, then text
	`"\\\\ud800"`, // two of them
	`{"a":"\u00e9","b":"é","A":1}`,
	nested(strictjson.MaxDepth),
}

var refused = []struct{ body, want string }{
	{`{"a":1,"a":2}`, `has duplicate key "a"`},
	{`{"a":1,"\u0061":2}`, `has duplicate key "a"`},
	{`{"é":1,"\u00e9":2}`, `has duplicate key "é"`},
	{`{"a":1,"b":2,"a":{}}`, `has duplicate key "a"`},
	{`{"":1,"":2}`, `has duplicate key ""`},
	{`{"x":[{},{"b":1,"b":2}]}`, `has duplicate key "b" in $.x[1]`},
	{`[[{"p":{"q":1,"q":1}}]]`, `has duplicate key "q" in $[0][0].p`},
	{`{"a b":{"c":1,"c":1}}`, `has duplicate key "c" in $["a b"]`},
	{strings.Repeat(`[`, 20) + `{"d":1,"d":1}` + strings.Repeat(`]`, 20), `has duplicate key "d" in $…[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]`},
	{manyKeys(30, `,"kxxxxx":2`), `has duplicate key "kxxxxx"`},
	{`[` + manyKeys(30, "") + `,{"k":1,"k":1}]`, `has duplicate key "k" in $[1]`},
	{`{"` + strings.Repeat("z", 100) + `":1,"` + strings.Repeat("z", 100) + `":1}`, `has duplicate key "` + strings.Repeat("z", 64) + `…"`},

	{"\"\xff\xfe\"", "is not valid UTF-8"},
	{"{\"\xc0\xaf\":1}", "is not valid UTF-8"},
	{"{\"a\":1}\xff", "is not valid UTF-8"},
	{"\"\xed\xa0\x80\"", "is not valid UTF-8"}, // a surrogate, encoded as UTF-8

	{`"\ud800"`, `has an unpaired UTF-16 surrogate escape \ud800 at byte 1`},
	{`"\udc00"`, `unpaired UTF-16 surrogate escape \udc00`},
	{`"\uDBFF\u0041"`, `unpaired UTF-16 surrogate escape \uDBFF`},
	{`"\ud800\ud800"`, `unpaired UTF-16 surrogate escape \ud800 at byte 1`},
	{`"\ude00\ud83d"`, `unpaired UTF-16 surrogate escape \ude00`},
	{`"\ud800\\udc00"`, `unpaired UTF-16 surrogate escape \ud800`},
	{`"\\\ud800"`, `unpaired UTF-16 surrogate escape \ud800 at byte 3`},
	{`{"a\ud800":1}`, `unpaired UTF-16 surrogate escape`},

	{`{} {}`, "has data after the JSON value"},
	{`{}x`, "has data after the JSON value"},
	{`1 2`, "has data after the JSON value"},
	{`{},`, "has data after the JSON value"},
	{`[]]`, "has data after the JSON value"},
	{`"a""b"`, "has data after the JSON value"},
	{"{}\x00", "has data after the JSON value"},
	{`{} "`, "has data after the JSON value"},

	{``, "is not valid JSON: it holds no value"},
	{" \n ", "is not valid JSON: it holds no value"},
	{`{`, "is not valid JSON: it ends early"},
	{`{"a":1`, "is not valid JSON: it ends early"},
	{`"abc`, "is not valid JSON"},
	{`{"a":}`, "is not valid JSON at byte"},
	{`[1,]`, "is not valid JSON at byte"},
	{`{"a" 1}`, "is not valid JSON at byte"},
	{`{1:2}`, "is not valid JSON at byte"},
	{`tru`, "is not valid JSON"},
	{`01`, "has data after the JSON value"}, // a 0, then a 1
	{`"\x"`, "is not valid JSON"},
	{`"\u12"`, "is not valid JSON"},
	{nested(strictjson.MaxDepth + 1), "is nested more than 10000 levels deep"},
}

func TestCheck(t *testing.T) {
	for _, body := range accepted {
		if err := strictjson.Check([]byte(body)); err != nil {
			t.Errorf("Check(%.80q) = %v, want nil", body, err)
		}
	}
	for _, c := range refused {
		err := strictjson.Check([]byte(c.body))
		var se *strictjson.Error
		if !errors.As(err, &se) {
			t.Errorf("Check(%.80q) = %v, want an *Error saying %q", c.body, err, c.want)
			continue
		}
		if !strings.Contains(se.Message, c.want) {
			t.Errorf("Check(%.80q) = %q, want it to say %q", c.body, se.Message, c.want)
		}
	}
}

// A body of many small objects allocates next to nothing, whatever its size: frames and
// key lists are reused level by level, and unescaped keys are not copied.
func TestCheckAllocations(t *testing.T) {
	var b strings.Builder
	b.WriteString("[")
	for i := range 1000 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"id":1,"note":"x","when":null}`)
	}
	b.WriteString("]")
	body := []byte(b.String())
	allocs := testing.AllocsPerRun(10, func() {
		if err := strictjson.Check(body); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 10 {
		t.Errorf("%.0f allocations for 1000 small objects", allocs)
	}
}

// scan counts, in valid JSON, the colons outside strings (one per object member) — an
// oracle that does not share Check's way of reading.
func scan(b []byte) (colons int) {
	in, esc := false, false
	for _, c := range b {
		switch {
		case esc:
			esc = false
		case in && c == '\\':
			esc = true
		case c == '"':
			in = !in
		case !in && c == ':':
			colons++
		}
	}
	return colons
}

// uniqueKeys counts the keys of every object in v, as encoding/json keeps them: one for
// each distinct key.
func uniqueKeys(v any) int {
	n := 0
	switch v := v.(type) {
	case map[string]any:
		n += len(v)
		for _, x := range v {
			n += uniqueKeys(x)
		}
	case []any:
		for _, x := range v {
			n += uniqueKeys(x)
		}
	}
	return n
}

// FuzzCheck: whatever Check accepts is valid UTF-8 and valid JSON that encoding/json reads
// with no key lost. Where no \u escape can be involved, the converse holds too: Check
// accepts exactly the valid UTF-8, valid JSON without repeated keys.
func FuzzCheck(f *testing.F) {
	for _, s := range accepted {
		if len(s) < 1000 {
			f.Add([]byte(s))
		}
	}
	for _, c := range refused {
		if len(c.body) < 1000 {
			f.Add([]byte(c.body))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := strictjson.Check(b)
		var se *strictjson.Error
		if err != nil && !errors.As(err, &se) {
			t.Fatalf("Check(%q) = %T %v, want *Error", b, err, err)
		}
		valid := utf8.Valid(b) && json.Valid(b)
		unique := false
		if valid {
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.UseNumber()
			var v any
			if derr := dec.Decode(&v); derr != nil {
				t.Fatalf("json.Valid(%q) but Decode: %v", b, derr)
			}
			unique = scan(b) == uniqueKeys(v)
		}
		if err == nil && !(valid && unique) {
			t.Fatalf("Check(%q) accepted it; utf8+json valid %v, keys unique %v", b, valid, unique)
		}
		if !bytes.Contains(b, []byte(`\u`)) && (err == nil) != (valid && unique) {
			t.Fatalf("Check(%q) = %v; want nil=%v", b, err, valid && unique)
		}
	})
}
