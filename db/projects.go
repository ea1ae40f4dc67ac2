package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

// Project is a row of projects (a Kala datastore).
type Project struct {
	ID          uuid.UUID  `db:"id"`
	Name        string     `db:"name"`
	NameKey     string     `db:"name_key"`
	Description string     `db:"description"`
	OwnerID     *uuid.UUID `db:"owner_id"`
	OwnerName   *string    `db:"owner_name"`
	SchemaName  string     `db:"schema_name"`
	RoleName    string     `db:"role_name"`
	CreatedAt   time.Time  `db:"created_at"`
	ModifiedAt  time.Time  `db:"modified_at"`
	// Level is the caller's access-list level (0: none), when loaded for a user: the
	// highest of its own entry and its groups'.
	Level int `db:"level"`
}

const selectProject = `SELECT p.id, p.name, p.name_key, p.description, p.owner_id, u.username AS owner_name,
	p.schema_name, p.role_name, p.created_at, p.modified_at, COALESCE(a.level, 0) AS level
	FROM projects p LEFT JOIN users u ON u.id = p.owner_id` + accessLevelJoin

// ProjectByID loads a project with userID's access level.
func ProjectByID(ctx context.Context, q Queryer, userID, id uuid.UUID) (*Project, error) {
	var p Project
	if err := q.GetContext(ctx, &p, selectProject+` WHERE p.id = $2`, userID, id); err != nil {
		return nil, mapErr(err)
	}
	return &p, nil
}

// ProjectByName loads a project by name (any case) with userID's access level.
func ProjectByName(ctx context.Context, q Queryer, userID uuid.UUID, nameKey string) (*Project, error) {
	var p Project
	if err := q.GetContext(ctx, &p, selectProject+` WHERE p.name_key = $2`, userID, nameKey); err != nil {
		return nil, mapErr(err)
	}
	return &p, nil
}

// ListProjects returns a page of projects in name order: all of them, or with onlyListed
// those on userID's access list; filter keeps names containing it (exact: equal to it).
// With onlyListed, minLevel keeps projects where the user's level is at least it.
func ListProjects(ctx context.Context, q Queryer, userID uuid.UUID, onlyListed bool, minLevel int, filter string, exact bool, offset, limit int) ([]Project, int, error) {
	where := ` WHERE ($2 = false OR COALESCE(a.level, 0) >= GREATEST($5::int, 1))
		AND ($3 = '' OR (CASE WHEN $4 THEN p.name_key = $3 ELSE strpos(p.name_key, $3) > 0 END))`
	var ps []Project
	if err := q.SelectContext(ctx, &ps, selectProject+where+` ORDER BY p.name_key OFFSET $6 LIMIT $7`,
		userID, onlyListed, filter, exact, minLevel, offset, limit); err != nil {
		return nil, 0, mapErr(err)
	}
	var total int
	err := q.GetContext(ctx, &total, `SELECT count(*) FROM projects p`+accessLevelJoin+where,
		userID, onlyListed, filter, exact, minLevel)
	return ps, total, mapErr(err)
}

// InsertProject stores the row; ErrDuplicate when the name is taken in any case.
func InsertProject(ctx context.Context, q Queryer, p *Project) error {
	_, err := q.ExecContext(ctx, `INSERT INTO projects (id, name, name_key, description, owner_id, schema_name,
		role_name, created_at, modified_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
		p.ID, p.Name, p.NameKey, p.Description, p.OwnerID, p.SchemaName, p.RoleName, p.CreatedAt, p.ModifiedAt)
	return mapErr(err)
}

// SchemaExists reports whether the database has a schema of that name in any case.
func SchemaExists(ctx context.Context, q Queryer, name string) (bool, error) {
	var ok bool
	err := q.GetContext(ctx, &ok, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE lower(nspname) = lower($1))`, name)
	return ok, mapErr(err)
}

// CreateProjectStorage makes the project's schema and its read-only role. Names come
// from the project's UUID, never from user text, and are quoted all the same.
func CreateProjectStorage(ctx context.Context, q Queryer, schema, role string) error {
	s, r := pq.QuoteIdentifier(schema), pq.QuoteIdentifier(role)
	for _, stmt := range []string{
		`CREATE SCHEMA ` + s,
		`CREATE ROLE ` + r + ` NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS`,
		`GRANT USAGE ON SCHEMA ` + s + ` TO ` + r,
	} {
		if _, err := q.ExecContext(ctx, stmt); err != nil {
			return mapErr(err)
		}
	}
	return nil
}

