package db

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

// User is a row of users. Authorities are the built-in groups the user is in: ALL_USERS,
// ROLE_ADMIN exactly when Admin, any of ROLE_MODELER and ROLE_ANALYST. Admin is the one
// stored fact: reads derive ROLE_ADMIN from it, and writes do not keep ROLE_ADMIN.
type User struct {
	ID                uuid.UUID      `db:"id"`
	Username          string         `db:"username"`
	UsernameKey       string         `db:"username_key"`
	Admin             bool           `db:"admin"`
	Builtin           bool           `db:"builtin"`
	Disabled          bool           `db:"disabled"`
	DefaultPassword   bool           `db:"default_password"`
	Authorities       pq.StringArray `db:"authorities"`
	Permissions       pq.StringArray `db:"permissions"`
	CredentialVersion int64          `db:"credential_version"`
	CreatedAt         time.Time      `db:"created_at"`
	ModifiedAt        time.Time      `db:"modified_at"`
	// Groups are the names of the user groups the user is in (beside the built-in ones in
	// Authorities), when read with selectUser.
	Groups pq.StringArray `db:"groups"`

	// The login-failure counter of the user's name (Kylin shows it on the user).
	LockedUntil   *time.Time `db:"locked_until"`
	WrongCount    *int       `db:"failures"`
	FirstFailedAt *time.Time `db:"first_failed_at"`
	LastFailedAt  *time.Time `db:"last_failed_at"`
}

// userColumns reads a row of users as u, ROLE_ADMIN derived from admin where it was
// stored before migration 00009: after ALL_USERS.
const userColumns = `u.id, u.username, u.username_key, u.admin, u.builtin, u.disabled,
	u.default_password,
	CASE WHEN u.admin THEN u.authorities[:1] || '{` + roleAdmin + `}'::text[] || u.authorities[2:] ELSE u.authorities END AS authorities,
	u.permissions, u.credential_version, u.created_at, u.modified_at`

// roleAdmin is the authority that users.admin stands for.
const roleAdmin = "ROLE_ADMIN"

// selectUser reads users with their user groups and their names' failure counters.
const selectUser = `SELECT ` + userColumns + `,
	` + userGroupNames + `, f.locked_until, f.failures, f.first_failed_at, f.last_failed_at
	FROM users u LEFT JOIN login_failures f ON f.username_key = u.username_key`

// selectUserPage reads the users that page picks (a SELECT of users u rows, with its own
// ORDER BY and LIMIT), in name order, with the columns extra names if any, with their user groups and their names' failure
// counters: the groups and counters are joined for the page's rows alone, in one pass,
// not looked up row by row.
func selectUserPage(page, extra string) string {
	if extra != "" {
		extra = ", " + extra
	}
	return `WITH page AS (` + page + `)
	SELECT ` + userColumns + `, coalesce(gm.names, '{}') AS groups` + extra + `,
	f.locked_until, f.failures, f.first_failed_at, f.last_failed_at
	FROM page u LEFT JOIN login_failures f ON f.username_key = u.username_key
	LEFT JOIN (SELECT m.user_id, array_agg(g.name ORDER BY g.name_key) AS names
		FROM group_members m JOIN user_groups g ON g.id = m.group_id
		WHERE m.user_id IN (SELECT id FROM page) GROUP BY m.user_id) gm ON gm.user_id = u.id
	ORDER BY u.username_key`
}

// storedAuthorities is what the authorities column keeps of a user's: all but ROLE_ADMIN,
// which is the admin column's.
func storedAuthorities(u *User) pq.StringArray {
	out := pq.StringArray{}
	for _, a := range u.Authorities {
		if a != roleAdmin {
			out = append(out, a)
		}
	}
	return out
}

// InsertUser stores a new user with its password hash; ErrDuplicate when the name is
// taken in any case.
func InsertUser(ctx context.Context, q Queryer, u *User, passwordHash string) error {
	_, err := q.ExecContext(ctx, `INSERT INTO users (id, username, username_key, password_hash, admin, builtin,
		disabled, default_password, authorities, permissions, credential_version, created_at, modified_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)`,
		u.ID, u.Username, u.UsernameKey, passwordHash, u.Admin, u.Builtin, u.Disabled,
		u.DefaultPassword, storedAuthorities(u), u.Permissions, u.CredentialVersion, u.CreatedAt, u.ModifiedAt)
	return mapErr(err)
}

