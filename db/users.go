package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

// User is a row of users.
type User struct {
	ID                uuid.UUID      `db:"id"`
	Username          string         `db:"username"`
	UsernameKey       string         `db:"username_key"`
	PasswordHash      string         `db:"password_hash"`
	Admin             bool           `db:"admin"`
	Builtin           bool           `db:"builtin"`
	Disabled          bool           `db:"disabled"`
	DefaultPassword   bool           `db:"default_password"`
	Authorities       pq.StringArray `db:"authorities"`
	Permissions       pq.StringArray `db:"permissions"`
	CredentialVersion int64          `db:"credential_version"`
	CreatedAt         time.Time      `db:"created_at"`
	ModifiedAt        time.Time      `db:"modified_at"`
}

const userColumns = `id, username, username_key, password_hash, admin, builtin, disabled,
	default_password, authorities, permissions, credential_version, created_at, modified_at`

// InsertUser stores a new user; ErrDuplicate when the name is taken in any case.
func InsertUser(ctx context.Context, q Queryer, u *User) error {
	_, err := q.ExecContext(ctx, `INSERT INTO users (`+userColumns+`)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)`,
		u.ID, u.Username, u.UsernameKey, u.PasswordHash, u.Admin, u.Builtin, u.Disabled,
		u.DefaultPassword, u.Authorities, u.Permissions, u.CredentialVersion, u.CreatedAt, u.ModifiedAt)
	return mapErr(err)
}

// UserByID loads one user.
func UserByID(ctx context.Context, q Queryer, id uuid.UUID) (*User, error) {
	var u User
	err := q.GetContext(ctx, &u, `SELECT `+userColumns+` FROM users WHERE id = $1`, id)
	if err != nil {
		return nil, mapErr(err)
	}
	return &u, nil
}

// UserByKey loads one user by case-folded name.
func UserByKey(ctx context.Context, q Queryer, key string) (*User, error) {
	var u User
	err := q.GetContext(ctx, &u, `SELECT `+userColumns+` FROM users WHERE username_key = $1`, key)
	if err != nil {
		return nil, mapErr(err)
	}
	return &u, nil
}

// AnyUser reports whether at least one user exists.
func AnyUser(ctx context.Context, q Queryer) (bool, error) {
	var ok bool
	err := q.GetContext(ctx, &ok, `SELECT EXISTS (SELECT 1 FROM users)`)
	return ok, mapErr(err)
}

// SetPassword replaces a user's password hash, ends its old credentials (tokens carry the
// version) and clears the login-failure counter of its name.
func SetPassword(ctx context.Context, q Queryer, id uuid.UUID, hash string, isDefault bool, now time.Time) error {
	var key string
	err := q.GetContext(ctx, &key, `UPDATE users SET password_hash = $2, default_password = $3,
		credential_version = credential_version + 1, modified_at = $4
		WHERE id = $1 RETURNING username_key`, id, hash, isDefault, now)
	if err != nil {
		return mapErr(err)
	}
	_, err = q.ExecContext(ctx, `DELETE FROM login_failures WHERE username_key = $1`, key)
	return mapErr(err)
}
