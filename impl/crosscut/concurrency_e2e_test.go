package crosscut_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/lib/pq"

	"github.com/kala-server/kala/impl/testkit"
)

// Fifty creates of one name in fifty spellings, at once: exactly one wins.
func TestConcurrentCreateUserSameName(t *testing.T) {
	e := testkit.New(t)
	tok := testkit.Bearer(e.AdminToken())
	const n = 50
	names := map[string]bool{}
	for i := range n {
		names[testkit.MixedCase("concurrentuser", i)] = true
	}
	if len(names) != n {
		t.Fatalf("only %d distinct spellings", len(names))
	}
	statuses, bodies := testkit.AtOnce(t, n, func(i int) (int, []byte, error) {
		return testkit.TryDo(e, "POST", "/api/users", map[string]any{"username": testkit.MixedCase("concurrentuser", i), "password": "Welcome#2026"}, tok)
	})
	count := map[int]int{}
	winner := -1
	for i, s := range statuses {
		count[s]++
		if s == 201 {
			winner = i
		} else if s != 409 {
			t.Errorf("request %d: status %d, body %s", i, s, bodies[i])
		}
	}
	if count[201] != 1 || count[409] != n-1 {
		t.Fatalf("statuses %v, want one 201 and %d 409", count, n-1)
	}
	var rows []string
	if err := e.DB.Select(&rows, `SELECT username FROM users WHERE lower(username) = 'concurrentuser'`); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0] != testkit.MixedCase("concurrentuser", winner) {
		t.Fatalf("users rows %v, want exactly the winner's spelling %q", rows, testkit.MixedCase("concurrentuser", winner))
	}
	// the winner's spelling is kept, and any spelling logs in
	e.Login(strings.ToUpper(rows[0]), "Welcome#2026")
}

// Fifty batches of twenty rows at once: every row lands, once.
func TestConcurrentRowInserts(t *testing.T) {
	e := testkit.New(t)
	tok := testkit.Bearer(e.AdminToken())
	ds := testkit.ID(t, e.Do("POST", "/api/datastores", map[string]any{"name": "cc_rows"}, tok).Expect(t, 201))
	base := "/api/datastores/" + ds + "/tables/t"
	e.Do("POST", "/api/datastores/"+ds+"/tables", map[string]any{"name": "t", "columns": []map[string]any{
		{"name": "id", "type": "bigint", "nullable": false}, {"name": "batch", "type": "integer"}, {"name": "n", "type": "integer"}}}, tok).Expect(t, 201)
	const batches, per = 50, 20
	statuses, bodies := testkit.AtOnce(t, batches, func(i int) (int, []byte, error) {
		rows := make([]map[string]any, per)
		for j := range rows {
			rows[j] = map[string]any{"id": i*per + j + 1, "batch": i, "n": j}
		}
		return testkit.TryDo(e, "POST", base+"/rows", rows, tok)
	})
	for i, s := range statuses {
		var out struct {
			Data struct {
				Inserted int `json:"inserted"`
			} `json:"data"`
		}
		if s != 201 {
			t.Errorf("batch %d: status %d, body %s", i, s, bodies[i])
		} else if err := json.Unmarshal(bodies[i], &out); err != nil || out.Data.Inserted != per {
			t.Errorf("batch %d: answer %s", i, bodies[i])
		}
	}
	schema := "kala_p_" + strings.ReplaceAll(ds, "-", "")
	var got struct {
		Rows     int `db:"rows"`
		Distinct int `db:"ids"`
		Min      int `db:"lo"`
		Max      int `db:"hi"`
		Batches  int `db:"batches"`
	}
	if err := e.DB.Get(&got, fmt.Sprintf(`SELECT count(*) AS rows, count(DISTINCT id) AS ids, min(id) AS lo, max(id) AS hi,
		count(DISTINCT batch) AS batches FROM %s.t`, pq.QuoteIdentifier(schema))); err != nil {
		t.Fatal(err)
	}
	if got.Rows != batches*per || got.Distinct != batches*per || got.Min != 1 || got.Max != batches*per || got.Batches != batches {
		t.Fatalf("table holds %+v, want %d rows with %d distinct ids 1..%d from %d batches", got, batches*per, batches*per, batches*per, batches)
	}
	var page testkit.Envelope[[]map[string]any]
	e.Do("GET", base+"/rows?limit=1", nil, tok).Expect(t, 200).JSON(t, &page)
	if page.Page.Total != batches*per {
		t.Fatalf("the API counts %d rows, want %d", page.Page.Total, batches*per)
	}
}

// Two admins removing each other at once (disabling, demoting, deleting), with the
// built-in ADMIN, whom nobody can remove, out of the picture: one enabled admin is left
// every time. Each request checks "another enabled admin remains" before it writes; without
// one lock over those checks both see the other still enabled, both pass, and none is left.
func TestConcurrentLastAdminStays(t *testing.T) {
	e := testkit.New(t)
	ops := []struct {
		method string
		body   map[string]any
	}{{"PATCH", map[string]any{"disabled": true}}, {"PATCH", map[string]any{"admin": false}}, {"DELETE", nil}}
	const rounds = 24
	tally := map[int]int{}
	for r := range rounds {
		// the admins of earlier rounds (ADMIN among them) no longer count
		if _, err := e.DB.Exec(`UPDATE users SET disabled = true WHERE admin`); err != nil {
			t.Fatal(err)
		}
		pair := [2]testkit.User{e.NewUser(fmt.Sprintf("pair_%02d_a", r), true), e.NewUser(fmt.Sprintf("pair_%02d_b", r), true)}
		toks := [2]testkit.ReqOpt{testkit.Bearer(e.Login(pair[0].Name, pair[0].Password)), testkit.Bearer(e.Login(pair[1].Name, pair[1].Password))}
		statuses, bodies := testkit.AtOnce(t, 2, func(i int) (int, []byte, error) {
			// a does op r, b op r/3: every pairing of the three, twice over
			op := ops[r%3]
			if i == 1 {
				op = ops[(r/3)%3]
			}
			return testkit.TryDo(e, op.method, "/api/users/"+pair[1-i].ID.String(), op.body, toks[i])
		})
		for i, s := range statuses {
			tally[s]++
			switch s {
			case 200, 204:
			case 409:
				if !strings.Contains(string(bodies[i]), "last admin") {
					t.Errorf("round %d request %d: 409 %s", r, i, bodies[i])
				}
			case 401, 403: // its admin was removed before it was authenticated
			default:
				t.Errorf("round %d request %d: status %d, body %s", r, i, s, bodies[i])
			}
		}
		var active int
		if err := e.DB.Get(&active, `SELECT count(*) FROM users WHERE admin AND NOT disabled`); err != nil {
			t.Fatal(err)
		}
		if active != 1 {
			t.Errorf("round %d: statuses %v, %d enabled admins left, want 1", r, statuses, active)
		}
	}
	t.Logf("statuses over %d rounds: %v", rounds, tally)
}