// UserByID loads one user.
func UserByID(ctx context.Context, q Queryer, id uuid.UUID) (*User, error) {
	var u User
	if err := get(ctx, q, &u, selectUser+` WHERE u.id = $1`, id); err != nil {
		return nil, err
	}
	return &u, nil
}

// UserByKey loads one user by case-folded name.
func UserByKey(ctx context.Context, q Queryer, key string) (*User, error) {
	var u User
	err := q.GetContext(ctx, &u, selectUser+` WHERE u.username_key = $1`, key)
	if err != nil {
		return nil, mapErr(err)
	}
	return &u, nil
}

// UserByKeyWithHash loads one user by case-folded name with their password hash: the
// only read of a hash, for verifying a password. A User never carries it, so no cache
// or face holds one.
func UserByKeyWithHash(ctx context.Context, q Queryer, key string) (*User, string, error) {
	var r struct {
		User
		PasswordHash string `db:"password_hash"`
	}
	err := q.GetContext(ctx, &r, strings.Replace(selectUser, "SELECT ", "SELECT u.password_hash, ", 1)+` WHERE u.username_key = $1`, key)
	if err != nil {
		return nil, "", mapErr(err)
	}
	return &r.User, r.PasswordHash, nil
}

// AnyUser reports whether at least one user exists.
func AnyUser(ctx context.Context, q Queryer) (bool, error) {
	var ok bool
	err := q.GetContext(ctx, &ok, `SELECT EXISTS (SELECT 1 FROM users)`)
	return ok, mapErr(err)
}

