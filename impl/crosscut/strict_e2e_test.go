package crosscut_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/kala-server/kala/impl"
	"github.com/kala-server/kala/impl/testkit"
)

// stKylinErr checks a Kylin error envelope of status and code whose msg contains msg.
func stKylinErr(t *testing.T, r *testkit.Resp, status int, code, msg string) {
	t.Helper()
	out := testkit.KylinExpectErr(t, r, status, code)
	if !strings.Contains(out.Msg, msg) {
		t.Errorf("msg %q does not say %q", out.Msg, msg)
	}
}

// stSchemaValid checks body against a schema of the contract's components. Answers to
// requests that match no operation (405) are not checked by the testkit's transport, so
// the tests check their shape here.
func stSchemaValid(t *testing.T, e *testkit.Env, schema string, body []byte) {
	t.Helper()
	ref := e.Server.Contract.Doc.Components.Schemas[schema]
	if ref == nil || ref.Value == nil {
		t.Fatalf("no schema %s in the contract", schema)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, body)
	}
	if err := ref.Value.VisitJSON(v); err != nil {
		t.Errorf("body does not match %s: %v\n%s", schema, err, body)
	}
}

func stCount(t *testing.T, e *testkit.Env, query string, args ...any) int {
	t.Helper()
	var n int
	if err := e.DB.Get(&n, query, args...); err != nil {
		t.Fatal(err)
	}
	return n
}

// stNoToken asserts an answer carries no access token.
func stNoToken(t *testing.T, r *testkit.Resp) {
	t.Helper()
	if strings.Contains(string(r.Body), "access_token") || strings.Contains(string(r.Body), "eyJ") {
		t.Errorf("the answer carries a token: %s", r.Body)
	}
}

var (
	stKylinAdmin = testkit.Basic("ADMIN", testkit.AdminPassword)
	stKylinJSON  = testkit.Header("Accept", testkit.KylinJSON)
)

// A repeated key is refused at any depth, compared after unescaping, on both faces: with
// last-wins decoding a filter that read the first value would have been bypassed.
func TestStrictDuplicateKeys(t *testing.T) {
	e := testkit.New(t)
	pw := testkit.AdminPassword

	t.Run("control: the plain login works", func(t *testing.T) {
		e.Do("POST", "/api/auth/access-token", testkit.Raw(`{"username":"ADMIN","password":"`+pw+`"}`)).Expect(t, 200)
	})
	t.Run("kala login with two passwords", func(t *testing.T) {
		for _, body := range []string{
			`{"username":"ADMIN","password":"wrong","password":"` + pw + `"}`,
			`{"username":"ADMIN","password":"wrong","p\u0061ssword":"` + pw + `"}`,
			`{"username":"ADMIN","password":"` + pw + `","password":"` + pw + `"}`,
		} {
			r := e.Do("POST", "/api/auth/access-token", testkit.Raw(body))
			testkit.ExpectProblem(t, r, 400, "body", `has duplicate key "password"`)
			stNoToken(t, r)
		}
	})
	t.Run("kala nested duplicate names its path", func(t *testing.T) {
		admin := testkit.Bearer(e.AdminToken())
		ds := testkit.DatastoreWithRows(t, e, admin, "strict_dups")
		r := e.Do("POST", "/api/datastores/"+ds+"/tables/t/rows", testkit.Raw(`[{"id":3},{"id":4,"note":"a","id":5}]`), admin)
		testkit.ExpectProblem(t, r, 400, "body", `has duplicate key "id" in $[1]`)
		if n := testkit.RowCount(t, e, admin, ds, "t"); n != 2 {
			t.Errorf("the table has %d rows, want the 2 it had", n)
		}
	})
	t.Run("kylin user created with two authority lists", func(t *testing.T) {
		r := e.Do("POST", "/kylin/api/user", testkit.Raw(`{"username":"st_dup","password":"Welcome#2026",`+
			`"authorities":["ALL_USERS"],"authorities":["ALL_USERS","ROLE_ADMIN"]}`), stKylinAdmin, stKylinJSON)
		stKylinErr(t, r, 400, "KE-010000003", `body: has duplicate key "authorities"`)
		if n := stCount(t, e, `SELECT count(*) FROM users WHERE username_key = 'st_dup'`); n != 0 {
			t.Errorf("the user was created")
		}
	})
}

