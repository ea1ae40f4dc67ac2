package db

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

// Group is a row of user_groups: a built-in group (ALL_USERS, ROLE_*), whose members
// follow users.authorities (ROLE_ADMIN: users.admin), or a user group, whose members are
// in group_members.
type Group struct {
	ID        uuid.UUID `db:"id"`
	Name      string    `db:"name"`
	NameKey   string    `db:"name_key"`
	Builtin   bool      `db:"builtin"`
	CreatedAt time.Time `db:"created_at"`
}

const groupColumns = `id, name, name_key, builtin, created_at`

// userGroupNames is the names of the user groups (not built in) of the user u, in name
// order: selectUser reads them beside the user's built-in authorities.
const userGroupNames = `ARRAY(SELECT g.name FROM group_members m JOIN user_groups g ON g.id = m.group_id
	WHERE m.user_id = u.id ORDER BY g.name_key) AS groups`

// inGroup holds when the user u is a member of the group g. (In accessLevelJoin, u and
// g are the subquery's own, not the project owner of selectProject.)
const inGroup = `((g.builtin AND (g.name = 'ALL_USERS' OR (g.name = '` + roleAdmin + `' AND u.admin) OR g.name = ANY (u.authorities)))
	OR EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = g.id AND m.user_id = u.id))`

// accessLevelJoin joins, as a.level, the access level of user $1 on project p: the
// highest of its own entry and those of its groups (NULL: none).
const accessLevelJoin = ` LEFT JOIN LATERAL (SELECT max(x.level) AS level FROM (
		SELECT pa.level FROM project_access pa WHERE pa.project_id = p.id AND pa.user_id = $1
		UNION ALL
		SELECT ga.level FROM project_group_access ga JOIN user_groups g ON g.id = ga.group_id
		JOIN users u ON u.id = $1
		WHERE ga.project_id = p.id AND ` + inGroup + `
	) x) a ON true`

// InsertGroup stores a new group; ErrDuplicate when the name is taken in any case.
func InsertGroup(ctx context.Context, q Queryer, g *Group) error {
	_, err := q.ExecContext(ctx, `INSERT INTO user_groups (`+groupColumns+`) VALUES ($1,$2,$3,$4,$5)`,
		g.ID, g.Name, g.NameKey, g.Builtin, g.CreatedAt)
	return mapErr(err)
}

// GroupByKey loads a group by folded name.
func GroupByKey(ctx context.Context, q Queryer, key string) (*Group, error) {
	var g Group
	if err := q.GetContext(ctx, &g, `SELECT `+groupColumns+` FROM user_groups WHERE name_key = $1`, key); err != nil {
		return nil, mapErr(err)
	}
	return &g, nil
}

// GroupLock is how strongly LockGroup locks a group.
type GroupLock string

const (
	// LockToChange: its members change. Changes of one group take turns, while users
	// changed meanwhile may still join it (their new rows only share-lock its key).
	LockToChange GroupLock = "FOR NO KEY UPDATE"
	// LockToDelete: it goes.
	LockToDelete GroupLock = "FOR UPDATE"
)

// LockGroup loads a group by folded name and locks it until the transaction ends.
func LockGroup(ctx context.Context, q Queryer, key string, lock GroupLock) (*Group, error) {
	var g Group
	if err := q.GetContext(ctx, &g, `SELECT `+groupColumns+` FROM user_groups WHERE name_key = $1 `+string(lock), key); err != nil {
		return nil, mapErr(err)
	}
	return &g, nil
}

// GroupsByKeys loads the groups of the given folded names (those that exist).
func GroupsByKeys(ctx context.Context, q Queryer, keys []string) ([]Group, error) {
	gs := []Group{}
	err := q.SelectContext(ctx, &gs, `SELECT `+groupColumns+` FROM user_groups WHERE name_key = ANY ($1) ORDER BY name_key`,
		pq.StringArray(keys))
	return gs, mapErr(err)
}

// ListGroups returns a page of group names in folded-name order, those whose folded name
// contains filter (with caseSensitive: whose name as spelled does), and how many match.
func ListGroups(ctx context.Context, q Queryer, filter string, caseSensitive bool, offset, limit int) ([]string, int, error) {
	col := "name_key"
	if caseSensitive {
		col = "name"
	}
	where := ` WHERE $1 = '' OR strpos(` + col + `, $1) > 0`
	names := []string{}
	if err := q.SelectContext(ctx, &names, `SELECT name FROM user_groups`+where+` ORDER BY name_key OFFSET $2 LIMIT $3`,
		filter, offset, limit); err != nil {
		return nil, 0, mapErr(err)
	}
	var total int
	err := q.GetContext(ctx, &total, `SELECT count(*) FROM user_groups`+where, filter)
	return names, total, mapErr(err)
}