// UpdateProjectDescription changes the description.
func UpdateProjectDescription(ctx context.Context, q Queryer, id uuid.UUID, desc string, now time.Time) error {
	res, err := q.ExecContext(ctx, `UPDATE projects SET description = $2, modified_at = $3 WHERE id = $1`, id, desc, now)
	if err != nil {
		return mapErr(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteProject removes the row, the schema with its tables, and the role.
func DeleteProject(ctx context.Context, q Queryer, p *Project) error {
	res, err := q.ExecContext(ctx, `DELETE FROM projects WHERE id = $1`, p.ID)
	if err != nil {
		return mapErr(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	r := pq.QuoteIdentifier(p.RoleName)
	for _, stmt := range []string{
		`DROP SCHEMA IF EXISTS ` + pq.QuoteIdentifier(p.SchemaName) + ` CASCADE`,
		`DELETE FROM table_rows WHERE schema_name = ` + pq.QuoteLiteral(p.SchemaName),
		`DROP OWNED BY ` + r,
		`DROP ROLE IF EXISTS ` + r,
	} {
		if _, err := q.ExecContext(ctx, stmt); err != nil {
			return mapErr(err)
		}
	}
	return nil
}

// Grantee is whom an access entry names: a user, or a group (Group).
type Grantee struct {
	ID    uuid.UUID
	Group bool
}

// accessTable is the table of g's kind of entries and its column naming g: fixed text,
// never from a request.
func (g Grantee) accessTable() (table, column string) {
	if g.Group {
		return "project_group_access", "group_id"
	}
	return "project_access", "user_id"
}

// AddAccess puts a user or group on a project's access list; ErrDuplicate if already there.
func AddAccess(ctx context.Context, q Queryer, projectID uuid.UUID, g Grantee, level int, now time.Time) error {
	table, col := g.accessTable()
	_, err := q.ExecContext(ctx, `INSERT INTO `+table+` (project_id, `+col+`, level, created_at) VALUES ($1,$2,$3,$4)`,
		projectID, g.ID, level, now)
	return mapErr(err)
}

// ChangeAccess changes the level of a user or group already listed; ErrNotFound otherwise.
func ChangeAccess(ctx context.Context, q Queryer, projectID uuid.UUID, g Grantee, level int) error {
	table, col := g.accessTable()
	res, err := q.ExecContext(ctx, `UPDATE `+table+` SET level = $3 WHERE project_id = $1 AND `+col+` = $2`, projectID, g.ID, level)
	if err != nil {
		return mapErr(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// SetAccess puts a user on a project's access list at level (1..4), or changes the level.
func SetAccess(ctx context.Context, q Queryer, projectID, userID uuid.UUID, level int, now time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO project_access (project_id, user_id, level, created_at)
		VALUES ($1,$2,$3,$4) ON CONFLICT (project_id, user_id) DO UPDATE SET level = EXCLUDED.level`,
		projectID, userID, level, now)
	return mapErr(err)
}

// RemoveAccess takes a user or group off a project's access list.
func RemoveAccess(ctx context.Context, q Queryer, projectID uuid.UUID, g Grantee) error {
	table, col := g.accessTable()
	res, err := q.ExecContext(ctx, `DELETE FROM `+table+` WHERE project_id = $1 AND `+col+` = $2`, projectID, g.ID)
	if err != nil {
		return mapErr(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// AccessEntry is one line of an access list: a user's, or a group's (Group).
type AccessEntry struct {
	ID        uuid.UUID `db:"id"`
	Name      string    `db:"name"`
	Group     bool      `db:"is_group"`
	Level     int       `db:"level"`
	CreatedAt time.Time `db:"created_at"`
}

// accessEntries is a project's ($1) access list, users' and groups' entries, filtered
// by a folded-name substring ($2).
const accessEntries = ` FROM (
		SELECT a.user_id AS id, u.username AS name, u.username_key AS name_key, false AS is_group, a.level, a.created_at
		FROM project_access a JOIN users u ON u.id = a.user_id WHERE a.project_id = $1
		UNION ALL
		SELECT ga.group_id, g.name, g.name_key, true, ga.level, ga.created_at
		FROM project_group_access ga JOIN user_groups g ON g.id = ga.group_id WHERE ga.project_id = $1
	) e WHERE $2 = '' OR strpos(e.name_key, $2) > 0`

// AccessList returns a page of a project's access list in name order (a user before a
// group of the same name), filtered by a folded-name substring, and its size.
func AccessList(ctx context.Context, q Queryer, projectID uuid.UUID, filter string, offset, limit int) ([]AccessEntry, int, error) {
	es := []AccessEntry{}
	if err := q.SelectContext(ctx, &es, `SELECT e.id, e.name, e.is_group, e.level, e.created_at`+accessEntries+`
		ORDER BY e.name_key, e.is_group OFFSET $3 LIMIT $4`, projectID, filter, offset, limit); err != nil {
		return nil, 0, mapErr(err)
	}
	var total int
	err := q.GetContext(ctx, &total, `SELECT count(*)`+accessEntries, projectID, filter)
	return es, total, mapErr(err)
}