// Bytes that are not UTF-8 are refused, not replaced by U+FFFD (which would make
// different byte strings one name); so are escapes of half a surrogate pair, which
// decode to U+FFFD the same way.
func TestStrictInvalidUTF8(t *testing.T) {
	e := testkit.New(t)
	tok := testkit.Bearer(e.AdminToken())
	users := func() int { return stCount(t, e, `SELECT count(*) FROM users`) }
	before := users()

	for name, body := range map[string]string{
		"raw bytes ff fe": "{\"username\":\"st_\xff\xfe\",\"password\":\"Welcome#2026\"}",
		"overlong slash":  "{\"username\":\"st_\xc0\xaf\",\"password\":\"Welcome#2026\"}",
		"in a key":        "{\"username\":\"st_ok\",\"password\":\"Welcome#2026\",\"\xff\":1}",
	} {
		t.Run("kala "+name, func(t *testing.T) {
			testkit.ExpectProblem(t, e.Do("POST", "/api/users", testkit.Raw(body), tok), 400, "body", "is not valid UTF-8")
		})
		t.Run("kylin "+name, func(t *testing.T) {
			stKylinErr(t, e.Do("POST", "/kylin/api/user", testkit.Raw(body), stKylinAdmin), 400, "KE-010000003", "body: is not valid UTF-8")
		})
	}
	for _, esc := range []string{`\ud800`, `\udfff`, `\udbff\u0041`, `\ud800\ud800`} {
		body := `{"username":"st_` + esc + `","password":"Welcome#2026"}`
		testkit.ExpectProblem(t, e.Do("POST", "/api/users", testkit.Raw(body), tok), 400, "body", "unpaired UTF-16 surrogate")
		stKylinErr(t, e.Do("POST", "/kylin/api/user", testkit.Raw(body), stKylinAdmin), 400, "KE-010000003", "unpaired UTF-16 surrogate")
	}
	if n := users(); n != before {
		t.Fatalf("%d users were created", n-before)
	}
	t.Run("control: a valid pair and other non-ASCII names are kept as sent", func(t *testing.T) {
		for _, name := range []string{`st_\ud83d\ude00`, "st_jösé", `st_\u00e9`} {
			e.Do("POST", "/api/users", testkit.Raw(`{"username":"`+name+`","password":"Welcome#2026"}`), tok).Expect(t, 201)
		}
		for _, want := range []string{"st_😀", "st_jösé", "st_é"} {
			if stCount(t, e, `SELECT count(*) FROM users WHERE username = $1`, want) != 1 {
				t.Errorf("user %q was not stored as sent", want)
			}
		}
	})
}

// A body is one JSON value: anything but whitespace after it is refused.
func TestStrictTrailingData(t *testing.T) {
	e := testkit.New(t)
	login := `{"username":"ADMIN","password":"` + testkit.AdminPassword + `"}`
	for _, tail := range []string{`x`, `{}`, login, `,`, "\x00", `"`, `]`} {
		r := e.Do("POST", "/api/auth/access-token", testkit.Raw(login+" "+tail))
		testkit.ExpectProblem(t, r, 400, "body", "has data after the JSON value")
		stNoToken(t, r)
	}
	e.Do("POST", "/api/auth/access-token", testkit.Raw(" \r\n\t"+login+" \r\n\t")).Expect(t, 200)

	r := e.Do("POST", "/kylin/api/projects", testkit.Raw(`{"name":"st_one"} {"name":"st_two"}`), stKylinAdmin, stKylinJSON)
	stKylinErr(t, r, 400, "KE-010000003", "body: has data after the JSON value")
	if n := stCount(t, e, `SELECT count(*) FROM projects`); n != 0 {
		t.Errorf("%d projects were created", n)
	}
	t.Run("bad JSON still says where", func(t *testing.T) {
		testkit.ExpectProblem(t, e.Do("POST", "/api/auth/access-token", testkit.Raw(`{"username":"ADMIN",}`)), 400, "body", "is not valid JSON")
		testkit.ExpectProblem(t, e.Do("POST", "/api/auth/access-token", testkit.Raw(`{"username":"ADMIN"`)), 400, "body", "is not valid JSON")
	})
}

