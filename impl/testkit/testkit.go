// Package testkit starts a real Kala server on a fresh PostgreSQL database and gives
// tests an HTTP client that checks every response against openapi.yaml.
package testkit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl"
	"github.com/kala-server/kala/impl/account"
	"github.com/kala-server/kala/impl/contract"
	"github.com/kala-server/kala/impl/ratelimit"
)

// AdminPassword is the bootstrap ADMIN's password in every test server.
const AdminPassword = "Adm1n#Test-Pass"

// Env is one server over its own database.
type Env struct {
	T      testing.TB
	URL    string
	Server *impl.Server
	DB     *db.DB
	Clock  *Clock
	HTTP   *http.Client // checks every response against openapi.yaml
	Logs   *SafeBuffer  // everything the server logged
	dbName string
	cfg    impl.Config
}

// Option adjusts the server's configuration before it starts.
type Option func(*impl.Config)

// New starts a server on a new database, dropped when the test ends. It fails the test
// when no test database is configured: tests never pass by skipping.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	adminURL := os.Getenv("KALA_TEST_DATABASE_URL")
	if adminURL == "" {
		t.Fatal("KALA_TEST_DATABASE_URL is not set: run the tests with `make test`, which starts PostgreSQL")
	}
	return NewOn(t, adminURL, opts...)
}

// NewOn is New on the cluster of adminURL.
func NewOn(t testing.TB, adminURL string, opts ...Option) *Env {
	t.Helper()
	ctx := context.Background()
	name := "kala_t_" + randomHex(6)
	admin, err := sqlx.Open("postgres", adminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	tpl, err := migratedTemplate(ctx, t, admin, adminURL)
	if err != nil {
		t.Fatalf("test database template: %v", err)
	}
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+name+` TEMPLATE `+tpl); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	d, err := db.Open(ctx, withDatabase(t, adminURL, name))
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{T: t, DB: d, Clock: NewClock(time.Now()), Logs: &SafeBuffer{}, dbName: name}
	t.Cleanup(func() { e.close(adminURL) })
	// Suites send many bad credentials from one address on purpose; the rate-limit tests
	// turn the limits on with RateLimits.
	off := ratelimit.Rule{Limit: -1, Window: time.Minute}
	cfg := impl.Config{Now: e.Clock.Now, RateFailures: off, RatePasswords: off, HashParams: suiteHash}
	for _, o := range opts {
		o(&cfg)
	}
	e.cfg = cfg
	e.start()
	if _, _, err := e.Server.Accounts.Bootstrap(ctx, AdminPassword); err != nil {
		t.Fatal(err)
	}
	return e
}

// suiteHash keeps argon2id cheap in the suites, where every user made and every login
// hashes: the code path is the same, the cost is not what is tested. The benchmarks that
// measure hashing (and the tests of its cost) ask for the real parameters with RealHashing.
var suiteHash = account.HashParams{MemoryKiB: 256, Passes: 1, Lanes: 1}

// RealHashing gives the server the production password hashing parameters.
func RealHashing(c *impl.Config) { c.HashParams = account.DefaultHashParams }

// migratedTemplate is a database of the cluster holding the current migrations, which
// test databases are copied from: migrating each one took longer than the copy. Its name
// carries the migrations' digest, so processes and runs share it and a changed migration
// gets a new one. It is built under a name of its own and renamed when complete, so a
// database of that name is always complete, whoever built it.
func migratedTemplate(ctx context.Context, t testing.TB, admin *sqlx.DB, adminURL string) (string, error) {
	templateMu.Lock()
	defer templateMu.Unlock()
	name := "kala_tpl_" + db.SchemaVersion()[:16]
	if templateReady[adminURL+name] {
		return name, nil
	}
	var exists bool
	if err := admin.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name); err != nil {
		return "", err
	}
	if !exists {
		building := "kala_tplb_" + randomHex(6)
		if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+building); err != nil {
			return "", err
		}
		d, err := db.Open(ctx, withDatabase(t, adminURL, building))
		if err != nil {
			return "", err
		}
		_, err = d.Migrate(ctx)
		d.Close()
		if err == nil {
			_, err = admin.ExecContext(ctx, `ALTER DATABASE `+building+` RENAME TO `+name)
		}
		if err != nil {
			_, _ = admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+building+` WITH (FORCE)`)
			// another process may have renamed its copy first
			if e2 := admin.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name); e2 != nil || !exists {
				return "", err
			}
		}
	}
	templateReady[adminURL+name] = true
	return name, nil
}

var (
	templateMu    sync.Mutex
	templateReady = map[string]bool{}
)