// SetPassword replaces a user's password hash, ends its old credentials (tokens carry the
// version) and clears the login-failure counter of its name.
// Every session of the user ends but keepSession (the one making the change, if any).
func SetPassword(ctx context.Context, q Queryer, id uuid.UUID, hash string, isDefault bool, now time.Time, keepSession []byte) error {
	var key string
	err := q.GetContext(ctx, &key, `UPDATE users SET password_hash = $2, default_password = $3,
		credential_version = credential_version + 1, modified_at = $4
		WHERE id = $1 RETURNING username_key`, id, hash, isDefault, now)
	if err != nil {
		return mapErr(err)
	}
	if err = ClearLoginFailures(ctx, q, key); err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1 AND id_hash IS DISTINCT FROM $2`, id, keepSession)
	return mapErr(err)
}

// UserPage asks for a page of users in name order (normalised names).
type UserPage struct {
	Filter        string // only names containing this; "" for all
	CaseSensitive bool   // Filter is matched against the name as spelled, not normalised
	After         string // only names after this normalised name (keyset continuation)
	Offset, Limit int    // rows skipped (after After), rows at most
}

// ListUsers returns a page of users, how many users the whole list holds (all users that
// match Filter, wherever the page starts) and whether more follow the page. The
// unfiltered total is kept in row_counts, exact and read in one lookup; a filtered total
// counts the matches. The total comes with the page, in one statement, except for a page
// deep in the unfiltered list: that one is read from the end of the name index when that
// is nearer, so the last page costs what the first does. After pages never skip rows.
func ListUsers(ctx context.Context, q Queryer, p UserPage) (us []User, total int, more bool, err error) {
	col := "username_key"
	if p.CaseSensitive {
		col = "username"
	}
	var conds []string
	args := []any{}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	totalSQL, totalArgs := `(SELECT n FROM row_counts WHERE name = 'users')`, []any{}
	if p.Filter != "" {
		f := arg(p.Filter)
		conds = append(conds, `strpos(u.`+col+`, `+f+`) > 0`)
		totalSQL, totalArgs = `(SELECT count(*) FROM users c WHERE strpos(c.`+col+`, `+f+`) > 0)`, args[:1]
	}
	if len(conds) == 0 && p.After == "" && p.Offset > 0 {
		if err = get(ctx, q, &total, totalSQL); err != nil {
			return nil, 0, false, err
		}
		if p.Offset > total/2 && p.Offset < total {
			// nearer the end: skip from there (selectUserPage puts the page back in order)
			n := min(p.Limit, total-p.Offset)
			err = selectAll(ctx, q, &us, selectUserPage(`SELECT * FROM users ORDER BY username_key DESC OFFSET `+
				arg(total-p.Offset-n)+` LIMIT `+arg(n), ""), args...)
			return us, total, p.Offset+n < total, err
		}
	}
	if p.After != "" {
		conds = append(conds, `u.username_key > `+arg(p.After))
	}
	where := ""
	if len(conds) > 0 {
		where = ` WHERE ` + strings.Join(conds, ` AND `)
	}
	// one row more than the page tells whether more follow
	var rows []struct {
		User
		Total int `db:"total"`
	}
	if err = selectAll(ctx, q, &rows, selectUserPage(`SELECT * FROM users u`+where+` ORDER BY u.username_key OFFSET `+
		arg(p.Offset)+` LIMIT `+arg(p.Limit+1), totalSQL+` AS total`), args...); err != nil {
		return nil, 0, false, err
	}
	if len(rows) == 0 {
		// an empty page says no total: ask apart
		if err = get(ctx, q, &total, totalSQL, totalArgs...); err != nil {
			return nil, 0, false, err
		}
		return []User{}, total, false, nil
	}
	if more = len(rows) > p.Limit; more {
		rows = rows[:p.Limit]
	}
	us = make([]User, len(rows))
	for i := range rows {
		us[i] = rows[i].User
	}
	return us, rows[0].Total, more, nil
}

// UserForUpdate loads a user and locks its row until the transaction ends.
func UserForUpdate(ctx context.Context, q Queryer, id uuid.UUID) (*User, error) {
	var u User
	err := q.GetContext(ctx, &u, `SELECT `+userColumns+` FROM users u WHERE u.id = $1 FOR UPDATE`, id)
	if err != nil {
		return nil, mapErr(err)
	}
	return &u, nil
}

// UpdateUser writes a user's rights and state. bump ends their tokens and sessions.
func UpdateUser(ctx context.Context, q Queryer, u *User, bump bool, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE users SET admin = $2, disabled = $3, authorities = $4, permissions = $5,
		credential_version = credential_version + CASE WHEN $6 THEN 1 ELSE 0 END, modified_at = $7 WHERE id = $1`,
		u.ID, u.Admin, u.Disabled, storedAuthorities(u), u.Permissions, bump, now)
	if err != nil {
		return mapErr(err)
	}
	if bump {
		_, err = q.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1`, u.ID)
	}
	return mapErr(err)
}

// DeleteUser removes a user; keys, sessions and access entries go with it (foreign keys),
// and so does the failure counter of the name, so a new user of that name inherits nothing.
func DeleteUser(ctx context.Context, q Queryer, id uuid.UUID) error {
	var key string
	if err := q.GetContext(ctx, &key, `DELETE FROM users WHERE id = $1 RETURNING username_key`, id); err != nil {
		return mapErr(err)
	}
	return ClearLoginFailures(ctx, q, key)
}

// LockAdmins makes the transaction the only one, cluster-wide, that may take an enabled
// admin away (disable, demote, delete) until it ends, so that OtherActiveAdmins stays
// true until then. Take it before any user row: the transactions that wait for it then
// hold no row another one could wait for.
func LockAdmins(ctx context.Context, q Queryer) error {
	_, err := q.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, lockAdmins)
	return mapErr(err)
}

// OtherActiveAdmins counts enabled admins other than id.
func OtherActiveAdmins(ctx context.Context, q Queryer, id uuid.UUID) (int, error) {
	var n int
	err := q.GetContext(ctx, &n, `SELECT count(*) FROM users WHERE admin AND NOT disabled AND id <> $1`, id)
	return n, mapErr(err)
}