// A body in a media type the operation does not take is 415, naming what it takes.
func TestStrictUnsupportedMediaType(t *testing.T) {
	e := testkit.New(t)
	login := testkit.Raw(`{"username":"ADMIN","password":"` + testkit.AdminPassword + `"}`)
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "application/xml", "text/json"} {
		r := e.Do("POST", "/api/auth/access-token", login, testkit.Header("Content-Type", ct))
		p := testkit.ExpectProblem(t, r, 415, "Content-Type", fmt.Sprintf("must be application/json, not %q", ct))
		if p.Type != "https://kala.dev/problems/unsupported-media-type" || p.Title != "Unsupported media type" {
			t.Errorf("415 problem type/title: %s", r.Body)
		}
		stNoToken(t, r)
	}
	// no Content-Type at all
	r := e.Do("POST", "/api/auth/access-token", login, func(r *http.Request) { r.Header.Del("Content-Type") })
	testkit.ExpectProblem(t, r, 415, "Content-Type", "must be application/json")

	for _, ct := range []string{"application/json;charset=UTF-8", "Application/JSON", "application/json; charset=utf-8"} {
		e.Do("POST", "/api/auth/access-token", login, testkit.Header("Content-Type", ct)).Expect(t, 200)
	}

	r = e.Do("POST", "/kylin/api/projects", testkit.Raw(`{"name":"st_text"}`), stKylinAdmin, stKylinJSON, testkit.Header("Content-Type", "text/plain"))
	stKylinErr(t, r, 415, "KE-010000003", `Content-Type: must be application/json, not "text/plain"`)
	if ct := r.Header.Get("Content-Type"); ct != testkit.KylinJSON+";charset=UTF-8" {
		t.Errorf("Kylin 415 Content-Type %q", ct)
	}
	if n := stCount(t, e, `SELECT count(*) FROM projects`); n != 0 {
		t.Errorf("%d projects were created", n)
	}
}

// A method the path does not have is 405 with Allow listing the ones it has, in each
// face's error shape; CORS preflights keep answering with the same list.
func TestStrictMethodNotAllowed(t *testing.T) {
	e := testkit.NewCORS(t)
	tok := testkit.Bearer(e.AdminToken())
	cases := []struct{ method, path, allow string }{
		{"DELETE", "/api/auth/me", "GET"},
		{"POST", "/api/auth/me", "GET"},
		{"PUT", "/api/users", "GET, POST"},
		{"GET", "/api/auth/access-token", "POST"},
		{"OPTIONS", "/api/users/0196a1c0-0000-7000-8000-000000000010", "GET, PATCH, DELETE"},
		{"HEAD", "/api/permissions", "GET"},
		{"PATCH", "/kylin/api/user", "GET, POST, PUT, DELETE"},
		{"GET", "/kylin/api/user/password", "PUT"},
		{"POST", "/kylin/api/projects/sales", "DELETE"},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			r := e.Do(c.method, c.path, nil, tok).Expect(t, 405)
			if got := r.Header.Values("Allow"); len(got) != 1 || got[0] != c.allow {
				t.Errorf("Allow %q, want %q", got, c.allow)
			}
			if c.method == "HEAD" {
				return // no body to check
			}
			if strings.HasPrefix(c.path, "/kylin/") {
				testkit.KylinExpectErr(t, r, 405, "KE-010000405")
				stSchemaValid(t, e, "KylinError", r.Body)
				return
			}
			p := testkit.ExpectProblem(t, r, 405, "", "")
			if p.Type != "https://kala.dev/problems/method-not-allowed" || !strings.Contains(p.Detail, c.method) {
				t.Errorf("405 problem: %s", r.Body)
			}
			stSchemaValid(t, e, "Problem", r.Body)
			if len(p.Errors) != 0 {
				t.Errorf("405 has field errors: %s", r.Body)
			}
		})
	}
	t.Run("preflight lists the same methods", func(t *testing.T) {
		for _, c := range cases {
			res := testkit.Preflight(t, e, c.path, testkit.AppOrigin, "PUT")
			if got := res.Header.Get("Access-Control-Allow-Methods"); got != c.allow {
				t.Errorf("%s: Access-Control-Allow-Methods %q, want %q", c.path, got, c.allow)
			}
		}
	})
	t.Run("a path the contract lacks is 404 without Allow", func(t *testing.T) {
		r := e.Do("DELETE", "/api/nosuch", nil, tok).Expect(t, 404)
		if a := r.Header.Get("Allow"); a != "" {
			t.Errorf("Allow %q on a 404", a)
		}
	})
}

// A body over the size limit is refused as too large on both faces, also when it carries
// credentials (the limit used to surface as "no credentials were given").
func TestOversizedBodyWithCredentialsIs413(t *testing.T) {
	e := testkit.New(t, func(c *impl.Config) { c.MaxBodyBytes = 1024 })
	big := testkit.Raw(`{"name":"` + strings.Repeat("x", 4096) + `"}`)
	e.Do("POST", "/api/datastores", big, testkit.Bearer(e.AdminToken())).Expect(t, 413)
	r := e.Do("POST", "/kylin/api/projects", big, testkit.Basic("ADMIN", testkit.AdminPassword)).Expect(t, 413)
	if !strings.Contains(string(r.Body), "KE-010000413") {
		t.Fatalf("Kylin 413 body %s", r.Body)
	}
}
