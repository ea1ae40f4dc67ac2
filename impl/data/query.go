package data

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl/auth"
	"github.com/kala-server/kala/impl/errs"
)

// Query limits.
const (
	// MaxQueryLimit caps the rows of one answer; a query without a limit (or 0, Kylin's
	// "no limit") gets up to this many.
	MaxQueryLimit = 50000
	// MaxResultBytes caps the text of one result, so one answer stays a sane size.
	MaxResultBytes = 64 << 20
	// DefaultQueriesPerUser is how many queries one user may run at once on one instance.
	DefaultQueriesPerUser = 4
	// QueryRetryAfter is how long a query refused over a concurrency limit is told to wait.
	QueryRetryAfter = time.Second
)

// QueryLimits bound the query sandbox.
type QueryLimits struct {
	Timeout time.Duration // statement timeout
	PerUser int           // queries one user may run at once on this instance
	Max     int           // queries this instance runs at once, all users together
	// Turn paces the reading of answers (db.SandboxQuery.Turn): the server passes its
	// priority gate's, so that logins go first.
	Turn func(context.Context) (end func())
}

// QueryOutcome is how a query ended; its rows went to the sink.
type QueryOutcome struct {
	Partial  bool   // rows were cut at the row or byte cap
	SQLError string // set when the SQL failed, possibly after some rows were handed on
	Duration time.Duration
}

// Query runs sql for p on an opened project in the sandbox, handing the columns and rows
// to sink as they are read. With params, each `?` placeholder of sql takes one, in order
// (a count that differs is errs.Invalid). Over p's user's or the server's concurrency
// limit it refuses with errs.TooMany before anything runs. Other errors are internal, or
// sink's own.
func (s *Core) Query(ctx context.Context, p *auth.Principal, proj *Project, sql string, params []Param, offset, limit int, sink db.RowSink) (QueryOutcome, error) {
	return s.run(ctx, p, proj, sql, params, offset, limit, false, sink)
}

// Prepare describes the result columns of sql without reading a row (Kylin's prestate,
// its ODBC driver's SQLPrepare): checked, limited and run in the sandbox exactly as Query
// runs it, with no row to fetch. Placeholders without values are bound as NULLs of no
// stated type.
func (s *Core) Prepare(ctx context.Context, p *auth.Principal, proj *Project, sql string, params []Param, sink db.RowSink) (QueryOutcome, error) {
	return s.run(ctx, p, proj, sql, params, 0, 0, true, sink)
}

func (s *Core) run(ctx context.Context, p *auth.Principal, proj *Project, sql string, params []Param, offset, limit int, describe bool, sink db.RowSink) (QueryOutcome, error) {
	start := time.Now()
	leave, err := s.gate.enter(p.User.ID)
	if err != nil {
		return QueryOutcome{}, err
	}
	defer leave()
	if limit <= 0 || limit > MaxQueryLimit {
		limit = MaxQueryLimit
	}
	stmt, err := Statement(sql)
	if err != nil {
		return QueryOutcome{SQLError: err.Error(), Duration: time.Since(start)}, nil
	}
	stmt = qualifyProject(stmt, proj.Name, proj.SchemaName)
	if describe && len(params) == 0 {
		if params, err = nullParams(stmt); err != nil {
			return QueryOutcome{SQLError: err.Error(), Duration: time.Since(start)}, nil
		}
	}
	var args []any
	if len(params) > 0 {
		if stmt, args, err = bindPlaceholders(stmt, params, db.SandboxFirstArg); err != nil {
			return QueryOutcome{}, err
		}
	}
	partial, err := s.Sandbox.Query(ctx, db.SandboxQuery{Role: proj.RoleName, Schema: proj.SchemaName, SQL: stmt, Args: args,
		Offset: offset, Limit: limit, Describe: describe, MaxBytes: MaxResultBytes, Timeout: s.Limits.Timeout, Turn: s.Limits.Turn}, sink)
	out := QueryOutcome{Partial: partial, Duration: time.Since(start)}
	var se *db.SQLError
	if errors.As(err, &se) {
		// the project's own schema by the name the statement knows it by
		out.SQLError = strings.ReplaceAll(se.Message, proj.SchemaName, proj.Name)
		return out, nil
	} else if err != nil {
		return out, errs.Wrap(err, "run query")
	}
	return out, nil
}

// RunningQueries is how many queries this instance runs now.
func (s *Core) RunningQueries() int {
	s.gate.mu.Lock()
	defer s.gate.mu.Unlock()
	return s.gate.running
}

// queryGate counts the queries running on this instance, per user and in all. It holds
// on one instance only: with n instances a user may run n times the per-user limit.
type queryGate struct {
	perUser, max int

	mu      sync.Mutex
	running int
	byUser  map[uuid.UUID]int
}

func newQueryGate(perUser, max int) *queryGate {
	return &queryGate{perUser: perUser, max: max, byUser: map[uuid.UUID]int{}}
}

// enter admits one more query of user, or refuses it; leave ends it.
func (g *queryGate) enter(user uuid.UUID) (leave func(), err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.byUser[user] >= g.perUser {
		return nil, tooManyQueries("you already run %d queries, the most one user may run at once; try again when one ends", g.perUser)
	}
	if g.running >= g.max {
		return nil, tooManyQueries("the server already runs %d queries, the most it runs at once; try again shortly", g.max)
	}
	g.running++
	g.byUser[user]++
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.running--
			if g.byUser[user]--; g.byUser[user] == 0 {
				delete(g.byUser, user)
			}
		})
	}, nil
}

func tooManyQueries(format string, n int) error {
	e := errs.E(errs.TooMany, format, n).WithReason(errs.ReasonQueryConcurrency)
	e.RetryAfter = QueryRetryAfter
	return e
}