// start runs a server over e.DB with e.cfg, listening for other instances' events.
func (e *Env) start() {
	t := e.T
	log := slog.New(slog.NewJSONHandler(e.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()
	var err error
	if e.Server, err = impl.New(ctx, e.DB, e.cfg, log); err != nil {
		t.Fatal(err)
	}
	lctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	if err := e.Server.Start(lctx); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(e.Server)
	t.Cleanup(ts.Close)
	e.URL = ts.URL
	e.HTTP = validatingClient(t, e)
}

// Peer starts a second server instance on the same database, as behind a load balancer:
// its own process state (caches, signing-key set), shared PostgreSQL.
func (e *Env) Peer() *Env {
	e.T.Helper()
	d, err := db.Open(context.Background(), e.DB.URL())
	if err != nil {
		e.T.Fatal(err)
	}
	e.T.Cleanup(func() { d.Close() })
	p := &Env{T: e.T, DB: d, Clock: e.Clock, Logs: &SafeBuffer{}, cfg: e.cfg}
	p.start()
	e.T.Cleanup(p.Server.Data.Sandbox.Close)
	return p
}

// close drops the database and the project roles it made: roles belong to the cluster,
// not the database, and would pile up.
func (e *Env) close(adminURL string) {
	var roles []string
	_ = e.DB.Select(&roles, `SELECT role_name FROM projects`)
	if e.Server != nil {
		e.Server.Data.Sandbox.Close()
	}
	e.DB.Close()
	admin, err := sqlx.Open("postgres", adminURL)
	if err != nil {
		return
	}
	defer admin.Close()
	_, _ = admin.Exec(`DROP DATABASE IF EXISTS ` + e.dbName + ` WITH (FORCE)`)
	for _, r := range roles {
		_, _ = admin.Exec(`DROP ROLE IF EXISTS ` + pq.QuoteIdentifier(r))
	}
}

func withDatabase(t testing.TB, raw, name string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("KALA_TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Clock is a settable clock for lockouts, expiries and validity windows.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock starts a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t.UTC().Truncate(time.Millisecond)} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// SafeBuffer is a buffer safe for concurrent writes (the server logs from many goroutines).
type SafeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SafeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SafeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// User is a test user made directly in the store (a fixture, not an API call).
type User struct {
	ID       uuid.UUID
	Name     string
	Password string
}

// NewUser stores a user with the given permissions.
func (e *Env) NewUser(name string, admin bool, permissions ...string) User {
	e.T.Helper()
	ctx := context.Background()
	pw := "Pw#" + randomHex(6) + "x1"
	hash, err := e.Server.Accounts.Hasher.Hash(ctx, pw)
	if err != nil {
		e.T.Fatal(err)
	}
	now := e.Clock.Now()
	auths := []string{account.AuthorityAllUsers}
	if admin {
		auths = append(auths, account.AuthorityAdmin)
	}
	if permissions == nil {
		permissions = []string{}
	}
	u := &db.User{ID: uuid.Must(uuid.NewV7()), Username: name, UsernameKey: account.UsernameKey(name),
		Admin: admin, Authorities: auths, Permissions: permissions,
		CredentialVersion: 1, CreatedAt: now, ModifiedAt: now}
	if err := db.InsertUser(ctx, e.DB, u, hash); err != nil {
		e.T.Fatalf("new user %s: %v", name, err)
	}
	return User{ID: u.ID, Name: name, Password: pw}
}

// Permission ids by name, from the contract.
func (e *Env) Permission(name string) string {
	e.T.Helper()
	return catalogID(e.T, "permission", name, e.Server.Contract.PermissionByName(name), func(p *contract.Permission) string { return p.ID })
}

// Service ids by name ("users", "datastores", "query"), from the contract.
func (e *Env) Service(name string) string {
	e.T.Helper()
	return catalogID(e.T, "service", name, e.Server.Contract.ServiceByName(name), func(s *contract.Service) string { return s.ID })
}

// catalogID is the id of a catalog entry looked up by name, failing the test when there
// is none.
func catalogID[T any](t testing.TB, kind, name string, entry *T, id func(*T) string) string {
	t.Helper()
	if entry == nil {
		t.Fatalf("no %s named %s", kind, name)
		return ""
	}
	return id(entry)
}

// MustNotLog fails the test if the server's log contains secret.
func (e *Env) MustNotLog(secret string) {
	e.T.Helper()
	if secret != "" && strings.Contains(e.Logs.String(), secret) {
		e.T.Errorf("the server log contains a secret (%.12s…)", secret)
	}
}

// Sprintf is fmt.Sprintf, for building paths.
var Sprintf = fmt.Sprintf

// Eventually polls cond every 20 ms until it holds, failing the test after 30 s. For
// what crosses processes asynchronously (NOTIFY between instances, a server starting),
// never as a sleep.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ChangedBehindItsBack tells the server that the test edited users or keys in the
// database directly, as every change through a server does (LISTEN/NOTIFY): it forgets
// what it keeps of them.
func (e *Env) ChangedBehindItsBack() {
	e.Server.Principals.Pause(false)
	e.Server.Basic.DropAll()
}

// Reset forgets what was written (a long benchmark would otherwise keep every line).
func (s *SafeBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}
