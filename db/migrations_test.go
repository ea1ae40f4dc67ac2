package db

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"net/url"
	"os"
	"slices"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/pressly/goose/v3"
)

// migrationDB is a new, empty database of the test cluster, dropped when the test ends,
// with a goose provider over this package's migrations.
func migrationDB(t *testing.T) (*DB, *goose.Provider) {
	t.Helper()
	ctx := context.Background()
	adminURL := os.Getenv("KALA_TEST_DATABASE_URL")
	if adminURL == "" {
		t.Fatal("KALA_TEST_DATABASE_URL is not set: run the tests with `make test`, which starts PostgreSQL")
	}
	admin, err := sqlx.Open("postgres", adminURL)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "kala_mig_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	d, err := Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Close()
		_, _ = admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
		admin.Close()
	})
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, d.DB.DB, sub)
	if err != nil {
		t.Fatal(err)
	}
	return d, p
}

// Migration 00009 keeps admin in the admin column only: every admin stays one (the
// built-in ADMIN whatever its row said), a ROLE_ADMIN without the column gave no rights
// and goes, and reads still list ROLE_ADMIN for admins. Down puts ROLE_ADMIN back where
// the old code wrote it.
func TestMigrationAdminOnce(t *testing.T) {
	ctx := context.Background()
	d, p := migrationDB(t)
	if _, err := p.UpTo(ctx, 8); err != nil {
		t.Fatal(err)
	}
	type row struct {
		name    string
		admin   bool
		builtin bool
		auths   []string
	}
	before := []row{
		{"ADMIN", true, true, []string{"ALL_USERS", "ROLE_ADMIN"}},
		{"anna", true, false, []string{"ALL_USERS", "ROLE_ADMIN", "ROLE_MODELER"}},
		{"bob", false, false, []string{"ALL_USERS", "ROLE_ANALYST"}},
		{"carl", false, false, []string{"ALL_USERS", "ROLE_ADMIN"}}, // the column says no
		{"dora", true, false, []string{"ALL_USERS"}},                // the column says yes
		{"edna", false, true, []string{"ALL_USERS"}},                // built in: admin by definition
	}
	for _, r := range before {
		if _, err := d.ExecContext(ctx, `INSERT INTO users (id, username, username_key, password_hash, admin, builtin,
			authorities, created_at, modified_at) VALUES (gen_random_uuid(), $1, lower($1), 'x', $2, $3, $4, now(), now())`,
			r.name, r.admin, r.builtin, pq.StringArray(r.auths)); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string, want []row) {
		t.Helper()
		for _, w := range want {
			var got struct {
				Admin bool           `db:"admin"`
				Auths pq.StringArray `db:"authorities"`
			}
			if err := d.GetContext(ctx, &got, `SELECT admin, authorities FROM users WHERE username = $1`, w.name); err != nil {
				t.Fatal(err)
			}
			if got.Admin != w.admin || !slices.Equal(got.Auths, w.auths) {
				t.Errorf("%s: %s stored admin %v, authorities %v; want %v, %v", when, w.name, got.Admin, got.Auths, w.admin, w.auths)
			}
		}
	}

	if _, err := p.UpTo(ctx, 9); err != nil {
		t.Fatal(err)
	}
	check("up", []row{
		{name: "ADMIN", admin: true, auths: []string{"ALL_USERS"}},
		{name: "anna", admin: true, auths: []string{"ALL_USERS", "ROLE_MODELER"}},
		{name: "bob", admin: false, auths: []string{"ALL_USERS", "ROLE_ANALYST"}},
		{name: "carl", admin: false, auths: []string{"ALL_USERS"}},
		{name: "dora", admin: true, auths: []string{"ALL_USERS"}},
		{name: "edna", admin: true, auths: []string{"ALL_USERS"}},
	})
	// reads derive ROLE_ADMIN, in the place it had
	for name, want := range map[string][]string{"anna": {"ALL_USERS", "ROLE_ADMIN", "ROLE_MODELER"},
		"bob": {"ALL_USERS", "ROLE_ANALYST"}, "carl": {"ALL_USERS"}, "dora": {"ALL_USERS", "ROLE_ADMIN"}} {
		u, err := UserByKey(ctx, d, name)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(u.Authorities, want) {
			t.Errorf("%s reads as %v, want %v", name, u.Authorities, want)
		}
	}
	// and nothing stores it a second time
	if _, err := d.ExecContext(ctx, `UPDATE users SET authorities = '{ALL_USERS,ROLE_ADMIN}' WHERE username = 'bob'`); err == nil {
		t.Error("ROLE_ADMIN was stored in authorities")
	}

	if _, err := p.DownTo(ctx, 8); err != nil {
		t.Fatal(err)
	}
	check("down", []row{
		{name: "ADMIN", admin: true, auths: []string{"ALL_USERS", "ROLE_ADMIN"}},
		{name: "anna", admin: true, auths: []string{"ALL_USERS", "ROLE_ADMIN", "ROLE_MODELER"}},
		{name: "bob", admin: false, auths: []string{"ALL_USERS", "ROLE_ANALYST"}},
		{name: "carl", admin: false, auths: []string{"ALL_USERS"}},
		{name: "dora", admin: true, auths: []string{"ALL_USERS", "ROLE_ADMIN"}},
		{name: "edna", admin: true, auths: []string{"ALL_USERS", "ROLE_ADMIN"}},
	})
}
