// Package db is the only place that speaks SQL. It knows PostgreSQL and nothing of HTTP.
package db

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"path"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// SchemaVersion names the schema the migrations make: a digest of every migration file.
// Two databases migrated from the same SchemaVersion have the same schema.
func SchemaVersion() string {
	h := sha256.New()
	entries, _ := migrations.ReadDir("migrations")
	for _, e := range entries {
		b, _ := migrations.ReadFile("migrations/" + e.Name())
		h.Write([]byte(e.Name()))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

var (
	// ErrNotFound: no row matched.
	ErrNotFound = errors.New("not found")
	// ErrDuplicate: a unique constraint refused the write.
	ErrDuplicate = errors.New("duplicate")
)

// DB is the server's connection pool.
type DB struct {
	*sqlx.DB
	url   string
	stmts sync.Map // query text → *sqlx.Stmt, for the per-request reads
}

// Queryer is what both *DB and a transaction offer.
type Queryer interface {
	sqlx.ExtContext
	GetContext(ctx context.Context, dest any, query string, args ...any) error
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// Open connects and checks the database answers.
func Open(ctx context.Context, url string) (*DB, error) {
	x, err := sqlx.Open("postgres", url)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	// as many idle as open: under load a returned connection stays for the next request
	// instead of being closed and a new backend started (which re-prepares the hot
	// statements); idle ones still close after a while
	n := DefaultMaxConns()
	x.SetMaxOpenConns(n)
	x.SetMaxIdleConns(n)
	x.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := x.PingContext(pctx); err != nil {
		x.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return &DB{DB: x, url: url}, nil
}

// hot returns a statement for a read that runs on every authenticated request or list,
// prepared once per pool: PostgreSQL then plans it once per connection instead of every time.
func (d *DB) hot(ctx context.Context, query string) (*sqlx.Stmt, error) {
	if st, ok := d.stmts.Load(query); ok {
		return st.(*sqlx.Stmt), nil
	}
	st, err := d.PreparexContext(ctx, query)
	if err != nil {
		return nil, mapErr(err)
	}
	if prev, loaded := d.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sqlx.Stmt), nil
	}
	return st, nil
}

// get reads one row into dest, through a prepared statement when q is the pool itself.
func get(ctx context.Context, q Queryer, dest any, query string, args ...any) error {
	if d, ok := q.(*DB); ok {
		st, err := d.hot(ctx, query)
		if err != nil {
			return err
		}
		return mapErr(st.GetContext(ctx, dest, args...))
	}
	return mapErr(q.GetContext(ctx, dest, query, args...))
}

// selectAll reads rows into dest, through a prepared statement when q is the pool itself
// (for the lists: their plans cost more than running them).
func selectAll(ctx context.Context, q Queryer, dest any, query string, args ...any) error {
	if d, ok := q.(*DB); ok {
		st, err := d.hot(ctx, query)
		if err != nil {
			return err
		}
		return mapErr(st.SelectContext(ctx, dest, args...))
	}
	return mapErr(q.SelectContext(ctx, dest, query, args...))
}

// DefaultMaxConns is how many connections the server's pool opens at most unless told
// otherwise: four per processor of this machine, at least eight. More connections than
// PostgreSQL has cores to run them does not make it faster: measured on 2 cores with
// PostgreSQL beside the server, a pool of 40 let 32 clients keep 32 backends busy and
// the 1-record user list cost 416–471 µs of CPU per request; with 8 it cost 178–198 µs
// and answered twice as fast. A database on a larger machine wants KALA_DB_CONNS.
func DefaultMaxConns() int { return max(8, 4*runtime.GOMAXPROCS(0)) }

// SetMaxConns sets how many connections the pool opens at most, all kept when idle.
func (d *DB) SetMaxConns(n int) {
	d.SetMaxOpenConns(n)
	d.SetMaxIdleConns(n)
}

// URL is the connection string (for LISTEN connections).
func (d *DB) URL() string { return d.url }

// Migration is what Migrate did.
type Migration struct {
	Applied []string // the migration files applied now, in order (none: up to date)
	Version int64    // the database's schema version afterwards
}

// Migrate applies every pending migration. A PostgreSQL session lock makes concurrent
// starts of several instances take turns.
func (d *DB) Migrate(ctx context.Context) (Migration, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return Migration{}, err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return Migration{}, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, d.DB.DB, sub, goose.WithSessionLocker(locker))
	if err != nil {
		return Migration{}, fmt.Errorf("migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return Migration{}, fmt.Errorf("migrate: %w", err)
	}
	var m Migration
	for _, r := range res {
		m.Applied = append(m.Applied, path.Base(r.Source.Path))
	}
	if m.Version, err = p.GetDBVersion(ctx); err != nil {
		return Migration{}, fmt.Errorf("migrations: read the version: %w", err)
	}
	return m, nil
}

// Tx runs fn in a transaction, committing when it returns nil.
func (d *DB) Tx(ctx context.Context, fn func(tx Queryer) error) error {
	tx, err := d.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return mapErr(err)
	}
	return nil
}

// WithAdvisoryLock runs fn while holding a transaction-scoped advisory lock, so that
// one instance at a time does a start-up chore (bootstrap, first signing key).
func (d *DB) WithAdvisoryLock(ctx context.Context, key int64, fn func(tx Queryer) error) error {
	return d.Tx(ctx, func(tx Queryer) error {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, key); err != nil {
			return fmt.Errorf("advisory lock: %w", err)
		}
		return fn(tx)
	})
}

// Lock keys for WithAdvisoryLock.
const (
	LockBootstrap   int64 = 0x6b616c6101
	LockSigningKeys int64 = 0x6b616c6102
	lockAdmins      int64 = 0x6b616c6103 // LockAdmins
)

// mapErr turns driver errors into this package's sentinels.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	var pe *pq.Error
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w: %s", ErrDuplicate, pe.Constraint)
		case "42P07": // duplicate_table: CREATE TABLE of a name that exists
			return fmt.Errorf("%w: table", ErrDuplicate)
		}
	}
	return err
}

// Unavailable reports an error that says the database could not be reached or went
// away (as opposed to refusing a statement): the caller should answer "try again".
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ENOENT) {
		return true
	}
	var pe *pq.Error
	if errors.As(err, &pe) {
		switch pe.Code.Class() {
		case "08", "53", "57": // connection exception, insufficient resources, operator intervention
			return pe.Code != "57014" // 57014: query_canceled (a statement timeout) is the statement's fault
		}
		return false
	}
	var ne net.Error
	return errors.As(err, &ne)
}
