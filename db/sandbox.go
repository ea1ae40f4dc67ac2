package db

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"
)

// Sandbox runs project queries. Each project has a login role that may read only its own
// schema; a query runs on a connection logged in as that role, so the session's own
// privileges are the boundary: SET ROLE, set_config('role', …) and SET SESSION
// AUTHORIZATION have nowhere to go.
type Sandbox struct {
	base    *url.URL
	secret  []byte
	control *DB         // the server's own pool: cancels a statement cut at the byte cap
	noKill  atomic.Bool // the server's role may not cancel the project roles' statements

	mu    sync.Mutex
	pools map[string]*sandboxPool
}

// sandboxPool is one project role's connections and when a query last asked for them.
type sandboxPool struct {
	db   *sql.DB
	used time.Time
}

// SQLError is the database refusing or failing a query: the caller's SQL, not the server.
type SQLError struct{ Message string }

func (e *SQLError) Error() string { return e.Message }

// NewSandbox prepares the sandbox over the server's database: it loads (or makes) the
// secret role passwords derive from, and applies the hardening it is allowed to.
func NewSandbox(ctx context.Context, d *DB, log *slog.Logger) (*Sandbox, error) {
	u, err := url.Parse(d.URL())
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	var fresh [32]byte
	if _, err := rand.Read(fresh[:]); err != nil {
		return nil, err
	}
	if _, err := d.ExecContext(ctx, `INSERT INTO server_secrets (name, value) VALUES ('project-roles', $1)
		ON CONFLICT (name) DO NOTHING`, fresh[:]); err != nil {
		return nil, fmt.Errorf("sandbox secret: %w", err)
	}
	var secret []byte
	if err := d.GetContext(ctx, &secret, `SELECT value FROM server_secrets WHERE name = 'project-roles'`); err != nil {
		return nil, fmt.Errorf("sandbox secret: %w", err)
	}
	s := &Sandbox{base: u, secret: secret, control: d, pools: map[string]*sandboxPool{}}
	harden(ctx, d, log)
	return s, nil
}

// RolePassword is a project role's database password, derived from the server secret.
func (s *Sandbox) RolePassword(role string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(role))
	return hex.EncodeToString(m.Sum(nil))
}

// PrepareRole makes a project role able to log in for queries, and read-only by default
// whatever a session does.
func (s *Sandbox) PrepareRole(ctx context.Context, q Queryer, role string) error {
	r := pq.QuoteIdentifier(role)
	for _, stmt := range []string{
		`ALTER ROLE ` + r + ` WITH LOGIN NOINHERIT CONNECTION LIMIT -1 PASSWORD ` + pq.QuoteLiteral(s.RolePassword(role)),
		`ALTER ROLE ` + r + ` SET default_transaction_read_only = on`,
		`ALTER ROLE ` + r + ` SET statement_timeout = '5min'`,
		`ALTER ROLE ` + r + ` SET idle_in_transaction_session_timeout = '1min'`,
		`ALTER ROLE ` + r + ` SET temp_file_limit = '256MB'`,
	} {
		if _, err := q.ExecContext(ctx, stmt); err != nil {
			return mapErr(err)
		}
	}
	return nil
}

// PrepareAllRoles brings every project's role up to PrepareRole's state (projects made by
// an older version had NOLOGIN roles).
func (s *Sandbox) PrepareAllRoles(ctx context.Context, d *DB) error {
	var roles []string
	if err := d.SelectContext(ctx, &roles, `SELECT role_name FROM projects`); err != nil {
		return mapErr(err)
	}
	for _, r := range roles {
		if err := s.PrepareRole(ctx, d, r); err != nil {
			return fmt.Errorf("prepare role %s: %w", r, err)
		}
	}
	return nil
}

