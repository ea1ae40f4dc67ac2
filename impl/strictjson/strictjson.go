// Package strictjson checks that a request body is JSON that every reader reads the same
// way. encoding/json (and so kin-openapi and the generated handlers) quietly takes the
// last of repeated keys, replaces invalid UTF-8 and unpaired surrogate escapes by U+FFFD,
// and a json.Decoder stops after the first value; a check or filter that read the body
// differently could be bypassed. Check refuses all of these before anything decodes.
//
// json.Decoder.Token would do the walk, but costs about 38 allocations per small object
// (it decodes every scalar through reflection): a 16 MiB body would make hundreds of MiB
// of garbage. So the syntax is checked by json.Valid, which allocates nothing, and keys
// are found by a scan that relies on that syntax being valid; only escaped keys allocate.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is encoding/json's nesting limit, which json.Valid applies.
const MaxDepth = 10000

// Error says what is wrong with a body, in words that follow the field name "body".
type Error struct {
	Message string
}

func (e *Error) Error() string { return e.Message }

// Check returns nil if body is exactly one JSON value, in valid UTF-8, with nothing but
// whitespace around it, with no object that repeats a key (keys compared after
// unescaping, at any depth), no escape of half a UTF-16 surrogate pair, and at most
// MaxDepth levels deep; otherwise an *Error naming the first problem.
func Check(body []byte) error {
	if !utf8.Valid(body) {
		return &Error{Message: "is not valid UTF-8"}
	}
	if at := unpairedSurrogate(body); at >= 0 {
		return &Error{Message: fmt.Sprintf("has an unpaired UTF-16 surrogate escape %s at byte %d", body[at:at+6], at)}
	}
	if !json.Valid(body) {
		return syntax(body)
	}
	var s scanner
	return s.duplicateKey(body)
}

// syntax says why json.Valid refused body; it only runs on bad bodies.
func syntax(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	var v json.RawMessage
	err := dec.Decode(&v)
	var se *json.SyntaxError
	switch {
	case err == nil:
		return &Error{Message: "has data after the JSON value"}
	case err == io.EOF:
		return &Error{Message: "is not valid JSON: it holds no value"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Message: "is not valid JSON: it ends early"}
	case errors.As(err, &se) && strings.HasSuffix(se.Error(), "exceeded max depth"):
		return &Error{Message: fmt.Sprintf("is nested more than %d levels deep", MaxDepth)}
	case errors.As(err, &se):
		// the decoder's messages quote at most one character of the body
		return &Error{Message: fmt.Sprintf("is not valid JSON at byte %d: %s", se.Offset, se.Error())}
	}
	return &Error{Message: "is not valid JSON"}
}

// frame is one open object or array. Frames are reused level by level, so a body of
// many small objects allocates nothing for them.
type frame struct {
	object  bool
	wantKey bool
	index   int                 // array: the element being read
	key     []byte              // object: the member being read (unescaped)
	keys    [][]byte            // object: keys so far (unescaped)
	set     map[string]struct{} // object: the same, once there are many
}

// linearKeys is how many keys an object holds before lookups go through a map.
const linearKeys = 16

func (f *frame) addKey(k []byte) (dup bool) {
	if f.set != nil {
		if _, ok := f.set[string(k)]; ok {
			return true
		}
		f.set[string(k)] = struct{}{}
		return false
	}
	for _, seen := range f.keys {
		if bytes.Equal(seen, k) {
			return true
		}
	}
	f.keys = append(f.keys, k)
	if len(f.keys) > linearKeys {
		f.set = make(map[string]struct{}, 2*len(f.keys))
		for _, s := range f.keys {
			f.set[string(s)] = struct{}{}
		}
	}
	return false
}

type scanner struct{ stack []frame }

func (s *scanner) push(object bool) {
	n := len(s.stack)
	if n < cap(s.stack) {
		s.stack = s.stack[:n+1]
	} else {
		s.stack = append(s.stack, frame{})
	}
	f := &s.stack[n]
	f.object, f.wantKey, f.index, f.key = object, object, 0, nil
	f.keys = f.keys[:0]
	if f.set != nil {
		f.keys, f.set = nil, nil // a big object's map and keys are not kept for the next one
	}
}

