package db

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

// APIKey is a row of api_keys. Services nil means every service.
type APIKey struct {
	ID          uuid.UUID      `db:"id"`
	UserID      uuid.UUID      `db:"user_id"`
	Lookup      string         `db:"lookup"`
	SecretHash  []byte         `db:"secret_hash"`
	Name        string         `db:"name"`
	Permissions pq.StringArray `db:"permissions"`
	Services    pq.StringArray `db:"services"`
	ValidFrom   time.Time      `db:"valid_from"`
	ValidTo     time.Time      `db:"valid_to"`
	CreatedAt   time.Time      `db:"created_at"`
	LastUsedAt  *time.Time     `db:"last_used_at"`
}

const apiKeyColumns = `id, user_id, lookup, secret_hash, name, permissions, services,
	valid_from, valid_to, created_at, last_used_at`

// InsertAPIKey stores a new key.
func InsertAPIKey(ctx context.Context, q Queryer, k *APIKey) error {
	_, err := q.ExecContext(ctx, `INSERT INTO api_keys (`+apiKeyColumns+`)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`,
		k.ID, k.UserID, k.Lookup, k.SecretHash, k.Name, k.Permissions, k.Services,
		k.ValidFrom, k.ValidTo, k.CreatedAt, k.LastUsedAt)
	return mapErr(err)
}

// APIKeyWithOwner is a key and its owner, loaded in one trip per authenticated request.
type APIKeyWithOwner struct {
	Key   APIKey
	Owner User
}

// APIKeyByLookup loads a key and its owner by the key's public lookup id.
func APIKeyByLookup(ctx context.Context, q Queryer, lookup string) (*APIKeyWithOwner, error) {
	var r struct {
		User
		Key APIKey `db:"key"`
	}
	if err := get(ctx, q, &r, selectKeyOwner, lookup); err != nil {
		return nil, err
	}
	return &APIKeyWithOwner{Key: r.Key, Owner: r.User}, nil
}

// selectKeyOwner reads the key's columns as "key.<column>" beside the owner's.
var selectKeyOwner = strings.Replace(selectUser, "SELECT ", "SELECT "+keyColumns("k", "key")+", ", 1) +
	` JOIN api_keys k ON k.user_id = u.id WHERE k.lookup = $1`

func keyColumns(table, prefix string) string {
	cols := strings.Split(apiKeyColumns, ",")
	for i, c := range cols {
		c = strings.TrimSpace(c)
		cols[i] = table + "." + c + ` AS "` + prefix + "." + c + `"`
	}
	return strings.Join(cols, ", ")
}

// APIKeysOf lists a user's keys, newest first, and how many there are.
func APIKeysOf(ctx context.Context, q Queryer, userID uuid.UUID, offset, limit int) ([]APIKey, int, error) {
	var ks []APIKey
	if err := q.SelectContext(ctx, &ks, `SELECT `+apiKeyColumns+` FROM api_keys WHERE user_id = $1
		ORDER BY created_at DESC, id OFFSET $2 LIMIT $3`, userID, offset, limit); err != nil {
		return nil, 0, mapErr(err)
	}
	var total int
	err := q.GetContext(ctx, &total, `SELECT count(*) FROM api_keys WHERE user_id = $1`, userID)
	return ks, total, mapErr(err)
}

// DeleteAPIKey removes a key of the given owner; ErrNotFound if it has no such key.
func DeleteAPIKey(ctx context.Context, q Queryer, userID, id uuid.UUID) error {
	res, err := q.ExecContext(ctx, `DELETE FROM api_keys WHERE id = $1 AND user_id = $2`, id, userID)
	if err != nil {
		return mapErr(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// TouchAPIKeys records the last use of each key, in one statement (never moving a
// last use back).
func TouchAPIKeys(ctx context.Context, q Queryer, at map[uuid.UUID]time.Time) error {
	if len(at) == 0 {
		return nil
	}
	ids, times := make([]string, 0, len(at)), make([]string, 0, len(at))
	for id, t := range at {
		ids, times = append(ids, id.String()), append(times, t.UTC().Format(time.RFC3339Nano))
	}
	_, err := q.ExecContext(ctx, `UPDATE api_keys k SET last_used_at = u.at
		FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, at)
		WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)`, pq.Array(ids), pq.Array(times))
	return mapErr(err)
}