// harden takes from PUBLIC what a query could misuse even read-only: large objects,
// advisory locks, notifications, signalling backends, other sessions' SQL, temporary
// objects, and the server's own schema. The server's role gets back what it uses. Each
// step needs ownership (a superuser runs them all); a step refused is logged, and the
// layers that remain (read-only transaction, role privileges) still hold.
func harden(ctx context.Context, d *DB, log *slog.Logger) {
	funcs := []string{
		"lo_create(oid)", "lo_creat(integer)", "lo_import(text)", "lo_import(text, oid)", "lo_export(oid, text)",
		"lo_from_bytea(oid, bytea)", "lo_put(oid, bigint, bytea)", "lo_unlink(oid)", "lo_open(oid, integer)",
		"lo_get(oid)", "lo_get(oid, bigint, integer)", "loread(integer, integer)", "lowrite(integer, bytea)",
		"pg_advisory_lock(bigint)", "pg_advisory_lock(integer, integer)", "pg_advisory_lock_shared(bigint)",
		"pg_advisory_lock_shared(integer, integer)", "pg_try_advisory_lock(bigint)", "pg_try_advisory_lock(integer, integer)",
		"pg_try_advisory_lock_shared(bigint)", "pg_try_advisory_lock_shared(integer, integer)",
		"pg_advisory_xact_lock(bigint)", "pg_advisory_xact_lock(integer, integer)", "pg_advisory_xact_lock_shared(bigint)",
		"pg_advisory_xact_lock_shared(integer, integer)", "pg_try_advisory_xact_lock(bigint)",
		"pg_try_advisory_xact_lock(integer, integer)", "pg_try_advisory_xact_lock_shared(bigint)",
		"pg_try_advisory_xact_lock_shared(integer, integer)", "pg_advisory_unlock(bigint)",
		"pg_advisory_unlock(integer, integer)", "pg_advisory_unlock_shared(bigint)",
		"pg_advisory_unlock_shared(integer, integer)", "pg_advisory_unlock_all()",
		"pg_notify(text, text)", "pg_cancel_backend(integer)", "pg_terminate_backend(integer, bigint)",
		"pg_stat_get_activity(integer)", "pg_stat_get_backend_activity(integer)",
		"pg_stat_get_backend_activity_start(integer)", "pg_stat_get_backend_wait_event(integer)",
		"pg_stat_get_backend_wait_event_type(integer)", "pg_stat_get_backend_client_addr(integer)",
	}
	var stmts []string
	for _, f := range funcs {
		stmts = append(stmts, `REVOKE EXECUTE ON FUNCTION pg_catalog.`+f+` FROM PUBLIC`,
			`GRANT EXECUTE ON FUNCTION pg_catalog.`+f+` TO CURRENT_USER`)
	}
	var dbName string
	if err := d.GetContext(ctx, &dbName, `SELECT current_database()`); err == nil {
		q := pq.QuoteIdentifier(dbName)
		stmts = append(stmts, `REVOKE TEMPORARY ON DATABASE `+q+` FROM PUBLIC`, `GRANT TEMPORARY ON DATABASE `+q+` TO CURRENT_USER`)
	}
	stmts = append(stmts, `REVOKE ALL ON SCHEMA public FROM PUBLIC`, `GRANT USAGE, CREATE ON SCHEMA public TO CURRENT_USER`)
	var refused []string
	for _, st := range stmts {
		if _, err := d.ExecContext(ctx, st); err != nil {
			refused = append(refused, st)
		}
	}
	if len(refused) > 0 {
		log.Warn("query sandbox hardening needs a superuser or owner for some steps; those are skipped",
			"skipped", len(refused), "first", refused[0])
	}
}

// The sandbox's connections: each project's pool opens at most SandboxPoolConns; at most
// SandboxPools pools are open (the least recently used is closed for a new one); the
// pools keep at most SandboxIdleConns idle connections in all, for a minute at most (each
// pool its share, so that a pool busy alone keeps every connection it opened warm and
// steady load opens no new backends); and by default the server runs at most
// SandboxConnBudget queries at once, each on one connection. Together they bound what one
// instance holds open (SandboxConnBudget + SandboxIdleConns), so the roles need no
// connection limit of their own (one would have to know how many instances share it).
const (
	SandboxPoolConns  = 8
	SandboxPools      = 16
	SandboxConnBudget = 32
	SandboxIdleConns  = 32
)

