package kylin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/gen"
	"github.com/kala-server/kala/impl"
	"github.com/kala-server/kala/impl/testkit"
)

// bigAnswer asks for more than the 64 MiB byte cap: 200 rows of 1,000,000 bytes, of which
// 67 fit.
const bigAnswer = `SELECT repeat('y', 1000000) AS y FROM generate_series(1, 200)`

// streamedQuery posts a query outside the validating transport (which would read the
// whole body) and reads the answer as it arrives, keeping only its size and its end.
func streamedQuery(client *http.Client, url, auth, project, sql string) (status int, size int64, tail string, err error) {
	b, _ := json.Marshal(map[string]any{"sql": sql, "project": project, "limit": 50000})
	req, err := http.NewRequest("POST", url+"/kylin/api/query", bytes.NewReader(b))
	if err != nil {
		return 0, 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", auth)
	res, err := client.Do(req)
	if err != nil {
		return 0, 0, "", err
	}
	defer res.Body.Close()
	end := &tailWriter{keep: 200}
	size, err = io.Copy(end, res.Body)
	return res.StatusCode, size, string(end.b), err
}

// tailWriter keeps the last keep bytes written to it.
type tailWriter struct {
	keep int
	b    []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	if len(w.b) > w.keep {
		w.b = append(w.b[:0], w.b[len(w.b)-w.keep:]...)
	}
	return len(p), nil
}

// The server's Go heap stays bounded while 32 clients each download the largest answer
// there is (the 64 MiB byte cap), all at once: answers are streamed, never held whole.
// Measured in this process (the server runs in it), over the idle heap: the live heap
// as the collector marks it, and the peak of heap objects live or not yet collected.
// Before streaming the same test peaked at 7,033 MB.
func TestQueryMemoryBounded(t *testing.T) {
	const clients = 32
	// lib/pq reads each row into a buffer and then copies text values into strings, so a
	// query in flight holds two to three copies of one row; with GOGC=100 the heap then
	// peaks near twice the live heap.
	const liveBound, peakBound = 150 << 20, 320 << 20
	e := testkit.New(t, func(c *impl.Config) { c.QueryPerUser, c.QueryMax = clients, clients })
	tok := e.AdminToken()
	// each project's pool opens at most 8 connections: four projects let all 32 run at once
	var projects []string
	for i := range clients / db.SandboxPoolConns {
		projects = append(projects, testkit.NewProject(t, e, testkit.Bearer(tok), fmt.Sprintf("sb_mem_%d", i), "").Name)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	defer client.CloseIdleConnections()
	check := func(status int, size int64, tail string, err error) {
		if err != nil || status != 200 || size < 67_000_000 || !strings.Contains(tail, `"isException":false,`) ||
			!strings.Contains(tail, `"resultRowCount":67,`) || !strings.HasSuffix(tail, `"partial":true},"msg":""}`+"\n") {
			t.Errorf("status %d, %d bytes, %v, ending %q", status, size, err, tail)
		}
	}
	check(streamedQuery(client, e.URL, "Bearer "+tok, projects[0], bigAnswer)) // warm up the pools

	var mu sync.Mutex
	most := 0
	stop := make(chan struct{})
	var watched sync.WaitGroup
	watched.Add(1)
	go func() { // how many ran at once: the bound means little if they queued
		defer watched.Done()
		for {
			n := e.Server.Data.RunningQueries()
			mu.Lock()
			most = max(most, n)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	use := sbMeasure(func() {
		var wg sync.WaitGroup
		for i := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				check(streamedQuery(client, e.URL, "Bearer "+tok, projects[i%len(projects)], bigAnswer))
			}()
		}
		wg.Wait()
	})
	close(stop)
	watched.Wait()
	mb := func(n uint64) float64 { return float64(n) / (1 << 20) }
	t.Logf("%d answers of 67 MB, at most %d queries at once: heap peak %.0f MB and live heap %.0f MB over idle, %.0f MB allocated",
		clients, most, mb(use.Peak), mb(use.Live), mb(use.Alloc))
	if use.Live > liveBound || use.Peak > peakBound {
		t.Errorf("heap over idle: peak %.0f MB (bound %d), live %.0f MB (bound %d)", mb(use.Peak), peakBound>>20, mb(use.Live), liveBound>>20)
	}
}

// sbActive counts the backends of this test's database running SQL that contains marker.
func sbActive(t *testing.T, e *testkit.Env, marker string) int {
	t.Helper()
	return sbCount(t, e, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
		AND pid <> pg_backend_pid() AND state = 'active' AND strpos(query, $1) > 0`, marker)
}

// sbHold starts n queries that sleep until cancelled, as user, and waits until all n run
// in PostgreSQL. The returned function cancels them and waits until the server has let
// them go.
func sbHold(t *testing.T, e *testkit.Env, user testkit.User, project string, n int) (release func()) {
	t.Helper()
	marker := "sbhold" + sbRand()
	ctx, cancel := context.WithCancel(context.Background())
	var done []<-chan error
	for range n {
		done = append(done, sbBackground(ctx, e, user.Name, user.Password, project, "SELECT pg_sleep(600) -- "+marker))
	}
	testkit.Eventually(t, fmt.Sprintf("%d queries of %s running", n, user.Name), func() bool { return sbActive(t, e, marker) == n })
	released := false
	release = func() {
		if released {
			return
		}
		released = true
		cancel()
		for _, d := range done {
			<-d
		}
		if !sbBackendGone(t, e, marker, 10*time.Second) {
			t.Errorf("held queries still run 10 s after their clients went away")
		}
	}
	t.Cleanup(release)
	return release
}

// sbTooMany expects a 429 refusal in Kylin's envelope with Retry-After, naming want.
func sbTooMany(t *testing.T, e *testkit.Env, auth testkit.ReqOpt, project, want string) {
	t.Helper()
	r := e.Do("POST", "/kylin/api/query", map[string]any{"sql": "SELECT 1", "project": project}, auth,
		testkit.Header("Accept", "application/vnd.apache.kylin-v4-public+json")).Expect(t, 429)
	var body gen.KylinError
	r.JSON(t, &body)
	if got := r.Header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q, want 1", got)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/vnd.apache.kylin-v4-public+json") {
		t.Errorf("content type %q", ct)
	}
	if body.ErrorCode != "KE-010028002" || !strings.Contains(body.Msg, want) {
		t.Errorf("refusal %+v, want KE-010028002 saying %q", body, want)
	}
}

// A user running as many queries as allowed (4 by default) is refused a fifth with 429
// and Retry-After; another user is not; once the four end, the user may query again.
func TestQueryPerUserLimit(t *testing.T) {
	e := testkit.New(t)
	tok := testkit.Bearer(e.AdminToken())
	p := testkit.NewProject(t, e, tok, "sb_per_user", "CANARY")
	ann, bob := e.NewUser("sb_ann", false), e.NewUser("sb_bob", false)
	for _, u := range []testkit.User{ann, bob} {
		if err := db.SetAccess(context.Background(), e.DB, sbUUID(t, p.ID), u.ID, 1, e.Clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	asAnn, asBob := testkit.Basic(ann.Name, ann.Password), testkit.Basic(bob.Name, bob.Password)
	sbRun(t, e, asAnn, p.Name, "SELECT 1") // the Basic credential is verified once, then cached

	release := sbHold(t, e, ann, p.Name, 4)
	sbTooMany(t, e, asAnn, p.Name, "you already run 4 queries")
	if r := sbRun(t, e, asBob, p.Name, "SELECT note FROM t"); r.cell(0, 0) != "CANARY" {
		t.Errorf("another user should be unaffected: %s", r.raw)
	}
	annTok := e.Login(ann.Name, ann.Password)
	sbTooMany(t, e, testkit.Bearer(annTok), p.Name, "you already run 4 queries") // the user, whatever the credential

	release()
	testkit.Eventually(t, "no query running", func() bool { return e.Server.Data.RunningQueries() == 0 })
	if r := sbRun(t, e, asAnn, p.Name, "SELECT note FROM t"); r.cell(0, 0) != "CANARY" {
		t.Errorf("after the held queries ended: %s", r.raw)
	}
}

// With the server running as many queries as it allows, everyone is refused with 429
// until one ends.
func TestQueryServerLimit(t *testing.T) {
	e := testkit.New(t, func(c *impl.Config) { c.QueryMax = 3 })
	tok := testkit.Bearer(e.AdminToken())
	p := testkit.NewProject(t, e, tok, "sb_server_limit", "CANARY")
	var users []testkit.User
	for _, name := range []string{"sb_one", "sb_two", "sb_three"} {
		u := e.NewUser(name, false)
		if err := db.SetAccess(context.Background(), e.DB, sbUUID(t, p.ID), u.ID, 1, e.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		sbRun(t, e, testkit.Basic(u.Name, u.Password), p.Name, "SELECT 1")
		users = append(users, u)
	}
	releaseOne := sbHold(t, e, users[0], p.Name, 2)
	sbHold(t, e, users[1], p.Name, 1)
	const full = "the server already runs 3 queries"
	sbTooMany(t, e, testkit.Basic(users[2].Name, users[2].Password), p.Name, full)
	sbTooMany(t, e, testkit.Basic(users[0].Name, users[0].Password), p.Name, full)
	sbTooMany(t, e, testkit.Basic("ADMIN", testkit.AdminPassword), p.Name, full)

	releaseOne()
	testkit.Eventually(t, "one query running", func() bool { return e.Server.Data.RunningQueries() == 1 })
	if r := sbRun(t, e, testkit.Basic(users[2].Name, users[2].Password), p.Name, "SELECT note FROM t"); r.cell(0, 0) != "CANARY" {
		t.Errorf("with room again: %s", r.raw)
	}
}

// The byte cap and the row cap end a streamed answer cleanly, marked partial; the
// answer validates against openapi.yaml (the test client checks every response). The
// statement cut at the byte cap is cancelled, not read to its end.
func TestQueryCapsPartial(t *testing.T) {
	e := testkit.New(t, func(c *impl.Config) { c.QueryTimeout = 10 * time.Minute })
	tok := testkit.Bearer(e.AdminToken())
	basic := testkit.Basic("ADMIN", testkit.AdminPassword)
	p := testkit.NewProject(t, e, tok, "sb_caps", "")

	r := sbQuery(t, e, basic, map[string]any{"sql": `SELECT i FROM generate_series(1, 60000) i`, "project": p.Name, "limit": 50000})
	if r.Data.IsException || len(r.Data.Results) != 50000 || r.Data.ResultRowCount != 50000 || !r.Data.Partial ||
		r.cell(49999, 0) != "50000" {
		t.Errorf("row cap: %d rows (count %d), partial %v, %s", len(r.Data.Results), r.Data.ResultRowCount, r.Data.Partial, r.msg())
	}
	r = sbQuery(t, e, basic, map[string]any{"sql": `SELECT i FROM generate_series(1, 50000) i`, "project": p.Name, "limit": 50000})
	if len(r.Data.Results) != 50000 || r.Data.Partial {
		t.Errorf("exactly the row cap: %d rows, partial %v", len(r.Data.Results), r.Data.Partial)
	}

	// past the cap the statement would sleep for ten minutes: reading it to its end would
	// hold the answer that long
	marker := "sbcap" + sbRand()
	b, _ := json.Marshal(map[string]any{"sql": bigAnswer + " UNION ALL SELECT pg_sleep(600)::text -- " + marker,
		"project": p.Name, "limit": 50000})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", e.URL+"/kylin/api/query", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("ADMIN", testkit.AdminPassword)
	res, err := e.HTTP.Do(req)
	if err != nil {
		t.Fatalf("the answer cut at the byte cap should come without waiting for the statement to end: %v", err)
	}
	var big sbResult
	if err := json.NewDecoder(res.Body).Decode(&big); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if big.Data.IsException || len(big.Data.Results) != 67 || big.Data.ResultRowCount != 67 || !big.Data.Partial ||
		len(big.cell(66, 0)) != 1_000_000 {
		t.Errorf("byte cap: %d rows (count %d), partial %v, %s", len(big.Data.Results), big.Data.ResultRowCount, big.Data.Partial, big.msg())
	}
	if !sbBackendGone(t, e, marker, 10*time.Second) {
		t.Errorf("the statement cut at the byte cap still runs")
	}
	if r := sbRun(t, e, basic, p.Name, `SELECT count(*) FROM generate_series(1, 3)`); r.cell(0, 0) != "3" {
		t.Errorf("the project should answer after a cut answer: %s", r.raw)
	}
}

// A normal answer, streamed, is the SQLResponse it was: every field, strictly decoded.
func TestQueryStreamedAnswer(t *testing.T) {
	e := testkit.New(t)
	tok := testkit.Bearer(e.AdminToken())
	basic := testkit.Basic("ADMIN", testkit.AdminPassword)
	p := testkit.NewProject(t, e, tok, "sb_stream", "<b>\"note\" & \u2028</b>")
	r := e.Do("POST", "/kylin/api/query", map[string]any{"sql": `SELECT id, note, NULL::text AS nothing FROM t`,
		"project": p.Name, "queryId": "q-42"}, basic).Expect(t, 200)
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	var got gen.KylinQueryEnvelope
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("%v: %s", err, r.Body)
	}
	d := got.Data
	if got.Code != "000" || got.Msg != "" || d.IsException || d.ExceptionMessage != nil || d.Partial || d.QueryId != "q-42" ||
		d.ResultRowCount != 1 || d.AffectedRowCount != 0 || d.Duration < 0 || len(d.ColumnMetas) != 3 ||
		d.ColumnMetas[1].Name != "note" || d.ColumnMetas[1].ColumnTypeName != "VARCHAR" || *d.ColumnMetas[0].SchemaName != p.Name ||
		len(d.Results) != 1 || *d.Results[0][0] != "1" || *d.Results[0][1] != "<b>\"note\" & \u2028</b>" || d.Results[0][2] != nil {
		t.Errorf("answer: %s", r.Body)
	}
	if !bytes.Contains(r.Body, []byte(`"\u003cb\u003e\"note\" \u0026 \u2028\u003c/b\u003e"`)) {
		t.Errorf("values should be escaped as encoding/json escapes them: %s", r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/vnd.apache.kylin-v4-public+json" {
		t.Errorf("content type without Accept: %q", ct)
	}
	public := e.Do("POST", "/kylin/api/query", map[string]any{"sql": `SELECT 1`, "project": p.Name}, basic,
		testkit.Header("Accept", "application/vnd.apache.kylin-v4-public+json")).Expect(t, 200)
	if ct := public.Header.Get("Content-Type"); ct != "application/vnd.apache.kylin-v4-public+json;charset=UTF-8" {
		t.Errorf("content type for Kylin's public media type: %q", ct)
	}
}

// SQL failing after some rows: before the first 32 KiB went out, the answer is Kylin's
// failed query (no rows); after, it keeps the rows sent and ends as valid JSON with
// isException and partial.
func TestQueryFailsWhileStreaming(t *testing.T) {
	e := testkit.New(t)
	tok := testkit.Bearer(e.AdminToken())
	basic := testkit.Basic("ADMIN", testkit.AdminPassword)
	p := testkit.NewProject(t, e, tok, "sb_fails", "")
	failAt := func(n int) string {
		return fmt.Sprintf(`SELECT CASE WHEN i < %d THEN repeat('x', 100) ELSE (1 / (%d - i))::text END FROM generate_series(1, 10000) i`, n, n)
	}
	r := sbRun(t, e, basic, p.Name, failAt(5))
	if !r.Data.IsException || !strings.Contains(r.msg(), "division by zero") || len(r.Data.Results) != 0 ||
		len(r.Data.ColumnMetas) != 0 || r.Data.ResultRowCount != 0 || r.Data.Partial {
		t.Errorf("failing early: %s", r.raw)
	}
	r = sbQuery(t, e, basic, map[string]any{"sql": failAt(5000), "project": p.Name, "limit": 50000})
	if !r.Data.IsException || !strings.Contains(r.msg(), "division by zero") || len(r.Data.Results) != 4999 ||
		len(r.Data.ColumnMetas) != 1 || r.Data.ResultRowCount != 4999 || !r.Data.Partial {
		t.Errorf("failing after 4999 rows: isException %v %q, %d rows (count %d), partial %v",
			r.Data.IsException, r.msg(), len(r.Data.Results), r.Data.ResultRowCount, r.Data.Partial)
	}
}

// A client that stops reading does not keep its query, its connection and its place
// under the limits: the answer must be sent within twice the statement timeout.
func TestQueryStalledClient(t *testing.T) {
	e := testkit.New(t, func(c *impl.Config) { c.QueryTimeout = 2 * time.Second })
	tok := e.AdminToken()
	p := testkit.NewProject(t, e, testkit.Bearer(tok), "sb_stalled", "")
	marker := "sbstalled" + sbRand()
	b, _ := json.Marshal(map[string]any{"sql": bigAnswer + " -- " + marker, "project": p.Name, "limit": 50000})
	req, _ := http.NewRequest("POST", e.URL+"/kylin/api/query", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if _, err := io.ReadFull(res.Body, make([]byte, 100)); err != nil || res.StatusCode != 200 {
		t.Fatalf("status %d, %v", res.StatusCode, err)
	}
	// and now read nothing more
	testkit.Eventually(t, "the stalled query to be let go", func() bool { return e.Server.Data.RunningQueries() == 0 })
	if !sbBackendGone(t, e, marker, 10*time.Second) {
		t.Errorf("the stalled client's statement still runs")
	}
	if _, err := io.Copy(io.Discard, res.Body); err == nil {
		t.Errorf("the stalled answer should have been cut off, not completed")
	}
}

// A query whose connection breaks under it (here: its backend is terminated) is an
// infrastructure fault, answered 503 with Retry-After, not the user's SQL failing
// (isException with the driver's text).
func TestQueryBrokenConnectionIsNotTheUsersSQL(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Bearer(e.AdminToken())
	p := testkit.NewProject(t, e, admin, "broken_conn", "")
	marker := "sbbroken" + sbRand()
	type answer struct {
		status int
		header http.Header
		body   string
		err    error
	}
	done := make(chan answer, 1)
	go func() {
		b, _ := json.Marshal(map[string]any{"sql": "SELECT pg_sleep(600) -- " + marker, "project": p.Name})
		req, _ := http.NewRequest("POST", e.URL+"/kylin/api/query", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth("ADMIN", testkit.AdminPassword)
		res, err := e.HTTP.Do(req)
		if err != nil {
			done <- answer{err: err}
			return
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		done <- answer{res.StatusCode, res.Header, string(body), err}
	}()
	testkit.Eventually(t, "the query to run", func() bool { return sbActive(t, e, marker) == 1 })
	sbCount(t, e, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND strpos(query, $1) > 0) x`, marker)
	a := <-done
	if a.err != nil {
		t.Fatal(a.err)
	}
	if a.status != 503 || a.header.Get("Retry-After") == "" || !strings.Contains(a.body, "KE-010000503") {
		t.Fatalf("broken connection answered %d (Retry-After %q): %s", a.status, a.header.Get("Retry-After"), a.body)
	}
	// the next query gets a good connection
	if r := sbRun(t, e, testkit.Basic("ADMIN", testkit.AdminPassword), p.Name, "SELECT 1"); r.Data.IsException {
		t.Fatalf("after the broken connection: %s", r.raw)
	}
}

// Queries over more projects than the sandbox keeps pools for: the least recently used
// pool is closed, the count stays bounded, and every project still answers.
func TestSandboxPoolsBounded(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Bearer(e.AdminToken())
	basic := testkit.Basic("ADMIN", testkit.AdminPassword)
	var names []string
	for i := range db.SandboxPools + 2 {
		names = append(names, testkit.NewProject(t, e, admin, fmt.Sprintf("pool_%02d", i), "").Name)
	}
	for _, n := range append(names, names[0]) {
		if r := sbRun(t, e, basic, n, "SELECT 1"); r.Data.IsException {
			t.Fatalf("%s: %s", n, r.raw)
		}
		if got := e.Server.Data.Sandbox.Pools(); got > db.SandboxPools {
			t.Fatalf("%d pools open, want at most %d", got, db.SandboxPools)
		}
	}
	if got := e.Server.Data.Sandbox.Pools(); got != db.SandboxPools {
		t.Fatalf("%d pools open after %d projects, want %d", got, len(names), db.SandboxPools)
	}
}