// ListGroupMembers returns a page of g's members whose folded name contains filter, in
// name order, and how many match.
func ListGroupMembers(ctx context.Context, q Queryer, groupID uuid.UUID, filter string, offset, limit int) ([]User, int, error) {
	where := ` JOIN user_groups g ON g.id = $1 WHERE ` + inGroup + ` AND ($2 = '' OR strpos(u.username_key, $2) > 0)`
	us := []User{}
	if err := selectAll(ctx, q, &us, selectUserPage(`SELECT u.* FROM users u`+where+` ORDER BY u.username_key OFFSET $3 LIMIT $4`, ""),
		groupID, filter, offset, limit); err != nil {
		return nil, 0, err
	}
	var total int
	err := get(ctx, q, &total, `SELECT count(*) FROM users u`+where, groupID, filter)
	return us, total, mapErr(err)
}

// GroupMemberIDs lists the members of a user group (not built in).
func GroupMemberIDs(ctx context.Context, q Queryer, groupID uuid.UUID) ([]uuid.UUID, error) {
	ids := []uuid.UUID{}
	err := q.SelectContext(ctx, &ids, `SELECT user_id FROM group_members WHERE group_id = $1`, groupID)
	return ids, mapErr(err)
}

// UserGroupIDs lists the user groups (not built in) user is a member of.
func UserGroupIDs(ctx context.Context, q Queryer, userID uuid.UUID) ([]uuid.UUID, error) {
	ids := []uuid.UUID{}
	err := q.SelectContext(ctx, &ids, `SELECT group_id FROM group_members WHERE user_id = $1`, userID)
	return ids, mapErr(err)
}

// AddGroupMember puts a user in a user group (nothing if already there); ErrNotFound
// when the group or the user is gone (deleted by a transaction that committed first).
func AddGroupMember(ctx context.Context, q Queryer, groupID, userID uuid.UUID) error {
	_, err := q.ExecContext(ctx, `INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, groupID, userID)
	var pe *pq.Error
	if errors.As(err, &pe) && pe.Code == "23503" { // foreign_key_violation
		return ErrNotFound
	}
	return mapErr(err)
}

// RemoveGroupMember takes a user out of a user group.
func RemoveGroupMember(ctx context.Context, q Queryer, groupID, userID uuid.UUID) error {
	_, err := q.ExecContext(ctx, `DELETE FROM group_members WHERE group_id = $1 AND user_id = $2`, groupID, userID)
	return mapErr(err)
}

// DeleteGroup removes a user group with its memberships and access entries (foreign
// keys), and returns the ids of its members as they were.
func DeleteGroup(ctx context.Context, q Queryer, id uuid.UUID) ([]uuid.UUID, error) {
	members, err := GroupMemberIDs(ctx, q, id)
	if err != nil {
		return nil, err
	}
	res, err := q.ExecContext(ctx, `DELETE FROM user_groups WHERE id = $1 AND NOT builtin`, id)
	if err != nil {
		return nil, mapErr(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, ErrNotFound
	}
	return members, nil
}

// UsersForShare loads the users of the given folded names (those that exist) and keeps
// them from being deleted until the transaction ends.
func UsersForShare(ctx context.Context, q Queryer, keys []string) ([]User, error) {
	us := []User{}
	// locked in id order, as DeleteUsers locks users: two transactions never wait in a cycle
	err := q.SelectContext(ctx, &us, `SELECT `+userColumns+` FROM users u WHERE u.username_key = ANY ($1)
		ORDER BY u.id FOR SHARE`, pq.StringArray(keys))
	return us, mapErr(err)
}

// UsersByIDs loads the users of the given ids (those that exist).
func UsersByIDs(ctx context.Context, q Queryer, ids []uuid.UUID) ([]User, error) {
	strs := make([]string, len(ids))
	for i, id := range ids {
		strs[i] = id.String()
	}
	us := []User{}
	err := q.SelectContext(ctx, &us, `SELECT `+userColumns+` FROM users u WHERE u.id = ANY ($1::uuid[])`, pq.StringArray(strs))
	return us, mapErr(err)
}