func (s *Sandbox) pool(role string) (*sql.DB, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if p, ok := s.pools[role]; ok {
		p.used = now
		return p.db, nil
	}
	if len(s.pools) >= SandboxPools {
		oldest := ""
		for r, p := range s.pools {
			if oldest == "" || p.used.Before(s.pools[oldest].used) {
				oldest = r
			}
		}
		// Close waits for the pool's running queries: not under the lock
		go s.pools[oldest].db.Close()
		delete(s.pools, oldest)
	}
	u := *s.base
	u.User = url.UserPassword(role, s.RolePassword(role))
	// lib/pq then sends a statement with parameters in one round trip instead of two
	// (every parameter the sandbox sends is text, none is sent in binary)
	v := u.Query()
	v.Set("binary_parameters", "yes")
	u.RawQuery = v.Encode()
	p, err := sql.Open("postgres", u.String())
	if err != nil {
		return nil, err
	}
	p.SetMaxOpenConns(SandboxPoolConns)
	p.SetConnMaxIdleTime(time.Minute)
	s.pools[role] = &sandboxPool{db: p, used: now}
	s.shareIdle()
	return p, nil
}

// shareIdle gives each open pool its share of SandboxIdleConns, up to all its
// connections. A pool over its new share closes its extra idle connections at once.
// Called with s.mu held, whenever the number of pools changes.
func (s *Sandbox) shareIdle() {
	if len(s.pools) == 0 {
		return
	}
	share := min(SandboxPoolConns, max(1, SandboxIdleConns/len(s.pools)))
	for _, p := range s.pools {
		p.db.SetMaxIdleConns(share)
	}
}

// Pools is how many project pools are open.
func (s *Sandbox) Pools() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pools)
}

// Forget closes a deleted project's connections.
func (s *Sandbox) Forget(role string) {
	s.mu.Lock()
	p, ok := s.pools[role]
	delete(s.pools, role)
	s.shareIdle()
	s.mu.Unlock()
	if ok {
		p.db.Close()
	}
}

// Close closes every sandbox connection.
func (s *Sandbox) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for r, p := range s.pools {
		p.db.Close()
		delete(s.pools, r)
	}
}

// ResultColumn describes a result column.
type ResultColumn struct {
	Name string
	Type string // PostgreSQL's name, upper case (INT4, TEXT, …)
	// Precision and Scale of a numeric(p,s); 0 and 0 for an unconstrained numeric and
	// every other type. Scale may be negative (numeric(3,-2) rounds to hundreds).
	Precision int64
	Scale     int64
	Length    int64 // of a varchar(n) or char(n); -1 when unbounded or another type
}

// RowSink receives a query's result while the sandbox reads it, so no result is ever
// held whole.
type RowSink interface {
	// Columns is called once, before any row.
	Columns(cols []ResultColumn) error
	// Row is called for each row with its values as text (see valueText), nil for NULL.
	// The slice and the bytes it points to are reused once Row returns. An error stops
	// the query.
	Row(values [][]byte) error
}

// SandboxFirstArg is the number of a statement's first own parameter ($3): $1 and $2 are
// the wrapper's offset and limit.
const SandboxFirstArg = 3

// SandboxQuery is one statement for the sandbox and its limits.
type SandboxQuery struct {
	Role, Schema string // the project's role and schema
	SQL          string // one read statement, never edited: it is wrapped
	// Args are the values of the statement's own parameters, $SandboxFirstArg on: the
	// wrapper's offset and limit come first.
	Args   []any
	Offset int
	Limit  int // rows handed on at most
	// Describe runs the statement to learn its columns and fetches no row.
	Describe bool
	// MaxBytes caps the text of the values handed on: the query stops before the row
	// that would pass it.
	MaxBytes int
	Timeout  time.Duration // statement and lock timeout
	// Turn, when set, is called before each piece of about TurnBytes of values handed on,
	// and what it returns after the piece: a way to let other work go first.
	Turn func(context.Context) (end func())
}

// TurnBytes is the size of the pieces of a result between calls of SandboxQuery.Turn.
const TurnBytes = 64 << 10

