package testkit

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Helpers for the Kala face (/api), shared by the test packages of impl/kala, impl/kylin
// and impl/crosscut.

// Envelope is the Kala face's answer: data, and page for lists.
type Envelope[T any] struct {
	Data T `json:"data"`
	Page *struct {
		Offset, Limit, Total int
	} `json:"page"`
}

// Datastore is a datastore as the Kala face shows it.
type Datastore struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Access string `json:"access"`
}

// MustJSON is v as JSON, for failure messages.
func MustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// Problem is an RFC 9457 problem document as the Kala face writes it.
type Problem struct {
	Type        string `json:"type"`
	Title       string `json:"title"`
	Status      int    `json:"status"`
	Detail      string `json:"detail"`
	LockedUntil string `json:"lockedUntil"`
	Errors      []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// Names reports whether a field error is about field or a part of it.
func (p Problem) Names(field string) bool {
	for _, f := range p.Errors {
		if f.Field == field || strings.HasPrefix(f.Field, field+".") || strings.HasPrefix(f.Field, field+"[") {
			return true
		}
	}
	return false
}

// ProblemOf decodes r's problem document.
func ProblemOf(t *testing.T, r *Resp) Problem {
	t.Helper()
	var p Problem
	r.JSON(t, &p)
	return p
}

// ExpectField fails unless r is a 400 whose errors name field; it returns that error's message.
func ExpectField(t *testing.T, r *Resp, field string) string {
	t.Helper()
	r.Expect(t, 400)
	p := ProblemOf(t, r)
	for _, f := range p.Errors {
		if f.Field == field {
			return f.Message
		}
	}
	t.Errorf("the 400 does not name field %q: %s", field, r.Body)
	return ""
}

// ExpectProblem checks a problem+json answer of status whose detail contains msg and,
// unless field is "", whose first field error is about field and says msg; it returns it.
func ExpectProblem(t *testing.T, r *Resp, status int, field, msg string) Problem {
	t.Helper()
	r.Expect(t, status)
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	var p Problem
	r.JSON(t, &p)
	if p.Status != status || p.Type == "" || p.Title == "" {
		t.Errorf("not a %d problem: %s", status, r.Body)
	}
	if field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != field || !strings.Contains(p.Errors[0].Message, msg)) {
		t.Errorf("want a field error %s containing %q, got %s", field, msg, r.Body)
	}
	if !strings.Contains(p.Detail, msg) {
		t.Errorf("detail %q does not say %q", p.Detail, msg)
	}
	return p
}

// ValidTo is a key validity end an hour after the server's clock.
func ValidTo(e *Env) string { return e.Clock.Now().Add(time.Hour).Format(time.RFC3339) }

// ID decodes {"data":{"id":...}}.
func ID(t *testing.T, r *Resp) string {
	t.Helper()
	var out Envelope[struct {
		ID string `json:"id"`
	}]
	r.JSON(t, &out)
	if out.Data.ID == "" {
		t.Fatalf("no id in %s", r.Body)
	}
	return out.Data.ID
}

// WhoAmI returns the id of the caller of tok.
func WhoAmI(t *testing.T, e *Env, tok string) string {
	t.Helper()
	var me Envelope[struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	}]
	e.Do("GET", "/api/auth/me", nil, Bearer(tok)).Expect(t, 200).JSON(t, &me)
	return me.Data.User.ID
}

// KeyID finds the id of key in the list of its owner, the bearer of tok.
func KeyID(t *testing.T, e *Env, tok, key string) string {
	t.Helper()
	var list Envelope[[]struct {
		ID     string `json:"id"`
		Prefix string `json:"prefix"`
	}]
	e.Do("GET", "/api/auth/api-keys?limit=500", nil, Bearer(tok)).Expect(t, 200).JSON(t, &list)
	for _, k := range list.Data {
		if k.Prefix != "" && strings.HasPrefix(key, k.Prefix) {
			return k.ID
		}
	}
	t.Fatalf("the new key is not in its owner's list")
	return ""
}

// DatastoreWithRows makes a datastore with a table t holding two rows, as ADMIN.
func DatastoreWithRows(t *testing.T, e *Env, admin ReqOpt, name string) string {
	t.Helper()
	id := ID(t, e.Do("POST", "/api/datastores", map[string]any{"name": name, "description": "original"}, admin).Expect(t, 201))
	e.Do("POST", "/api/datastores/"+id+"/tables", map[string]any{"name": "t", "columns": []map[string]any{
		{"name": "id", "type": "integer"}, {"name": "note", "type": "text"}}}, admin).Expect(t, 201)
	e.Do("POST", "/api/datastores/"+id+"/tables/t/rows", []map[string]any{{"id": 1, "note": "secret"}, {"id": 2}}, admin).Expect(t, 201)
	return id
}

// RowCount is how many rows table of ds holds, read by ADMIN.
func RowCount(t *testing.T, e *Env, admin ReqOpt, ds, table string) int {
	t.Helper()
	var rows Envelope[[]map[string]any]
	e.Do("GET", "/api/datastores/"+ds+"/tables/"+table+"/rows", nil, admin).Expect(t, 200).JSON(t, &rows)
	return rows.Page.Total
}

// Project is a project (a datastore) made for a test, with the database names the
// server gave it.
type Project struct {
	Name, ID, Schema, Role string
}

// NewProject makes a project with a table t (id integer, note text) holding one row
// whose note is canary (none when canary is ""), as ADMIN over the API, and reads its
// schema and role names.
func NewProject(t testing.TB, e *Env, tok ReqOpt, name, canary string) Project {
	t.Helper()
	var ds Envelope[Datastore]
	e.Do("POST", "/api/datastores", map[string]any{"name": name}, tok).Expect(t, 201).JSON(t, &ds)
	p := Project{Name: name, ID: ds.Data.ID}
	base := "/api/datastores/" + p.ID
	e.Do("POST", base+"/tables", map[string]any{"name": "t", "columns": []map[string]any{
		{"name": "id", "type": "integer"}, {"name": "note", "type": "text"}}}, tok).Expect(t, 201)
	if canary != "" {
		e.Do("POST", base+"/tables/t/rows", []map[string]any{{"id": 1, "note": canary}}, tok).Expect(t, 201)
	}
	if err := e.DB.QueryRowx(`SELECT schema_name, role_name FROM projects WHERE id = $1`, p.ID).Scan(&p.Schema, &p.Role); err != nil {
		t.Fatal(err)
	}
	return p
}