// duplicateKey finds the first repeated key in body, which must be valid JSON: the scan
// only follows strings and brackets, and takes a string right after '{' or ',' inside an
// object for a key.
func (s *scanner) duplicateKey(body []byte) error {
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '"':
			end := stringEnd(body, i)
			if n := len(s.stack); n > 0 && s.stack[n-1].wantKey {
				f := &s.stack[n-1]
				k, err := unquote(body[i : end+1])
				if err != nil {
					return err
				}
				if f.addKey(k) {
					return &Error{Message: "has duplicate key " + quote(k) + s.where()}
				}
				f.key, f.wantKey = k, false
			}
			i = end
		case '{':
			s.push(true)
		case '[':
			s.push(false)
		case '}', ']':
			s.stack = s.stack[:len(s.stack)-1]
		case ',':
			if f := &s.stack[len(s.stack)-1]; f.object {
				f.wantKey = true
			} else {
				f.index++
			}
		}
	}
	return nil
}

// stringEnd is the index of the quote that closes the string opening at body[start].
func stringEnd(body []byte, start int) int {
	for i := start + 1; ; {
		j := bytes.IndexAny(body[i:], `"\`)
		if body[i+j] == '"' {
			return i + j
		}
		i += j + 2 // a backslash and the byte it escapes
	}
}

// unquote is a quoted key's text: the raw bytes when nothing is escaped, as most keys are.
func unquote(q []byte) ([]byte, error) {
	inner := q[1 : len(q)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return inner, nil
	}
	var k string
	if err := json.Unmarshal(q, &k); err != nil {
		return nil, &Error{Message: "is not valid JSON"}
	}
	return []byte(k), nil
}

// where is the JSONPath of the object being read, unless it is the top one; past
// maxPath levels only the innermost are named.
func (s *scanner) where() string {
	outer := s.stack[:len(s.stack)-1]
	if len(outer) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(" in $")
	if len(outer) > maxPath {
		b.WriteString("…")
		outer = outer[len(outer)-maxPath:]
	}
	for _, f := range outer {
		switch {
		case !f.object:
			b.WriteString("[" + strconv.Itoa(f.index) + "]")
		case isName(f.key):
			b.WriteString("." + string(f.key))
		default:
			b.WriteString("[" + quote(f.key) + "]")
		}
	}
	return b.String()
}

// maxPath bounds how many levels of a path an error names.
const maxPath = 16

func isName(s []byte) bool {
	if len(s) == 0 || len(s) > maxQuoted {
		return false
	}
	for i, c := range s {
		if c != '_' && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// maxQuoted bounds how much of a key an error repeats.
const maxQuoted = 64

func quote(k []byte) string {
	s := string(k)
	if utf8.RuneCountInString(s) > maxQuoted {
		s = string([]rune(s)[:maxQuoted]) + "…"
	}
	return strconv.Quote(s)
}

// unpairedSurrogate returns the offset of the first \u escape of a UTF-16 surrogate that
// is not part of a high-low pair, or -1. Outside strings a backslash is a syntax error
// that json.Valid finds, so escapes are found without tracking strings.
func unpairedSurrogate(b []byte) int {
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '\\')
		if j < 0 {
			return -1
		}
		i += j
		r, ok := escapedUnit(b, i)
		switch {
		case !ok:
			i += 2 // \" \\ \n …: skip the escaped byte, so \\u is not read as \u
			continue
		case !utf16.IsSurrogate(r):
		case r < 0xdc00: // a high half: a low half must follow at once
			if low, ok := escapedUnit(b, i+6); !ok || low < 0xdc00 || low > 0xdfff {
				return i
			}
			i += 6
		default: // a low half with no high half before it
			return i
		}
		i += 6
	}
	return -1
}

// escapedUnit reads a \uXXXX escape at b[i:].
func escapedUnit(b []byte, i int) (rune, bool) {
	if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range b[i+2 : i+6] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