// Query runs one read statement for a project and hands its rows to sink as they are
// read: as the project's role, in a read-only transaction with search_path set to the
// project's schema and a statement timeout, wrapped so at most Limit rows after Offset
// come back (one more is read to tell whether rows were cut), stopping early at MaxBytes
// of values. partial says rows were cut by either cap. The transaction is rolled back and
// the connection reset with DISCARD ALL, so nothing a query does reaches the next one; a
// connection on which anything failed, or whose statement had to be cancelled through the
// driver, is closed rather than reused. A *SQLError is the statement failing, possibly
// after some rows were handed on; an error from sink is returned as it is.
func (s *Sandbox) Query(ctx context.Context, q SandboxQuery, sink RowSink) (partial bool, err error) {
	p, err := s.pool(q.Role)
	if err != nil {
		return false, err
	}
	conn, err := p.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("sandbox connection: %w", err)
	}
	reusable := false
	defer func() {
		if !reusable {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}()
	if partial, err = s.runQuery(ctx, conn, q, sink); err != nil {
		return false, err
	}
	rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// DISCARD ALL refuses to run in a transaction block: two round trips
	if _, err := conn.ExecContext(rctx, `ROLLBACK`); err != nil {
		return partial, nil
	}
	if _, err := conn.ExecContext(rctx, `DISCARD ALL`); err == nil {
		reusable = true
	}
	return partial, nil
}

