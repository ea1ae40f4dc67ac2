package db_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl/testkit"
)

// heldSink holds its query's connection at Columns until all of a round have theirs, and
// keeps the value of the one row.
type heldSink struct {
	arrived *sync.WaitGroup
	all     <-chan struct{}
	value   string
}

func (h *heldSink) Columns([]db.ResultColumn) error {
	h.arrived.Done()
	<-h.all
	return nil
}

func (h *heldSink) Row(values [][]byte) error {
	h.value = string(values[0])
	return nil
}

// runHeld runs sql n times at once in the project's pool, every run holding its connection
// until all n hold one, and returns the first value of each.
func runHeld(t *testing.T, s *db.Sandbox, p testkit.Project, sql string, n int) []string {
	t.Helper()
	var arrived sync.WaitGroup
	arrived.Add(n)
	all := make(chan struct{})
	go func() { arrived.Wait(); close(all) }()
	sinks := make([]*heldSink, n)
	errs := make(chan error, n)
	for i := range sinks {
		sinks[i] = &heldSink{arrived: &arrived, all: all}
		go func() {
			_, err := s.Query(context.Background(), db.SandboxQuery{Role: p.Role, Schema: p.Schema, SQL: sql, Limit: 1,
				MaxBytes: 1 << 10, Timeout: time.Minute}, sinks[i])
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	out := make([]string, n)
	for i, h := range sinks {
		out[i] = h.value
	}
	return out
}

// Under steady load a project's queries reuse the backends they opened: rounds of
// SandboxPoolConns queries at once, each holding its connection until all do, run on the
// same SandboxPoolConns backends, not on new ones for all but two.
func TestSandboxPoolStaysWarm(t *testing.T) {
	e := testkit.New(t)
	p := testkit.NewProject(t, e, testkit.Bearer(e.AdminToken()), "warm", "")
	s := e.Server.Data.Sandbox
	backends := map[string]bool{}
	for round := range 4 {
		for _, pid := range runHeld(t, s, p, "SELECT pg_backend_pid()", db.SandboxPoolConns) {
			backends[pid] = true
		}
		if len(backends) > db.SandboxPoolConns {
			t.Fatalf("round %d: %d backends served the project's queries, want at most %d", round+1, len(backends), db.SandboxPoolConns)
		}
	}
	if len(backends) != db.SandboxPoolConns {
		t.Errorf("%d backends, want %d: the rounds did not run at once", len(backends), db.SandboxPoolConns)
	}
}

// However many pools are open, the connections they keep idle stay within
// SandboxIdleConns in all: a pool that is alone keeps all its connections warm, one
// among many keeps its share.
func TestSandboxIdleConnectionsBounded(t *testing.T) {
	e := testkit.New(t)
	tok := testkit.Bearer(e.AdminToken())
	s := e.Server.Data.Sandbox
	idle := func() int {
		var n int
		if err := e.DB.Get(&n, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND usename IN (SELECT role_name FROM projects) AND state = 'idle'`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	first := testkit.NewProject(t, e, tok, "idle_00", "")
	runHeld(t, s, first, "SELECT 1", db.SandboxPoolConns)
	testkit.Eventually(t, "one pool's connections idle", func() bool { return idle() == db.SandboxPoolConns })
	for i := 1; i < db.SandboxPools; i++ {
		runHeld(t, s, testkit.NewProject(t, e, tok, fmt.Sprintf("idle_%02d", i), ""), "SELECT 1", 3)
	}
	// idle backends of closed connections leave PostgreSQL's view a moment later
	testkit.Eventually(t, fmt.Sprintf("at most %d idle connections", db.SandboxIdleConns), func() bool { return idle() <= db.SandboxIdleConns })
	if got := s.Pools(); got != db.SandboxPools {
		t.Errorf("%d pools open, want %d", got, db.SandboxPools)
	}
}

// countSink counts the rows and the bytes handed on.
type countSink struct{ rows, bytes int }

func (c *countSink) Columns([]db.ResultColumn) error { return nil }
func (c *countSink) Row(values [][]byte) error {
	c.rows++
	for _, v := range values {
		c.bytes += len(v)
	}
	return nil
}

// A result is read in turns of about TurnBytes (impl/priority's gate paces them): Turn
// is called before each piece, and every piece's end is called, also when the query stops
// early at a cap.
func TestSandboxQueryTakesTurns(t *testing.T) {
	e := testkit.New(t)
	p := testkit.NewProject(t, e, testkit.Bearer(e.AdminToken()), "turns", "")
	s := e.Server.Data.Sandbox
	for _, tc := range []struct {
		name     string
		maxBytes int
	}{{"whole result", 1 << 20}, {"cut at the byte cap", 200 << 10}} {
		t.Run(tc.name, func(t *testing.T) {
			var turns, ends int
			sink := &countSink{}
			_, err := s.Query(context.Background(), db.SandboxQuery{Role: p.Role, Schema: p.Schema,
				SQL: "SELECT repeat('x', 1024) FROM generate_series(1, 500)", Limit: 1000, MaxBytes: tc.maxBytes, Timeout: time.Minute,
				Turn: func(context.Context) func() { turns++; return func() { ends++ } }}, sink)
			if err != nil {
				t.Fatal(err)
			}
			want := sink.bytes/db.TurnBytes + 1
			if turns != want || ends != turns {
				t.Errorf("%d bytes in %d turns with %d ends; want %d turns, each ended", sink.bytes, turns, ends, want)
			}
		})
	}
}

// firstSink keeps the first value of the first row.
type firstSink struct{ first string }

func (f *firstSink) Columns([]db.ResultColumn) error { return nil }
func (f *firstSink) Row(values [][]byte) error {
	if f.first == "" {
		f.first = string(values[0])
	}
	return nil
}

// A statement cut at the byte cap is cancelled from the server's pool and its connection
// kept: the project's next query runs on the same backend, and runs as if alone (a
// cancel landing late would fail it).
func TestSandboxByteCapKeepsTheConnection(t *testing.T) {
	e := testkit.New(t)
	p := testkit.NewProject(t, e, testkit.Bearer(e.AdminToken()), "capkeep", "")
	s := e.Server.Data.Sandbox
	run := func(sql string) (string, bool) {
		t.Helper()
		var sink firstSink
		partial, err := s.Query(context.Background(), db.SandboxQuery{Role: p.Role, Schema: p.Schema, SQL: sql,
			Limit: 1 << 30, MaxBytes: 1 << 20, Timeout: time.Minute}, &sink)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return sink.first, partial
	}
	for i := range 5 {
		// 10 GB if it ran to the end: only a cut ends it within the test's time
		cut, partial := run("SELECT pg_backend_pid(), repeat('y', 100000) FROM generate_series(1, 100000)")
		if !partial || cut == "" {
			t.Fatalf("round %d: the capped query was not cut (partial %v, pid %q)", i, partial, cut)
		}
		next, partial := run("SELECT pg_backend_pid()")
		if partial || next != cut {
			t.Fatalf("round %d: the next query ran on backend %s (partial %v), the cut one on %s: the connection was not kept", i, next, partial, cut)
		}
	}
}