// runQuery runs q in a transaction it opens and leaves open: the caller rolls it back, or
// closes the connection.
func (s *Sandbox) runQuery(ctx context.Context, conn *sql.Conn, q SandboxQuery, sink RowSink) (bool, error) {
	// the transaction, its settings and the backend's pid in one round trip (words of the
	// server's only; the last statement's row is the one returned)
	ms := strconv.FormatInt(q.Timeout.Milliseconds(), 10)
	var pid int
	if err := conn.QueryRowContext(ctx, `BEGIN READ ONLY; SET LOCAL statement_timeout = `+ms+`; SET LOCAL lock_timeout = `+ms+
		`; SET LOCAL search_path = `+pq.QuoteIdentifier(q.Schema)+`; SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		return false, fmt.Errorf("sandbox setup: %w", err)
	}
	// the columns, from the statement run for no row
	args := append([]any{q.Offset, 0}, q.Args...)
	cols, err := describe(ctx, conn, wrapped(q.SQL), args)
	if err != nil {
		return false, err
	}
	if err := sink.Columns(cols); err != nil {
		return false, err
	}
	if q.Describe {
		return false, nil
	}
	// Reading that stops before the end cancels the statement: otherwise lib/pq would
	// read and drop every remaining row when the rows are closed. A connection cancelled
	// through the driver (stop) is closed by lib/pq, never reused; one cut at the byte cap
	// is cancelled from the server's pool instead and kept (cutShort).
	qctx, stop := context.WithCancel(ctx)
	defer stop()
	args[1] = q.Limit + 1
	rows, err := conn.QueryContext(qctx, textStatement(q.SQL, cols), args...)
	if err != nil {
		return false, sqlError(err)
	}
	defer rows.Close()
	cells := make([]cell, len(cols))
	dest := make([]any, len(cols))
	for i := range cells {
		dest[i] = &cells[i]
	}
	scratch := make([][]byte, len(cols)) // per column, for values that are not sent as they are
	row := make([][]byte, len(cols))
	size, count := 0, 0
	turn, piece := q.Turn, 0
	if turn == nil {
		turn = func(context.Context) func() { return func() {} }
	}
	end := turn(ctx)
	defer func() { end() }()
	for rows.Next() {
		if size-piece >= TurnBytes {
			end()
			end, piece = turn(ctx), size
		}
		if count == q.Limit {
			return true, nil // the extra row: rows were cut
		}
		if err := rows.Scan(dest...); err != nil {
			return false, sqlError(err)
		}
		for i, c := range cells {
			if row[i], scratch[i], err = valueText(c.v, cols[i].Type, scratch[i][:0]); err != nil {
				return false, err
			}
			size += len(row[i])
		}
		if size > q.MaxBytes {
			if !s.cutShort(ctx, rows, pid, stop) {
				stop()
			}
			return true, nil
		}
		if err := sink.Row(row); err != nil {
			stop()
			return false, err
		}
		count++
	}
	if err := rows.Err(); err != nil {
		return false, sqlError(err)
	}
	return false, nil
}

// cutShortWait bounds how long a statement cut at the byte cap may take to stop after
// pg_cancel_backend before it is cancelled through the driver.
const cutShortWait = 2 * time.Second

// cutShort stops the statement of backend pid, whose rows are being read, without losing
// the connection: lib/pq cancels over a new connection to the postmaster and then closes
// this one, so the next query would fork, log in and warm a new backend (under a flood of
// capped answers that churn took processor time from everything else). Here the server's
// own pool asks PostgreSQL to cancel it, and what the backend sent before it stopped is
// read and dropped; the statement then ends with "canceling statement due to user
// request" and the connection is rolled back and reset as after any query. A cancel
// arriving after the statement ended finds the backend idle, where PostgreSQL ignores it,
// or interrupts the ROLLBACK or DISCARD ALL after it, and then the connection is closed:
// never a later query. false when the server's role may not cancel the project role's
// statements (a superuser, or a member of pg_signal_backend or of the role, may); the
// caller then cancels through the driver.
func (s *Sandbox) cutShort(ctx context.Context, rows *sql.Rows, pid int, stop func()) bool {
	if s.control == nil || pid == 0 || s.noKill.Load() {
		return false
	}
	var ok bool
	if err := s.control.GetContext(ctx, &ok, `SELECT pg_cancel_backend($1)`, pid); err != nil {
		var pe *pq.Error
		if errors.As(err, &pe) && pe.Code == "42501" { // insufficient_privilege: so it stays
			s.noKill.Store(true)
		}
		return false
	}
	if !ok {
		return false
	}
	// a backend that does not stop soon is cancelled through the driver after all
	t := time.AfterFunc(cutShortWait, stop)
	defer t.Stop()
	for rows.Next() {
	}
	return true
}

// wrapped is sql wrapped, never edited: a newline keeps a trailing line comment from
// swallowing the closing parenthesis. Offset and limit go as parameters ($1 and $2),
// which also makes lib/pq use the extended protocol: PostgreSQL itself then refuses a
// string holding more than one statement, whatever got past the check before.
func wrapped(sql string) string {
	return "SELECT * FROM (\n" + sql + "\n) AS kala_query OFFSET $1 LIMIT $2"
}

// describe runs stmt for no row (its LIMIT is 0) and returns its columns. Running it
// takes the locks the statement needs until the transaction ends, so its columns stay
// what they are for the statement run after it.
func describe(ctx context.Context, conn *sql.Conn, stmt string, args []any) ([]ResultColumn, error) {
	rows, err := conn.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, sqlError(err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, sqlError(err)
	}
	cols := make([]ResultColumn, len(types))
	for i, t := range types {
		cols[i] = resultColumn(t)
	}
	for rows.Next() {
	}
	if err := rows.Err(); err != nil {
		return nil, sqlError(err)
	}
	return cols, nil
}

// resultColumn reads a column's type modifier as lib/pq hands it on: it decodes a
// numeric's without looking for "none" (-1, read as precision 65535, scale 65531) and
// stores a scale in 11 bits with its sign, and gives a varchar(n)'s length as n, or -5
// for none.
func resultColumn(t *sql.ColumnType) ResultColumn {
	c := ResultColumn{Name: t.Name(), Type: strings.ToUpper(t.DatabaseTypeName()), Length: -1}
	if p, sc, ok := t.DecimalSize(); ok && p >= 1 && p <= 1000 {
		c.Precision, c.Scale = p, (sc&0x7ff^0x400)-0x400
	}
	if l, ok := t.Length(); ok && l >= 0 && l <= 10485760 && (c.Type == "VARCHAR" || c.Type == "BPCHAR") {
		c.Length = l
	}
	return c
}

// sqlError is a failure of the user's SQL as they should see it (Kylin's isException),
// or err itself when the fault is not theirs.
func sqlError(err error) error {
	var pe *pq.Error
	if errors.As(err, &pe) && !Unavailable(err) {
		return &SQLError{Message: pe.Message}
	}
	// a broken connection, a backend shut down, a request ended: not the user's SQL, and
	// the driver's words are not theirs to read
	return err
}
